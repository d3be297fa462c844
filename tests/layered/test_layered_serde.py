"""Layered checkpoints hold plain data: no library type needs LangGraph's msgpack allow-list.

LangGraph logs "Deserializing unregistered type ..." (and will block it in a future version)
when a checkpoint holds a class outside its safe list. Subtasks in state and the ``Send``
payloads of pending hand-offs (subtask, layer frame) must therefore be dicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.types import Command, interrupt

from agentpatterns.checkpoint import open_checkpointer
from agentpatterns.layered import Executor, Subtask, build_layered_graph

SEEN: list[Any] = []


def _approve(sub: Subtask, ctx: Any) -> str:
    SEEN.append(sub)
    return f"{sub.inputs['item']}:{interrupt('ok?')}"


def _flaky(sub: Subtask, ctx: Any) -> str:
    SEEN.append(sub)
    if sub.attempt == 1:
        raise ConnectionError("first attempt fails")
    return f"{sub.id}@{sub.attempt}"


def _graph() -> Any:
    inner = build_layered_graph(
        decompose=lambda s: [
            Subtask(id="ask", executor="approve", inputs={"item": s["task"]}),
            {"id": "flaky", "executor": "flaky"},
        ],
        executors=[Executor("approve", _approve), Executor("flaky", _flaky)],
        on_failure="retry",
        name="inner",
    )
    return build_layered_graph(
        decompose=lambda s: [{"id": "one", "executor": "inner", "inputs": {"task": "refund"}}],
        executors=[Executor("inner", inner)],
        name="outer",
    )


def test_sqlite_checkpoints_of_a_layered_run_need_no_allow_list(
    tmp_path: Path, serde_log: Any
) -> None:
    SEEN.clear()
    url = f"sqlite:///{tmp_path / 'cp.db'}"
    cfg: Any = {"configurable": {"thread_id": "serde"}}
    with open_checkpointer(url) as saver:  # pending Sends are checkpointed at the interrupt
        first = _graph().compile(checkpointer=saver).invoke({"task": "go"}, cfg)
    assert first["__interrupt__"][0].value == "ok?"
    with open_checkpointer(url) as saver:  # a new process: everything is read back
        graph = _graph().compile(checkpointer=saver)
        subtasks = graph.get_state(cfg).values["subtasks"]
        assert len(list(graph.get_state_history(cfg))) > 1
        out = graph.invoke(Command(resume="yes"), cfg)
    assert out["status"] == "done", out.get("reason")
    assert out["results"] == {"one": {"ask": "refund:yes", "flaky": "flaky@2"}}
    assert subtasks == [
        {"id": "one", "executor": "inner", "inputs": {"task": "refund"}, "depth": 2, "attempt": 1}
    ]
    assert SEEN and all(isinstance(s, Subtask) for s in SEEN)  # executors still get Subtask
    assert [s.attempt for s in SEEN if s.id == "flaky"] == [1, 2]
    assert serde_log() == []


async def test_async_layered_run_on_sqlite_needs_no_allow_list(
    tmp_path: Path, serde_log: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'cp.db'}"
    cfg: Any = {"configurable": {"thread_id": "serde-async"}}
    async with open_checkpointer(url) as saver:
        await _graph().compile(checkpointer=saver).ainvoke({"task": "go"}, cfg)
    async with open_checkpointer(url) as saver:
        out = await _graph().compile(checkpointer=saver).ainvoke(Command(resume="yes"), cfg)
    assert out["status"] == "done", out.get("reason")
    assert serde_log() == []
