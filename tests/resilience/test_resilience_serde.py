"""Resilience state (error info, escalation payload and decision) needs no msgpack allow-list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.types import Command
from tenacity import stop_after_attempt, wait_none

from agentpatterns.checkpoint import open_checkpointer
from agentpatterns.fsm import AgentState, StateMachine
from agentpatterns.resilience import Retry, escalate_to_human


class S(AgentState, total=False):
    escalation_reason: str
    human_decision: dict[str, Any]


def _machine() -> Any:
    def charge(state: S) -> dict[str, Any]:
        raise TimeoutError("gateway timeout")

    def explain(state: S) -> dict[str, Any]:
        return {"escalation_reason": f"charge failed: {state.get('error')}"}

    return (
        StateMachine(S, name="pay")
        .state(
            "charge",
            charge,
            retry=Retry(stop=stop_after_attempt(2), wait=wait_none()),
            on_error="explain",
        )
        .state("explain", explain)
        .state("human", escalate_to_human(status_key=None))
        .transition("charge", "done")
        .transition("explain", "human")
        .transition("human", "done")
        .build()
    )


def test_retry_and_escalation_on_sqlite_need_no_allow_list(tmp_path: Path, serde_log: Any) -> None:
    url = f"sqlite:///{tmp_path / 'cp.db'}"
    cfg: Any = {"configurable": {"thread_id": "pay-serde"}}
    with open_checkpointer(url) as saver:
        paused = _machine().compile(checkpointer=saver).invoke({}, cfg)
    assert "gateway timeout" in paused["__interrupt__"][0].value["reason"]
    with open_checkpointer(url) as saver:  # the pending interrupt is read back
        graph = _machine().compile(checkpointer=saver)
        assert graph.get_state(cfg).interrupts
        bad = graph.invoke(Command(resume={"action": "maybe"}), cfg)  # invalid: asked again
        assert bad["__interrupt__"][0].value["error"]
    with open_checkpointer(url) as saver:
        graph = _machine().compile(checkpointer=saver)
        out = graph.invoke(Command(resume={"action": "reject", "note": "declined"}), cfg)
        list(graph.get_state_history(cfg))
    assert out["status"] == "done" and out["human_decision"]["action"] == "reject"
    assert serde_log() == []
