"""The same machine on memory, SQLite and PostgreSQL: interrupt/resume and crash/resume."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from langgraph.types import Command, interrupt

from agentpatterns.checkpoint import open_checkpointer
from agentpatterns.fsm import AgentState, StateMachine, key


class S(AgentState, total=False):
    x: int
    approved: bool
    log: list[str]


def machine(calls: list[str]) -> StateMachine:
    def plan(state: Any) -> dict[str, Any]:
        calls.append("plan")
        return {"x": state["x"] + 1}

    def review(state: Any) -> dict[str, Any]:
        calls.append("review")
        answer = interrupt({"x": state["x"]})
        return {"approved": answer == "ok"}

    async def areview(state: Any) -> dict[str, Any]:
        calls.append("review")
        answer = interrupt({"x": state["x"]})
        return {"approved": answer == "ok"}

    def act(state: Any) -> dict[str, Any]:
        calls.append("act")
        return {"x": state["x"] * 10}

    return (
        StateMachine(S, name="durable")
        .state("plan", plan)
        .state("review", review)
        .state("act", act)
        .transition("plan", "review")
        .transition("review", "act", when=key("approved"))
        .transition("review", "escalated")
        .transition("act", "done")
    )


def test_interrupt_and_resume_on_every_backend(checkpointer: Any) -> None:
    calls: list[str] = []
    app = machine(calls).build().compile(checkpointer=checkpointer)
    cfg = {"configurable": {"thread_id": "t1"}}
    out = app.invoke({"x": 1}, cfg)
    assert out["__interrupt__"][0].value == {"x": 2}
    snap = app.get_state(cfg)
    assert snap.next == ("review",)
    assert [t["to"] for t in snap.values["transitions"]] == ["plan", "review"]
    out = app.invoke(Command(resume="ok"), cfg)
    assert out["status"] == "done" and out["x"] == 20
    assert [t["to"] for t in out["transitions"]] == ["plan", "review", "act", "done"]
    assert calls == ["plan", "review", "review", "act"]  # review re-runs on resume, plan not
    other = {"configurable": {"thread_id": "t2"}}
    app.invoke({"x": 1}, other)
    assert app.invoke(Command(resume="no"), other)["status"] == "escalated"


async def test_async_interrupt_and_resume_on_every_backend(acheckpointer: Any) -> None:
    calls: list[str] = []
    app = machine(calls).build().compile(checkpointer=acheckpointer)
    cfg = {"configurable": {"thread_id": "a1"}}
    out = await app.ainvoke({"x": 3}, cfg)
    assert "__interrupt__" in out
    out = await app.ainvoke(Command(resume="ok"), cfg)
    assert out["status"] == "done" and out["x"] == 40


def test_stopped_run_resumes_in_a_new_graph_from_last_completed_state(checkpointer: Any) -> None:
    calls: list[str] = []
    first = machine(calls).build().compile(checkpointer=checkpointer, interrupt_before=["act"])
    cfg = {"configurable": {"thread_id": "stop"}}
    first.invoke({"x": 1}, cfg)
    first.invoke(Command(resume="ok"), cfg)  # stops before "act"
    assert first.get_state(cfg).next == ("act",)
    calls.clear()
    second = machine(calls).build().compile(checkpointer=checkpointer)  # a new process, say
    out = second.invoke(None, cfg)
    assert calls == ["act"] and out["status"] == "done" and out["x"] == 20


def test_killed_process_resumes_from_last_completed_state(tmp_path: Path) -> None:
    """A worker dies (os._exit) inside ``act``; a fresh process resumes at ``act``."""
    db = tmp_path / "runs.db"
    marks = tmp_path / "marks.txt"
    script = textwrap.dedent(
        f"""
        import os, sys
        from typing import Any
        from agentpatterns.checkpoint import open_checkpointer
        from agentpatterns.fsm import AgentState, StateMachine

        class S(AgentState, total=False):
            x: int

        def mark(name):
            with open({str(marks)!r}, "a") as f:
                f.write(name + "\\n")

        def a(s): mark("a"); return {{"x": s["x"] + 1}}
        def b(s): mark("b"); return {{"x": s["x"] + 1}}
        def act(s):
            mark("act")
            if sys.argv[1] == "crash":
                os._exit(9)
            return {{"x": s["x"] * 100}}

        m = (StateMachine(S, name="k").state("a", a).state("b", b).state("act", act)
             .transition("a", "b").transition("b", "act").transition("act", "done"))
        cfg = {{"configurable": {{"thread_id": "k"}}}}
        with open_checkpointer("sqlite:///{db}") as saver:
            app = m.build().compile(checkpointer=saver)
            out = app.invoke({{"x": 0}} if sys.argv[1] == "crash" else None, cfg,
                             durability="sync")
            print(out["status"], out["x"])
        """
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    crash = subprocess.run(
        [sys.executable, "-c", script, "crash"], env=env, timeout=60, capture_output=True, text=True
    )
    assert crash.returncode == 9, crash.stderr
    resume = subprocess.run(
        [sys.executable, "-c", script, "resume"],
        env=env,
        timeout=60,
        capture_output=True,
        text=True,
    )
    assert resume.returncode == 0, resume.stderr
    assert resume.stdout.split() == ["done", "200"]
    assert marks.read_text().split() == ["a", "b", "act", "act"]  # a, b never re-ran
    with open_checkpointer(f"sqlite:///{db}") as saver:
        tup = saver.get_tuple({"configurable": {"thread_id": "k"}})
        assert tup is not None
