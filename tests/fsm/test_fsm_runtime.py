"""Run-time rules of StateMachine: routing, limits, timeouts, errors, log, size budget."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from langchain_core.runnables import RunnableLambda
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command, RetryPolicy, interrupt

from agentpatterns.events import Event, listen
from agentpatterns.fsm import AgentState, StateMachine, goto, key, when

FAST_RETRY = RetryPolicy(initial_interval=0.0, jitter=False, max_attempts=3, retry_on=Exception)


class S(AgentState, total=False):
    x: int
    ok: bool
    blob: str


def path(out: dict[str, Any]) -> list[str]:
    return [t["to"] for t in out["transitions"]]


def test_conditions_in_declaration_order_then_default() -> None:
    m = (
        StateMachine(S, name="m")
        .state("a", lambda s: {"x": s["x"] + 1})
        .state("b", lambda s: None)
        .transition("a", "escalated")  # the default, declared first, evaluated last
        .transition("a", "b", when=when(lambda s: s["x"] > 1, name="x>1"))
        .transition("a", "done", when=when(lambda s: s["x"] > 0, name="x>0"))
        .transition("b", "done")
    )
    app = m.build().compile()
    assert path(app.invoke({"x": 0})) == ["a", "done"]  # x=1: only x>0 holds
    out = app.invoke({"x": 5})  # both hold: the first declared wins
    assert path(out) == ["a", "b", "done"]
    assert out["transitions"][1]["reason"] == "when x>1"
    out = app.invoke({"x": -5})
    assert out["status"] == "escalated" and out["reason"] == "default"


def test_transition_records_and_summary() -> None:
    m = StateMachine(S, name="m").state("a", lambda s: {"x": 1}).transition("a", "done")
    events: list[Event] = []
    with listen(events.append):
        out = m.build().compile().invoke({"x": 0})
    entry, rec = out["transitions"]
    assert entry == {"from": "start", "to": "a", "step": 0, "reason": "entry", "elapsed_ms": 0.0}
    assert set(rec) == {"from", "to", "step", "reason", "elapsed_ms"}
    assert (rec["from"], rec["to"], rec["step"], rec["reason"]) == ("a", "done", 1, "default")
    assert rec["elapsed_ms"] >= 0
    assert out["steps"] == 1 and out["visits"] == {"a": 1, "done": 1}
    assert out.get("error") is None and out["status"] == "done"
    kinds = [(e.kind, e.attrs.get("frm"), e.attrs.get("to")) for e in events]
    assert kinds == [("transition", "a", "done")]


def test_goto_and_command_are_checked() -> None:
    def a(state: Any) -> Any:
        if state["x"] == 0:
            return goto("b", reason="x is zero", update={"x": 10})
        if state["x"] == 1:
            return Command(goto="done", update=[("x", 11)])
        return goto("nowhere", update={"x": 99})

    m = (
        StateMachine(S, name="m")
        .state("a", a)
        .state("b", lambda s: None)
        .transition("a", "b", when=key("never"))
        .transition("a", "done", when=key("never"))
        .transition("b", "done")
    )
    app = m.build().compile()
    out = app.invoke({"x": 0})
    assert path(out) == ["a", "b", "done"] and out["x"] == 10
    assert out["transitions"][1]["reason"] == "x is zero"
    out = app.invoke({"x": 1})
    assert path(out) == ["a", "done"] and out["x"] == 11
    out = app.invoke({"x": 2})
    assert out["status"] == "failed" and path(out) == ["a", "failed"]
    assert out["error"]["type"] == "IllegalTransitionError"
    assert out["error"]["node"] == "a" and "'a' -> 'nowhere'" in out["error"]["message"]
    assert "IllegalTransitionError" in out["reason"]


def test_no_matching_transition_without_default_fails() -> None:
    m = StateMachine(S, name="m").state("a", lambda s: {}).transition("a", "done", when="ok")
    out = m.build().compile().invoke({"x": 0})
    assert out["status"] == "failed" and "no transition" in out["error"]["message"]


def test_max_visits_stops_a_loop() -> None:
    calls: list[int] = []

    def spin(state: Any) -> dict[str, Any]:
        calls.append(1)
        return {"x": state["x"] + 1}

    m = (
        StateMachine(S, name="m")
        .state("spin", spin, max_visits=3)
        .transition("spin", "spin", when=when(lambda s: True, name="always"))
        .transition("spin", "done")
    )
    out = m.build().compile().invoke({"x": 0})
    assert out["status"] == "failed" and out["error"]["type"] == "VisitLimitError"
    assert len(calls) == 3 and out["x"] == 3
    assert "max_visits=3" in out["reason"]


def test_step_budget_stops_a_two_state_loop() -> None:
    m = (
        StateMachine(S, name="m", max_steps=7)
        .state("a", lambda s: {"x": s["x"] + 1})
        .state("b", lambda s: {"x": s["x"] + 1})
        .transition("a", "b")
        .transition("b", "a", when=when(lambda s: True, name="always"))
        .transition("b", "done")
    )
    out = m.build().compile().invoke({"x": 0})
    assert out["status"] == "failed" and "max_steps=7" in out["error"]["message"]
    assert out["x"] == 7 and out["steps"] == 8


def test_sync_timeout_routes_to_timed_out() -> None:
    def slow(state: Any) -> dict[str, Any]:
        time.sleep(0.5)
        return {"x": 1}

    m = StateMachine(S, name="m").state("a", slow, timeout=0.05).transition("a", "done")
    t0 = time.perf_counter()
    out = m.build().compile().invoke({"x": 0})
    assert time.perf_counter() - t0 < 0.45  # did not wait for the node
    assert out["status"] == "timed_out" and out["error"]["type"] == "StepTimeoutError"
    assert out.get("x") == 0


async def test_async_timeout_routes_to_timed_out() -> None:
    async def slow(state: Any) -> dict[str, Any]:
        await asyncio.sleep(5)
        return {"x": 1}

    m = StateMachine(S, name="m").state("a", slow, timeout=0.05).transition("a", "done")
    out = await m.build().compile().ainvoke({"x": 0})
    assert out["status"] == "timed_out" and out["error"]["node"] == "a"


def test_node_error_routes_to_failed_or_on_error() -> None:
    def boom(state: Any) -> dict[str, Any]:
        raise KeyError("missing thing")

    m = StateMachine(S, name="m").state("a", boom).transition("a", "done")
    out = m.build().compile().invoke({"x": 0})
    assert out["status"] == "failed"
    assert out["error"] == {"type": "KeyError", "message": "'missing thing'", "node": "a"}

    m = (
        StateMachine(S, name="m")
        .state("a", boom, on_error="recover")
        .state("recover", lambda s: {"x": -1})
        .transition("a", "done")
        .transition("recover", "escalated")
    )
    out = m.build().compile().invoke({"x": 0})
    assert path(out) == ["a", "recover", "escalated"] and out["x"] == -1
    assert out["error"]["type"] == "KeyError" and out["status"] == "escalated"


def test_retry_then_success_and_exhaustion() -> None:
    attempts: list[int] = []

    def flaky(state: Any) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("jitter")
        return {"x": len(attempts)}

    m = StateMachine(S, name="m").state("a", flaky, retry=FAST_RETRY).transition("a", "done")
    out = m.build().compile().invoke({"x": 0})
    assert out["status"] == "done" and out["x"] == 3
    never = RetryPolicy(initial_interval=0.0, jitter=False, max_attempts=2, retry_on=ValueError)

    def bad(state: Any) -> dict[str, Any]:
        attempts.append(1)
        raise ValueError("permanent")

    attempts.clear()
    m = StateMachine(S, name="m").state("a", bad, retry=never).transition("a", "done")
    out = m.build().compile().invoke({"x": 0})
    assert out["status"] == "failed" and len(attempts) == 2


def test_interrupt_inside_a_state_pauses_and_resumes() -> None:
    def ask(state: Any) -> dict[str, Any]:
        answer = interrupt({"question": "approve?"})
        return {"ok": answer == "yes"}

    m = (
        StateMachine(S, name="m")
        .state("ask", ask, retry=FAST_RETRY, timeout=5)  # neither may swallow the interrupt
        .transition("ask", "done", when="ok")
        .transition("ask", "escalated")
    )
    app = m.build().compile(checkpointer=InMemorySaver())
    cfg = {"configurable": {"thread_id": "t"}}
    out = app.invoke({"x": 0}, cfg)
    assert "__interrupt__" in out and "status" not in out
    out = app.invoke(Command(resume="yes"), cfg)
    assert out["status"] == "done" and path(out) == ["ask", "done"]
    # a second run on the same thread starts a fresh count
    app.invoke({"x": 1}, cfg)
    out = app.invoke(Command(resume="no"), cfg)
    assert out["status"] == "escalated" and out["steps"] == 1
    assert path(out) == ["ask", "done", "ask", "escalated"]


def test_state_size_budget_warn_and_fail() -> None:
    def grow(state: Any) -> dict[str, Any]:
        return {"blob": "x" * 5000}

    def build(mode: Any) -> Any:
        return (
            StateMachine(S, name="m", state_budget=2000, budget_mode=mode)
            .state("a", grow)
            .transition("a", "done")
            .build()
            .compile()
        )

    with pytest.warns(ResourceWarning, match="over its budget of 2000"):
        out = build("warn").invoke({"x": 0})
    assert out["status"] == "done" and out["state_size_warning"]["budget"] == 2000
    out = build("fail").invoke({"x": 0})
    assert out["status"] == "failed" and out["error"]["type"] == "StateTooLargeError"
    # no budget at all: no check
    m = StateMachine(S, name="m", state_budget=None).state("a", grow).transition("a", "done")
    assert m.build().compile().invoke({"x": 0})["status"] == "done"


def test_runnable_and_config_nodes() -> None:
    seen: list[Any] = []

    def with_config(state: Any, config: Any) -> dict[str, Any]:
        seen.append(config["configurable"].get("thread_id"))
        return {"x": state["x"] + 1}

    m = (
        StateMachine(S, name="m")
        .state("r", RunnableLambda(lambda s: {"x": s["x"] + 100}))
        .state("c", with_config)
        .transition("r", "c")
        .transition("c", "done")
    )
    app = m.build().compile(checkpointer=InMemorySaver())
    out = app.invoke({"x": 0}, {"configurable": {"thread_id": "cfg"}})
    assert out["x"] == 101 and seen == ["cfg"]


async def test_async_and_sync_nodes_under_ainvoke() -> None:
    async def a(state: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"x": state["x"] + 1}

    def b(state: Any) -> Any:
        return goto("done", reason="finished")

    m = StateMachine(S, name="m").state("a", a).state("b", b).transition("a", "b")
    m.transition("b", "done")
    app = m.build().compile()
    out = await app.ainvoke({"x": 0})
    assert out["x"] == 1 and out["status"] == "done" and out["reason"] == "finished"
    with pytest.raises(TypeError):  # an async node has no sync form, as in LangGraph
        app.invoke({"x": 0})


def test_node_output_carries_transition_list_for_observability() -> None:
    m = StateMachine(S, name="m").state("a", lambda s: {"x": 1}).state("b", lambda s: None)
    m.transition("a", "b").transition("b", "done")
    app = m.build().compile()
    updates = list(app.stream({"x": 0}, stream_mode="updates"))
    by_node = {next(iter(u)): next(iter(u.values())) for u in updates}
    assert isinstance(by_node["b"]["transitions"], list)
    assert by_node["b"]["transitions"] == [
        {**by_node["b"]["transitions"][0], "from": "b", "to": "done", "step": 2}
    ]
    assert [r["to"] for r in by_node["a"]["transitions"]] == ["a", "b"]  # entry + move
