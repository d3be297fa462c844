"""check_readiness: each checklist item passes and fails for the right reason."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import RetryPolicy

from agentpatterns.layered import Executor, build_layered_graph
from agentpatterns.readiness import CHECKS, MARKER_KEYS, check_readiness
from agentpatterns.selector import WorkloadProfile, recommend


class S(TypedDict, total=False):
    x: int


def _fn(**marker: Any) -> Any:
    def node(state: S) -> dict[str, Any]:
        return {}

    node.__agentpatterns__ = marker  # type: ignore[attr-defined]
    return node


def _graph(
    nodes: dict[str, dict[str, Any]],
    *,
    builder_marker: dict[str, Any] | None = None,
    checkpointer: Any = None,
    retry: RetryPolicy | None = None,
    **compile_kw: Any,
) -> Any:
    b = StateGraph(S)
    prev = START
    for name, marker in nodes.items():
        b.add_node(name, _fn(**marker), retry_policy=retry)
        b.add_edge(prev, name)
        prev = name
    b.add_edge(prev, END)
    if builder_marker:
        b.__agentpatterns__ = builder_marker  # type: ignore[attr-defined]
    return b.compile(checkpointer=checkpointer, **compile_kw)


@pytest.fixture
def durable(tmp_path: Path) -> Any:
    conn = sqlite3.connect(tmp_path / "cp.db", check_same_thread=False)
    yield SqliteSaver(conn)
    conn.close()


FULL = {
    "plan": {"fsm_state": "plan", "instrumented": True},
    "execute": {
        "fsm_state": "execute",
        "tool_node": "executor",
        "instrumented": True,
        "retry": object(),
        "fallback": object(),
        "compensate": object(),
    },
    "ask_human": {"escalation": True, "instrumented": True},
}


def test_marker_keys_documented_in_one_place() -> None:
    for key in (
        "fsm_state",
        "tool_node",
        "registry",
        "instrumented",
        "escalation",
        "retry",
        "breaker",
        "fallback",
        "ledger",
        "rollback",
        "compensate",
        "audit",
    ):
        assert key in MARKER_KEYS


def test_bare_graph_fails_the_checklist() -> None:
    report = check_readiness(_graph({"only": {}}))
    assert not report.passed
    failed = {c.name for c in report.failed()}
    assert failed == set(CHECKS) - {"tool_contracts", "tool_call_logging"}
    assert report["tool_contracts"].reason.startswith("not applicable")
    assert all(c.hint for c in report.failed())


def test_fully_marked_graph_passes(durable: Any) -> None:
    g = _graph(FULL, builder_marker={"metrics": True, "alerts": True}, checkpointer=durable)
    report = check_readiness(g)
    assert report.passed, [(c.name, c.reason) for c in report.failed()]
    assert "all 3 nodes instrumented" in report["io_logging"].reason
    assert "SqliteSaver" in report["state_strategy"].reason
    d = report.to_dict()
    assert d["passed"] is True and len(d["checks"]) == len(CHECKS)


@pytest.mark.parametrize(
    ("check", "drop", "reason"),
    [
        (
            "responsibility_boundaries",
            [("plan", "fsm_state"), ("execute", "fsm_state"), ("execute", "tool_node")],
            "no node carries",
        ),
        ("io_logging", [("plan", "instrumented")], "not instrumented: plan"),
        ("retry_backoff", [("execute", "retry")], "no retry"),
        ("human_path", [("ask_human", "escalation")], "no escalation"),
        ("degradation", [("execute", "fallback")], "no fallback"),
    ],
)
def test_each_marker_check_fails_when_its_marker_is_missing(
    durable: Any, check: str, drop: list[tuple[str, str]], reason: str
) -> None:
    nodes = {name: dict(marker) for name, marker in FULL.items()}
    for node, key in drop:
        del nodes[node][key]
    g = _graph(nodes, builder_marker={"metrics": True, "alerts": True}, checkpointer=durable)
    report = check_readiness(g)
    assert not report[check].passed
    assert reason in report[check].reason
    assert not report.passed
    assert [c.name for c in report.failed()] == [check]


def test_tool_call_logging_follows_tool_node_instrumentation(durable: Any) -> None:
    nodes = {name: dict(marker) for name, marker in FULL.items()}
    del nodes["execute"]["instrumented"]
    report = check_readiness(_graph(nodes, checkpointer=durable))
    assert not report["tool_call_logging"].passed
    assert "execute" in report["tool_call_logging"].reason
    tool_spans = _graph(nodes, builder_marker={"tool_logging": True}, checkpointer=durable)
    assert check_readiness(tool_spans)["tool_call_logging"].passed


def test_state_strategy_needs_durable_saver(durable: Any) -> None:
    assert not check_readiness(_graph(FULL))["state_strategy"].passed
    mem = check_readiness(_graph(FULL, checkpointer=InMemorySaver()))["state_strategy"]
    assert not mem.passed and "memory only" in mem.reason
    assert check_readiness(_graph(FULL, checkpointer=durable))["state_strategy"].passed


def test_monitoring_and_alerts_from_markers_or_listeners() -> None:
    from agentpatterns.alerts import Alerter, CallableSink

    g = _graph(FULL)
    assert not check_readiness(g)["monitoring"].passed
    assert not check_readiness(g)["alerts"].passed
    alerter = Alerter([CallableSink(lambda alert: None)]).attach()
    try:
        res = check_readiness(g)["alerts"]
        assert res.passed and "Alerter" in res.reason
    finally:
        alerter.close()
    assert check_readiness(_graph(FULL, builder_marker={"metrics": True}))["monitoring"].passed


def test_retry_policy_needs_backoff() -> None:
    nodes = {"a": {"fsm_state": "a"}}
    assert check_readiness(_graph(nodes, retry=RetryPolicy()))["retry_backoff"].passed
    flat = check_readiness(_graph(nodes, retry=RetryPolicy(backoff_factor=1.0)))["retry_backoff"]
    assert not flat.passed and "without exponential backoff" in flat.reason


def test_interrupt_counts_as_human_path() -> None:
    g = _graph({"a": {}}, checkpointer=InMemorySaver(), interrupt_before=["a"])
    res = check_readiness(g)["human_path"]
    assert res.passed and "interrupts" in res.reason


def test_rollback_needs_checkpoints(durable: Any) -> None:
    assert not check_readiness(_graph({"a": {"compensate": 1}}))["rollback"].passed
    assert check_readiness(_graph({"a": {"compensate": 1}}, checkpointer=durable))[
        "rollback"
    ].passed
    assert check_readiness(_graph({"a": {}}, checkpointer=durable))["rollback"].passed


def test_prebuilt_toolnode_breaks_contracts() -> None:
    from langchain_core.tools import tool
    from langgraph.prebuilt import ToolNode

    @tool
    def ping(x: int) -> int:
        """Ping."""
        return x

    b = StateGraph(S)
    b.add_node("tools", ToolNode([ping]))
    b.add_edge(START, "tools")
    res = check_readiness(b.compile())
    assert not res["tool_contracts"].passed and "ToolNode" in res["tool_contracts"].reason
    assert not res["tool_call_logging"].passed


def test_require_subsets_and_recommendation(durable: Any) -> None:
    g = _graph(
        {"a": {"fsm_state": "a", "instrumented": True}}, checkpointer=durable, retry=RetryPolicy()
    )
    assert check_readiness(g, require=None).passed
    assert check_readiness(g, require=("state_strategy", "io_logging")).passed
    assert not check_readiness(g, require="human_path").passed
    simple = recommend(WorkloadProfile(tools=1))
    assert check_readiness(g, require=simple).passed
    risky = recommend(WorkloadProfile(tools=3, high_risk=True, high_availability=True))
    report = check_readiness(g, require=risky)
    assert {c.name for c in report.failed()} == {
        "monitoring",
        "alerts",
        "human_path",
        "degradation",
    }
    with pytest.raises(ValueError, match="unknown checks"):
        check_readiness(g, require=("nope",))


def test_layered_graph_roles_policies_and_nested_markers() -> None:
    def ask(sub: Any, ctx: Any) -> None:
        return None

    ask.__agentpatterns__ = {"escalation": True}  # type: ignore[attr-defined]
    inner = build_layered_graph(
        decompose=lambda s: [], executors=[Executor("leaf", ask)], name="in"
    )
    g = build_layered_graph(
        decompose=lambda s: [],
        executors=[Executor("sub", inner), Executor("w", lambda s, c: 1)],
        on_failure="retry",
        name="out",
    ).compile()
    report = check_readiness(g)
    assert report["responsibility_boundaries"].passed
    assert report["retry_backoff"].passed and "out" in report["retry_backoff"].reason
    assert report["degradation"].passed
    assert report["human_path"].passed  # found on a nested executor's callable
    fail_all = build_layered_graph(
        decompose=lambda s: [], executors=[Executor("w", lambda s, c: 1)], on_failure="fail_all"
    ).compile()
    assert not check_readiness(fail_all)["degradation"].passed


def test_render_table() -> None:
    from rich.console import Console

    console = Console(record=True, width=220)
    console.print(check_readiness(_graph({"a": {}}), name="demo"))
    text = console.export_text()
    assert "NOT READY" in text and "state_strategy" in text and "FAIL" in text


def test_error_handler_counts_as_degradation() -> None:
    b = StateGraph(S)
    b.add_node("work", lambda s: {"x": 1}, error_handler=lambda s: {"x": 0})
    b.add_edge(START, "work")
    res = check_readiness(b.compile())["degradation"]
    assert res.passed and "error handler on work" in res.reason
