"""The runnable ``Example:`` blocks of the eval harness modules."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "evals.accounting",
    "evals.configs",
    "evals.faults",
    "evals.metrics",
    "evals.plots",
    "evals.report",
    "evals.runner",
    "evals.schema",
    "evals.scenarios.suites",
    "evals.tau2",
]


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name: str) -> None:
    if name == "evals.tau2":
        from agentpatterns.errors import ConfigurationError
        from tools.retail import data_dir

        try:
            data_dir()
        except ConfigurationError as exc:
            pytest.skip(f"τ² retail data absent: {exc}")
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
