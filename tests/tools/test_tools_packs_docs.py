"""Every tool-pack module's Example runs; every pack exposes tools() and policies."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path
from typing import Any

import pytest

MODULES = [
    "tools._sqlite",
    "tools.retail.data",
    "tools.retail.store",
    "tools.retail.reads",
    "tools.retail.writes",
    "tools.retail.toolkit",
    "tools.payments.gateway",
    "tools.payments.toolkit",
    "tools.notifications.outbox",
    "tools.notifications.toolkit",
    "tools.analytics.reports",
    "tools.analytics.toolkit",
]


@pytest.mark.parametrize("name", MODULES)
def test_module_examples_run(name: str, tau2_dir: Path) -> None:
    module = importlib.import_module(name)
    assert module.__doc__ and len(module.__doc__) > 80
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_side_effect_policies_carry_compensations(tau2_dir: Path) -> None:
    orchestration = pytest.importorskip("agentpatterns.orchestration")
    from tools import analytics, notifications, payments
    from tools.retail import RetailStore

    gateway, outbox = payments.PaymentGateway(), notifications.Outbox()
    packs: list[tuple[list[Any], dict[str, Any]]] = [
        (payments.tools(gateway), payments.policies(gateway)),
        (notifications.tools(outbox), notifications.policies(outbox)),
        (analytics.tools(RetailStore()), analytics.policies()),
    ]
    registry = orchestration.ToolRegistry()
    for tools, policies in packs:
        assert {t.name for t in tools} == set(policies)
        for tool in tools:
            policy = policies[tool.name]
            assert policy.side_effect == tool.metadata["side_effect"]
            registry.register(tool, policy=policy)
    assert registry.policy("charge_payment").compensate is not None
    assert registry.policy("send_email").compensate is not None
    assert registry.policy("refund_payment").compensate is None  # a refund cannot be undone
    assert registry.policy("top_customers").output_model is not None
    gateway.close()
    outbox.close()
