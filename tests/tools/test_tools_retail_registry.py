"""register_retail_tools against the orchestration registry and executor."""

from __future__ import annotations

from typing import Any

import pytest

from agentpatterns.errors import ConfigurationError
from tools.retail import READ_TOOLS, WRITE_TOOLS, register_retail_tools

orchestration = pytest.importorskip("agentpatterns.orchestration")


def test_policies_and_grants(store: Any) -> None:
    registry = orchestration.ToolRegistry()
    names = register_retail_tools(registry, store)
    assert len(names) == 16 and set(names) == set(READ_TOOLS) | set(WRITE_TOOLS)
    for name in WRITE_TOOLS:
        policy = registry.policy(name)
        assert policy.side_effect and policy.compensate is not None
        assert policy.idempotency_key is None
    for name in READ_TOOLS:
        assert not registry.policy(name).side_effect
    assert {t.name for t in registry.tools_for("reader")} == set(READ_TOOLS)
    assert {t.name for t in registry.tools_for("default")} == set(READ_TOOLS)
    assert {t.name for t in registry.tools_for("writer")} == set(names)
    assert registry.tools_for("stranger") == []


def test_policy_overrides(store: Any) -> None:
    registry = orchestration.ToolRegistry()
    custom = orchestration.ToolPolicy(timeout=1.5)
    register_retail_tools(registry, store, policy_overrides={"calculate": custom})
    assert registry.policy("calculate") is custom
    with pytest.raises(ConfigurationError, match="unknown retail tools"):
        register_retail_tools(
            orchestration.ToolRegistry(), store, policy_overrides={"drop_tables": custom}
        )


def test_executor_runs_grants_and_error_results(store: Any, find: Any) -> None:
    registry = orchestration.ToolRegistry()
    register_retail_tools(registry, store)
    order = find.paid_by("pending", "paypal")
    plan = [
        {
            "name": "cancel_pending_order",
            "id": "c1",
            "args": {"order_id": order["order_id"], "reason": "no longer needed"},
        },
        {"name": "get_order_details", "id": "r1", "args": {"order_id": "#W0000000"}},
        {"name": "get_order_details", "id": "r2", "args": {"order_id": order["order_id"]}},
    ]
    config = {"configurable": {"thread_id": "t-1"}}
    as_default = orchestration.tool_executor(registry, agent="default")({"plan": plan}, config)
    outcomes = as_default["tool_outcomes"]
    assert "ToolPermissionError" in str(outcomes[0]) and store.write_log() == []
    assert "Order not found" in str(outcomes[1])  # a domain error is an error result
    assert order["order_id"] in str(outcomes[2])

    as_writer = orchestration.tool_executor(registry, agent="writer")({"plan": plan}, config)
    assert "cancelled" in str(as_writer["tool_outcomes"][0])
    log = store.write_log()
    assert len(log) == 1 and log[0]["effect_key"] and "c1" in log[0]["effect_key"]
    assert store.get_order(order["order_id"])["status"] == "cancelled"
