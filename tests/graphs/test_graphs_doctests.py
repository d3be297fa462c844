"""The ``Example:`` sections of the reference graphs and the CLI run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "graphs.customer_service.graph",
    "graphs.customer_service.parse",
    "graphs.customer_service.planners",
    "graphs.order_processing.graph",
    "graphs.order_processing.inventory",
    "graphs.report_generation.graph",
    "graphs.diagnosis.graph",
    "graphs.diagnosis.records",
    "agentpatterns.cli",
)


@pytest.mark.usefixtures("tau2")
@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
