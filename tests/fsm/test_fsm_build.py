"""Build-time rules of StateMachine: each bad machine is rejected naming the culprit."""

from __future__ import annotations

import re
from typing import Any, TypedDict

import pytest
from langgraph.graph import StateGraph
from langgraph.types import RetryPolicy

from agentpatterns.errors import MachineDefinitionError
from agentpatterns.fsm import AgentState, StateMachine, describe, key, when


class S(AgentState, total=False):
    x: int


def noop(state: Any) -> dict[str, Any]:
    return {}


def machine(**kw: Any) -> StateMachine:
    return StateMachine(S, name="m", **kw)


def test_build_returns_uncompiled_stategraph_with_terminals() -> None:
    g = machine().state("a", noop).transition("a", "done").build()
    assert isinstance(g, StateGraph)
    assert {"a", "done", "failed", "timed_out", "escalated"} <= set(g.nodes)
    out = g.compile().invoke({"x": 1})
    assert out["status"] == "done" and out["reason"] == "default"


@pytest.mark.parametrize(
    "name", ["done", "failed", "timed_out", "escalated", "start", "end", "__start__", "__end__"]
)
def test_reserved_names_rejected(name: str) -> None:
    with pytest.raises(MachineDefinitionError, match=repr(name)):
        machine().state(name, noop)


@pytest.mark.parametrize(
    ("build", "culprit"),
    [
        (lambda m: m.state("a", noop).transition("a", "nope"), "'nope'"),
        (lambda m: m.state("a", noop).transition("ghost", "done"), "'ghost'"),
        (
            lambda m: (
                m.state("a", noop).transition("a", "done").state("b", noop).transition("b", "done")
            ),
            "unreachable.*'b'",
        ),
        (
            lambda m: m.state("a", noop).state("b", noop).transition("a", "b").transition("b", "a"),
            "no declared path to a terminal.*'a'",
        ),
        (
            lambda m: m.state("a", noop).transition("a", "done").transition("a", "done"),
            "duplicate transition 'a' -> 'done'",
        ),
        (
            lambda m: (
                m.state("a", noop)
                .state("b", noop)
                .transition("a", "b")
                .transition("a", "done")
                .transition("b", "done")
            ),
            "'a' has two unconditional transitions",
        ),
        (lambda m: m.state("a", noop, on_error="oops").transition("a", "done"), "'oops'"),
        (lambda m: m, "declares no states"),
    ],
)
def test_bad_machines_name_the_culprit(build: Any, culprit: str) -> None:
    m = build(machine())
    with pytest.raises(MachineDefinitionError, match=culprit):
        m.build()
    with pytest.raises(ValueError):  # build errors are ValueErrors too
        m.build()


def test_declaration_errors_name_the_state() -> None:
    m = machine().state("a", noop)
    with pytest.raises(MachineDefinitionError, match="'a' is declared twice"):
        m.state("a", noop)
    with pytest.raises(MachineDefinitionError, match="'b' is not callable"):
        m.state("b", 42)
    with pytest.raises(MachineDefinitionError, match="timeout of state 'c'"):
        m.state("c", noop, timeout=0)
    with pytest.raises(MachineDefinitionError, match="max_visits of state 'd'"):
        m.state("d", noop, max_visits=0)
    with pytest.raises(MachineDefinitionError, match="retry of state 'e'"):
        m.state("e", noop, retry="three times")
    with pytest.raises(MachineDefinitionError, match=re.escape("':' or '|'")):
        m.state("x:y", noop)
    with pytest.raises(MachineDefinitionError, match="'done' is terminal"):
        m.transition("done", "a").transition("a", "done").build()


def test_start_state_and_schema_checks() -> None:
    with pytest.raises(MachineDefinitionError, match="start state 'zz'"):
        machine(start="zz").state("a", noop).transition("a", "done").build()

    class Plain(TypedDict):
        x: int

    with pytest.raises(MachineDefinitionError, match="lacks machine keys"):
        StateMachine(Plain, name="p").state("a", noop).transition("a", "done").build()
    with pytest.raises(MachineDefinitionError, match="budget_mode"):
        machine(budget_mode="explode")


def test_explicit_start_is_entry() -> None:
    m = (
        machine(start="b")
        .state("a", noop)
        .state("b", noop)
        .transition("b", "a")
        .transition("a", "done")
    )
    out = m.build().compile().invoke({"x": 0})
    assert [t["to"] for t in out["transitions"]] == ["b", "a", "done"]


def test_retry_accepts_policy_or_adapter() -> None:
    class Adapter:
        def as_retry_policy(self) -> RetryPolicy:
            return RetryPolicy(max_attempts=2)

    m = machine().state("a", noop, retry=Adapter()).transition("a", "done")
    node = m.build().nodes["a"].runnable
    assert describe(m)["states"]["a"] == ["done", "failed", "timed_out"]
    assert node is not None


def test_conditions_compose_and_name() -> None:
    big = when(lambda s: s["x"] > 10, name="big")
    even = when(lambda s: s["x"] % 2 == 0, name="even")
    flag = key("flag")
    c = (big & ~even) | flag
    assert c.name == "((big & ~even) | flag)"
    assert c({"x": 11}) and not c({"x": 12}) and c({"x": 12, "flag": 1})
    assert (big | (lambda s: s["x"] < 0))({"x": -1})


def test_markers_and_destinations_for_drawing() -> None:
    g = (
        machine()
        .state("a", noop)
        .state("b", noop, timeout=1.0)
        .transition("a", "b", when="go")
        .transition("a", "done")
        .transition("b", "done")
        .build()
    )
    spec = g.nodes["a"]
    assert set(spec.ends or ()) == {"b", "done", "failed", "timed_out"}
    fn: Any = g.nodes["b"].runnable
    marker = getattr(getattr(fn, "func", None), "__agentpatterns__", None)
    assert marker is not None and marker["fsm_state"] == "b" and marker["timeout"] == 1.0
    drawn = g.compile().get_graph().draw_mermaid()
    assert "a -.-> b" in drawn or "a -. &nbsp;go&nbsp; .-> b" in drawn or "go" in drawn


def test_to_mermaid_offline() -> None:
    m = (
        machine()
        .state("plan", noop)
        .state("act", noop, on_error="plan", timeout=2)
        .transition("plan", "act")
        .transition("act", "done", when=key("ok"))
        .transition("act", "plan")
    )
    text = m.to_mermaid()
    assert text.startswith("stateDiagram-v2\n    [*] --> plan\n")
    assert "    act --> done : ok\n" in text
    assert "    act --> plan : on_error\n" in text
    assert "    act --> timed_out : timeout 2s\n" in text
    assert "    done --> [*]\n" in text
