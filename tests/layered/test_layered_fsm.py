"""A layered orchestrator whose executors are the canonical FSM agent graph (real fsm package)."""

from __future__ import annotations

from typing import Any

from agentpatterns.fsm import Rule, RulePlanner, build_agent_graph
from agentpatterns.layered import Executor, build_layered_graph
from agentpatterns.readiness import check_readiness


def _agent(fail_on: str) -> Any:
    def execute(state: dict[str, Any]) -> dict[str, Any]:
        if fail_on in state["task"]:
            raise ConnectionError("store down")
        return {"results": [c["name"] for c in state["plan"]]}

    return build_agent_graph(
        planner=RulePlanner([Rule("refund", "refund_order"), Rule("track", "track_order")]),
        executor=execute,
        validator=lambda s: bool(s["results"]),
        name="support",
    )


def test_fsm_agents_as_executors_with_failure_isolation() -> None:
    g = build_layered_graph(
        decompose=lambda s: [
            {"id": f"req{i}", "executor": "support", "inputs": {"task": t}}
            for i, t in enumerate(s["task"])
        ],
        executors=[Executor("support", _agent("broken"), result_key="results")],
        name="desk",
    ).compile()
    out = g.invoke({"task": ["refund please", "track my parcel", "refund broken order"]})
    assert out["results"]["req0"] == ["refund_order"]
    assert out["results"]["req1"] == ["track_order"]
    # the FSM routed its own error to `failed`; the layer isolates it and reports it
    assert out["status"] == "partial"
    failure = out["failures"]["req2"]
    assert failure["error_type"] == "GraphExecutorFailed"
    assert "ended failed" in failure["message"] and "store down" in failure["message"]
    report = check_readiness(g)
    assert report["responsibility_boundaries"].passed
