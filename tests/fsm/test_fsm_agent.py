"""The canonical plan -> execute -> validate machine with rule, function and model planners."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import (
    FakeMessagesListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

from agentpatterns.fsm import Rule, RulePlanner, build_agent_graph


def run_plan(state: Any) -> dict[str, Any]:
    return {"results": [(c["name"], c["args"]) for c in state.get("plan") or ()]}


def path(out: dict[str, Any]) -> list[str]:
    return [t["to"] for t in out["transitions"]]


@tool
def get_order(order_id: str) -> str:
    """Look up an order."""
    return f"order {order_id}"


def test_rule_planner_happy_path() -> None:
    planner = RulePlanner(
        [
            Rule(r"order #?(\d+)", "get_order", lambda m, s: {"order_id": m.group(1)}),
            ("refund", "refund_order"),
            Rule("cancel", "cancel_order", {"why": "asked"}),
        ]
    )
    g = build_agent_graph(planner=planner, executor=run_plan, validator=lambda s: True)
    out = g.compile().invoke({"task": "Refund order #42 please"})
    assert out["status"] == "done"
    assert path(out) == ["plan", "execute", "validate", "done"]
    assert out["results"] == [("get_order", {"order_id": "42"}), ("refund_order", {})]
    assert [c["id"] for c in out["plan"]] == ["call_0", "call_1"]


def test_rule_planner_reads_last_human_message_and_feedback() -> None:
    planner = RulePlanner([("status", "get_status"), ("not found", "search_orders")])
    plan = planner({"messages": [HumanMessage("what is my status")], "feedback": "not found"})
    assert [c["name"] for c in plan["plan"]] == ["get_status", "search_orders"]
    assert RulePlanner()({"task": "anything"}) == {"plan": []}


def test_validation_failure_replans_then_fails_bounded() -> None:
    plans: list[int] = []

    def planner(state: Any) -> dict[str, Any]:
        plans.append(1)
        return {"plan": [{"name": "t", "args": {}, "id": str(len(plans))}]}

    def validator(state: Any) -> dict[str, Any]:
        return {"valid": False, "feedback": "wrong answer"}

    g = build_agent_graph(planner=planner, executor=run_plan, validator=validator, max_replans=2)
    out = g.compile().invoke({"task": "x"})
    assert out["status"] == "failed" and out["replans"] == 3
    assert len(plans) == 3  # first plan + 2 re-plans
    assert path(out)[-2:] == ["validate", "failed"] and out["reason"] == "default"


def test_replan_then_succeed() -> None:
    def validator(state: Any) -> bool:
        return (state.get("replans") or 0) >= 1

    g = build_agent_graph(planner=RulePlanner([("x", "t")]), executor=run_plan, validator=validator)
    out = g.compile().invoke({"task": "x"})
    assert out["status"] == "done"
    assert path(out) == ["plan", "execute", "validate", "plan", "execute", "validate", "done"]


def test_executor_error_and_timeout_exits() -> None:
    def broken(state: Any) -> dict[str, Any]:
        raise ConnectionError("tool server down")

    g = build_agent_graph(executor=broken, validator=lambda s: True)
    out = g.compile().invoke({"task": "x"})
    assert out["status"] == "failed" and out["error"]["node"] == "execute"

    def slow(state: Any) -> dict[str, Any]:
        import time

        time.sleep(1)
        return {}

    g = build_agent_graph(executor=slow, validator=lambda s: True, timeouts={"execute": 0.05})
    assert g.compile().invoke({"task": "x"})["status"] == "timed_out"


def test_generic_fake_chat_model_planner_emits_tool_calls() -> None:
    ai = AIMessage(
        content="",
        tool_calls=[{"name": "get_order", "args": {"order_id": "7"}, "id": "c1"}],
    )
    model = GenericFakeChatModel(messages=iter([ai]))
    g = build_agent_graph(
        planner=model, executor=run_plan, validator=lambda s: True, tools=[get_order]
    )
    out = g.compile(checkpointer=InMemorySaver()).invoke(
        {"messages": [HumanMessage("where is order 7")]}, {"configurable": {"thread_id": "m"}}
    )
    assert out["status"] == "done"
    assert out["plan"] == [{"name": "get_order", "args": {"order_id": "7"}, "id": "c1"}]
    assert isinstance(out["messages"][-1], AIMessage)


async def test_fake_messages_list_model_planner_async_replans() -> None:
    first = AIMessage(content="", tool_calls=[{"name": "a", "args": {}, "id": "1"}])
    second = AIMessage(content="", tool_calls=[{"name": "b", "args": {"k": 1}, "id": "2"}])
    model = FakeMessagesListChatModel(responses=[first, second])

    async def executor(state: Any) -> dict[str, Any]:
        return run_plan(state)

    async def validator(state: Any) -> dict[str, Any]:
        ok = state["results"][0][0] == "b"
        return {"valid": ok, "feedback": None if ok else "use b"}

    g = build_agent_graph(planner=model, executor=executor, validator=validator)
    out = await g.compile().ainvoke({"task": "do it"})
    assert out["status"] == "done" and out["results"] == [("b", {"k": 1})]
    assert out["replans"] == 1


def test_replan_budget_is_per_run_on_a_thread() -> None:
    g = build_agent_graph(executor=run_plan, validator=lambda s: False, max_replans=1)
    app = g.compile(checkpointer=InMemorySaver())
    cfg = {"configurable": {"thread_id": "again"}}
    for _ in range(2):
        out = app.invoke({"task": "x"}, cfg)
        assert out["status"] == "failed" and out["replans"] == 2
        assert out["visits"]["plan"] == 2
