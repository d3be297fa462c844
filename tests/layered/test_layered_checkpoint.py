"""Nested layers under a real checkpointer (memory, SQLite, PostgreSQL): interrupt + resume."""

from __future__ import annotations

from typing import Any

from langgraph.types import Command, interrupt

from agentpatterns.layered import Executor, Subtask, build_layered_graph

RUNS: list[str] = []


def _approve(sub: Subtask, ctx: Any) -> str:
    RUNS.append(sub.id)
    answer = interrupt({"approve": sub.inputs["item"]})
    return f"{sub.inputs['item']}:{answer}"


def _graph() -> Any:
    inner = build_layered_graph(
        decompose=lambda s: [
            {"id": "auto", "executor": "auto", "inputs": {"item": s["task"]}},
            {"id": "ask", "executor": "approve", "inputs": {"item": s["task"]}},
        ],
        executors=[
            Executor("approve", _approve),
            Executor("auto", lambda sub, ctx: f"{sub.inputs['item']}:auto"),
        ],
        name="inner",
    )
    return build_layered_graph(
        decompose=lambda s: [{"id": "one", "executor": "inner", "inputs": {"task": "refund"}}],
        executors=[Executor("inner", inner)],
        name="outer",
    )


def _check(first: dict[str, Any], out: dict[str, Any]) -> None:
    assert first["__interrupt__"][0].value == {"approve": "refund"}
    assert out["status"] == "done", out.get("reason")
    assert out["results"] == {"one": {"auto": "refund:auto", "ask": "refund:yes"}}
    assert sorted({h["layer"] for h in out["handoffs"]}) == [1, 2]


def test_interrupt_in_nested_layer_resumes(checkpointer: Any) -> None:
    RUNS.clear()
    g = _graph().compile(checkpointer=checkpointer)
    cfg: Any = {"configurable": {"thread_id": "nested"}}
    first = g.invoke({"task": "go"}, cfg)
    _check(first, g.invoke(Command(resume="yes"), cfg))
    assert RUNS == ["ask", "ask"]  # the interrupted executor re-runs; its sibling does not


async def test_interrupt_in_nested_layer_resumes_async(acheckpointer: Any) -> None:
    g = _graph().compile(checkpointer=acheckpointer)
    cfg: Any = {"configurable": {"thread_id": "nested-async"}}
    first = await g.ainvoke({"task": "go"}, cfg)
    _check(first, await g.ainvoke(Command(resume="yes"), cfg))
