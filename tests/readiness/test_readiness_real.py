"""check_readiness on graphs built from the real orchestration and resilience packages, + CLI."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
import typer
from langchain_core.messages import AIMessage, AnyMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from typer.testing import CliRunner

from agentpatterns.orchestration import ToolPolicy, ToolRegistry, add_tool_orchestration
from agentpatterns.readiness import check_readiness
from agentpatterns.resilience import (
    CircuitBreaker,
    Degraded,
    Fallback,
    Retry,
    escalate_to_human,
)
from agentpatterns.selector_cli import register


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    escalation_reason: str
    human_decision: dict[str, Any]
    status: str


def lookup(order_id: str) -> str:
    """Look an order up."""
    return order_id


def refund(order_id: str) -> str:
    """Refund an order."""
    return order_id


def _registry(compensate: bool) -> ToolRegistry:
    reg = ToolRegistry()
    reg.register(
        lookup,
        policy=ToolPolicy(
            retry=Retry(),
            breaker=CircuitBreaker("db", failure_threshold=3, reset_timeout=5.0),
            fallback=Fallback(Degraded("unknown")),
        ),
    )
    reg.register(
        refund,
        policy=ToolPolicy(
            retry=Retry(),
            side_effect=True,
            compensate=(lambda args, result: None) if compensate else None,
        ),
    )
    return reg


def _builder(compensate: bool = True) -> StateGraph[Any]:
    b = StateGraph(State)
    b.add_node("plan", lambda s: {"messages": [AIMessage("done")]})
    b.add_node("ask_human", escalate_to_human())
    b.add_edge(START, "plan")
    add_tool_orchestration(b, _registry(compensate), after="plan", then="plan")
    return b


@pytest.fixture
def saver(tmp_path: Path) -> Any:
    conn = sqlite3.connect(tmp_path / "cp.db", check_same_thread=False)
    yield SqliteSaver(conn)
    conn.close()


def test_tool_graph_contracts_retry_rollback_degrade_human(saver: Any) -> None:
    report = check_readiness(_builder().compile(checkpointer=saver))
    ok = {c.name for c in report if c.passed}
    assert {
        "responsibility_boundaries",
        "tool_contracts",
        "state_strategy",
        "retry_backoff",
        "rollback",
        "degradation",
        "human_path",
    } <= ok, [(c.name, c.reason) for c in report.failed()]
    assert "2 tools validated" in report["tool_contracts"].reason
    # not instrumented (observability not applied): logging checks fail with a hint
    assert not report["io_logging"].passed and report["io_logging"].hint


def test_uncompensated_side_effect_fails_rollback(saver: Any) -> None:
    res = check_readiness(_builder(compensate=False).compile(checkpointer=saver))["rollback"]
    assert not res.passed and "refund" in res.reason


GOOD_MODULE = """
import sqlite3
from agentpatterns.layered import Executor, build_layered_graph
from langgraph.checkpoint.sqlite import SqliteSaver

graph = build_layered_graph(
    decompose=lambda s: [], executors=[Executor("w", lambda s, c: 1)], on_failure="retry"
).compile(checkpointer=SqliteSaver(sqlite3.connect(":memory:", check_same_thread=False)))

def make_graph():
    return graph.builder
"""


def test_cli_check_exit_codes_and_recommend(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "ap_cli_target.py").write_text(GOOD_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    app = register(typer.Typer())
    runner = CliRunner()
    args = ["check", "ap_cli_target:graph", "-r", "state_strategy", "-r", "retry_backoff"]
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0, ok.output
    assert "READY" in ok.output
    bad = runner.invoke(app, ["check", "ap_cli_target:graph", "--json"])
    assert bad.exit_code == 1 and '"passed": false' in bad.output
    factory = runner.invoke(app, ["check", "ap_cli_target:make_graph", "-r", "retry_backoff"])
    assert factory.exit_code == 0, factory.output
    assert runner.invoke(app, ["check", "no_colon"]).exit_code != 0
    rec = runner.invoke(app, ["recommend", "--tools", "7", "--predictable", "--json"])
    assert rec.exit_code == 0 and '"state_machine"' in rec.output and '"layered"' in rec.output
    table = runner.invoke(app, ["recommend", "--tools", "1"])
    assert table.exit_code == 0 and "single_agent" in table.output
    sys.modules.pop("ap_cli_target", None)
