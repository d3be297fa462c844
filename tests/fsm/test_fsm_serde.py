"""FSM checkpoints hold plain data: reading them back needs no msgpack allow-list entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.types import Command, interrupt

from agentpatterns.checkpoint import open_checkpointer
from agentpatterns.fsm import AgentState, Rule, RulePlanner, StateMachine, build_agent_graph, goto


class S(AgentState, total=False):
    n: int
    answer: str


def _machine() -> Any:
    def work(state: S) -> Any:
        n = (state.get("n") or 0) + 1
        if n < 3:
            return goto("work", reason="again", update={"n": n})
        return goto("ask", reason="enough", update={"n": n})

    def ask(state: S) -> dict[str, Any]:
        return {"answer": str(interrupt({"n": state["n"]}))}

    def broken(state: S) -> Any:
        return goto("nowhere")  # an illegal transition -> failed, error info in state

    return (
        StateMachine(S, name="serde")
        .state("work", work, max_visits=5)
        .state("ask", ask)
        .state("broken", broken)
        .transition("work", "work", when=lambda s: (s.get("n") or 0) < 3)
        .transition("work", "ask")
        .transition("ask", "broken", when=lambda s: s.get("answer") == "break")
        .transition("ask", "done")
        .transition("broken", "done")
        .build()
    )


def test_state_machine_on_sqlite_needs_no_allow_list(tmp_path: Path, serde_log: Any) -> None:
    url = f"sqlite:///{tmp_path / 'cp.db'}"
    cfg: Any = {"configurable": {"thread_id": "fsm-serde"}}
    with open_checkpointer(url) as saver:
        _machine().compile(checkpointer=saver).invoke({}, cfg)
    with open_checkpointer(url) as saver:
        graph = _machine().compile(checkpointer=saver)
        assert len(list(graph.get_state_history(cfg))) > 3
        out = graph.invoke(Command(resume="break"), cfg)
        graph.get_state(cfg)
    assert out["status"] == "failed" and out["error"]["type"] == "IllegalTransitionError"
    agent = build_agent_graph(
        planner=RulePlanner([Rule("refund", "refund_order")]),
        executor=lambda s: {"results": [c["name"] for c in s["plan"]]},
        validator=lambda s: bool(s["results"]),
    )
    with open_checkpointer(url) as saver:
        graph = agent.compile(checkpointer=saver)
        cfg2: Any = {"configurable": {"thread_id": "agent-serde"}}
        assert graph.invoke({"task": "refund please"}, cfg2)["status"] == "done"
        list(graph.get_state_history(cfg2))
    assert serde_log() == []
