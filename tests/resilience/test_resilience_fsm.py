"""Retry and escalation inside a StateMachine: retries exhausted -> on_error state -> human."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from tenacity import stop_after_attempt, wait_none

from agentpatterns.fsm import AgentState, StateMachine
from agentpatterns.resilience import Retry, escalate_to_human


class S(AgentState, total=False):
    escalation_reason: str
    human_decision: dict[str, Any]


def test_exhausted_state_routes_to_escalation_and_resumes() -> None:
    calls = {"n": 0}

    def charge(state: S) -> dict[str, Any]:
        calls["n"] += 1
        raise TimeoutError("gateway timeout")  # LangGraph's default would not retry this

    def record(state: S) -> dict[str, Any]:
        return {"escalation_reason": f"charge failed: {state.get('error')}"}

    machine = (
        StateMachine(S, name="pay")
        .state(
            "charge",
            charge,
            retry=Retry(stop=stop_after_attempt(3), wait=wait_none()),
            on_error="explain",
        )
        .state("explain", record)
        .state("human", escalate_to_human(status_key=None))
        .transition("charge", "done")
        .transition("explain", "human")
        .transition("human", "done")
    )
    graph = machine.build().compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "p1"}}
    out = graph.invoke({}, config)
    assert calls["n"] == 3
    payload = out["__interrupt__"][0].value
    assert "gateway timeout" in payload["reason"]
    final = graph.invoke(Command(resume={"action": "reject", "note": "card declined"}), config)
    assert final["human_decision"]["action"] == "reject" and final["status"] == "done"
