"""Instrumenting a graph keeps the pattern markers readiness reads (regression)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

from agentpatterns.observability import Observability
from agentpatterns.orchestration import ToolPolicy, ToolRegistry, add_tool_orchestration
from agentpatterns.readiness import check_readiness, collect_facts
from agentpatterns.resilience import CircuitBreaker, Retry


class S(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]


def lookup(order_id: str) -> str:
    """Look an order up."""
    return f"order {order_id}"


def agent(state: S) -> dict[str, Any]:
    if len(state.get("messages", [])) > 1:
        return {"messages": [AIMessage("done")]}
    call = {"name": "lookup", "args": {"order_id": "W1"}, "id": "c1"}
    return {"messages": [AIMessage("", tool_calls=[call])]}


def _builder(*, fused: bool) -> tuple[StateGraph[Any], ToolRegistry]:
    registry = ToolRegistry()
    registry.register(lookup, policy=ToolPolicy(retry=Retry(), breaker=CircuitBreaker("lookup")))
    b = StateGraph(S)
    b.add_node("agent", agent)
    b.add_edge(START, "agent")
    add_tool_orchestration(b, registry, after="agent", fused=fused)
    return b, registry


@pytest.fixture
def saver(tmp_path: Path) -> Any:
    conn = sqlite3.connect(tmp_path / "cp.db", check_same_thread=False)
    yield SqliteSaver(conn)
    conn.close()


CHECKS = ("responsibility_boundaries", "retry_backoff", "degradation")


@pytest.mark.parametrize("fused", [False, True])
def test_instrumented_orchestration_keeps_tool_markers(saver: Any, fused: bool) -> None:
    plain, _ = _builder(fused=fused)
    before = check_readiness(plain.compile(checkpointer=saver))
    assert all(before[name].passed for name in CHECKS), [before[n].reason for n in CHECKS]

    b, registry = _builder(fused=fused)
    obs = Observability(TracerProvider(), MeterProvider())
    try:
        graph = obs.instrument(b).compile(checkpointer=saver)
        assert collect_facts(graph).registries == [registry]
        after = check_readiness(graph)
        for name in CHECKS:
            assert after[name].passed, after[name].reason
            assert after[name].reason == before[name].reason
        node = graph.builder.nodes["tools" if fused else "tools_execute"].runnable
        marker = node.__agentpatterns__
        assert marker["instrumented"] and marker["registry"] is registry
        assert marker["tool_node"]
        out = graph.invoke({"messages": []}, {"configurable": {"thread_id": "t"}})
        assert out["messages"][-1].content == "done"
    finally:
        obs.close()


def test_instrumenting_twice_keeps_markers_once(saver: Any) -> None:
    b, registry = _builder(fused=False)
    obs = Observability(TracerProvider(), MeterProvider())
    try:
        obs.instrument(b)
        first = b.nodes["tools_execute"].runnable
        obs.instrument(b)
        assert b.nodes["tools_execute"].runnable is first
        assert check_readiness(b.compile(checkpointer=saver))["retry_backoff"].passed
        assert collect_facts(b).registries == [registry]
    finally:
        obs.close()
