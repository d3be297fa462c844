"""Readiness sees the tool registries that layered executors call (marked on ``Executor.run``)."""

from __future__ import annotations

from typing import Any

import pytest

from agentpatterns.errors import ConfigurationError
from agentpatterns.layered import Executor, Subtask, build_layered_graph
from agentpatterns.orchestration import ToolPolicy, ToolRegistry
from agentpatterns.readiness import check_readiness, collect_facts
from agentpatterns.resilience import Retry


def _check(report: Any, name: str) -> Any:
    return next(c for c in report.checks if c.name == name)


def test_report_generation_tools_are_found_and_retried() -> None:
    try:
        from tools.retail.data import data_dir

        data_dir()
    except ConfigurationError as exc:
        pytest.skip(f"τ² retail data absent: {exc}")
    from graphs._common import resources_of
    from graphs.report_generation import SECTIONS, build

    graph = build().compile()
    registry = resources_of(graph).extra["registry"]  # type: ignore[union-attr]
    assert collect_facts(graph).registries == [registry]
    report = check_readiness(graph)
    retry = _check(report, "retry_backoff")
    assert retry.passed, retry.reason
    assert retry.reason == f"all {len(SECTIONS)} tools retried with backoff"
    contracts = _check(report, "tool_contracts")
    assert contracts.passed and contracts.reason.startswith(f"{len(SECTIONS)} tools validated")


def lookup(order_id: str) -> str:
    """Look an order up."""
    return order_id


def _layered(policy: ToolPolicy) -> Any:
    registry = ToolRegistry()
    registry.register(lookup, policy=policy)

    def run(sub: Subtask, ctx: Any) -> Any:
        return registry.spec("lookup").tool.invoke(sub.inputs)

    run.__agentpatterns__ = {"tool_node": "executor", "registry": registry}  # type: ignore[attr-defined]
    graph = build_layered_graph(decompose=lambda s: [], executors=[Executor("find", run)])
    return graph.compile(), registry


def test_executor_registry_without_retry_fails_retry_backoff() -> None:
    graph, registry = _layered(ToolPolicy())
    assert collect_facts(graph).registries == [registry]
    retry = _check(check_readiness(graph), "retry_backoff")
    assert not retry.passed and retry.reason == "tools without retry: lookup"


def test_executor_registry_with_retry_passes_retry_backoff() -> None:
    graph, _ = _layered(ToolPolicy(retry=Retry()))
    retry = _check(check_readiness(graph), "retry_backoff")
    assert retry.passed and retry.reason == "all 1 tools retried with backoff"
