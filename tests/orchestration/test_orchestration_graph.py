"""add_tool_orchestration on user graphs, end to end, with a fake chat model."""

from __future__ import annotations

import operator
import time
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, MessagesState, StateGraph
from langgraph.graph.message import add_messages

from agentpatterns.errors import ConfigurationError
from agentpatterns.orchestration import ToolPolicy, ToolRegistry, add_tool_orchestration


def get_order(order_id: str) -> dict[str, Any]:
    """Get an order by id."""
    time.sleep(0.4)
    if order_id == "missing":
        raise KeyError(f"order {order_id} not found")
    return {"order_id": order_id, "status": "delivered"}


def get_user(user_id: str) -> dict[str, Any]:
    """Get a user by id."""
    time.sleep(0.4)
    return {"user_id": user_id, "name": "Ada"}


async def aget_stock(sku: str) -> int:
    """Get the stock of a SKU (async)."""
    return 3


def registry() -> ToolRegistry:
    reg = ToolRegistry()
    reg.register(get_order, policy=ToolPolicy(timeout=2.0))
    reg.register(get_user)
    reg.register(aget_stock, agents=["warehouse"])
    return reg


def script() -> list[AIMessage]:
    return [
        AIMessage(
            "",
            tool_calls=[
                {"name": "get_order", "args": {"order_id": "A1"}, "id": "c1"},
                {"name": "get_user", "args": {"user_id": "u7"}, "id": "c2"},
                {"name": "get_order", "args": {"order_id": "missing"}, "id": "c3"},
                {"name": "aget_stock", "args": {"sku": "X"}, "id": "c4"},
                {"name": "get_order", "args": {"order_id": 5}, "id": "c5"},
            ],
        ),
        AIMessage("Order A1 was delivered."),
    ]


def build(
    reg: ToolRegistry, model: GenericFakeChatModel, use_async: bool = False, fused: bool = False
) -> StateGraph:
    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    async def aagent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", aagent if use_async else agent)
    builder.set_entry_point("agent")
    return add_tool_orchestration(builder, reg, after="agent", fused=fused)


def check_run(result: dict[str, Any]) -> None:
    msgs = result["messages"]
    tool_msgs = [m for m in msgs if isinstance(m, ToolMessage)]
    assert [m.tool_call_id for m in tool_msgs] == ["c1", "c2", "c3", "c4", "c5"]
    assert [m.status for m in tool_msgs] == ["success", "success", "error", "error", "error"]
    assert '"status": "delivered"' in tool_msgs[0].content
    assert tool_msgs[2].content.startswith("ToolExecutionError: KeyError:")
    assert tool_msgs[3].content.startswith("ToolPermissionError: agent 'default'")
    assert tool_msgs[4].content.startswith("ToolContractError: arguments of tool 'get_order'")
    assert msgs[-1].content == "Order A1 was delivered."


@pytest.mark.parametrize("fused", [False, True], ids=["three-nodes", "fused"])
def test_end_to_end_sync_with_checkpointer(checkpointer: Any, fused: bool) -> None:
    model = GenericFakeChatModel(messages=iter(script()))
    graph = build(registry(), model, fused=fused).compile(checkpointer=checkpointer)
    config = {"configurable": {"thread_id": "t1"}}
    t0 = time.perf_counter()
    graph.invoke({"messages": [("user", "where is my order?")]}, config)
    assert time.perf_counter() - t0 < 1.1  # 3 x 0.4 s tool calls ran in parallel
    state = graph.get_state(config).values  # read back through the checkpointer
    check_run(state)
    assert [r["ok"] for r in state["tool_results"]] == [True, True, False, False, False]
    assert [r["name"] for r in state["tool_refusals"]] == ["aget_stock", "get_order"]
    if fused:
        assert "tool_outcomes" not in state and set(graph.get_graph().nodes) >= {"tools"}
    else:
        assert state["tool_outcomes"] == [] and state["tool_selection"] == []


@pytest.mark.parametrize("fused", [False, True], ids=["three-nodes", "fused"])
async def test_end_to_end_async(fused: bool) -> None:
    model = GenericFakeChatModel(messages=iter(script()))
    graph = build(registry(), model, use_async=True, fused=fused).compile(
        checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "t2"}}
    t0 = time.perf_counter()
    result = await graph.ainvoke({"messages": [("user", "where is my order?")]}, config)
    assert time.perf_counter() - t0 < 1.1  # 3 x 0.4 s
    check_run(result)
    # tool_results is not in MessagesState, so not in the output; it is in the state
    assert "tool_results" not in result
    assert len((await graph.aget_state(config)).values["tool_results"]) == 5


def test_user_schema_declaring_the_keys_is_respected() -> None:
    class State(TypedDict):
        messages: Annotated[list[AnyMessage], add_messages]
        tool_results: Annotated[list[dict[str, Any]], operator.add]
        steps: int

    turns = iter(
        [
            AIMessage("", tool_calls=[{"name": "get_user", "args": {"user_id": "1"}, "id": "a"}]),
            AIMessage("", tool_calls=[{"name": "get_user", "args": {"user_id": "2"}, "id": "b"}]),
            AIMessage("done"),
        ]
    )

    def agent(state: State) -> dict[str, Any]:
        return {"messages": [next(turns)], "steps": state.get("steps", 0) + 1}

    builder = StateGraph(State)
    builder.add_node("agent", agent)
    builder.set_entry_point("agent")
    graph = add_tool_orchestration(builder, registry(), after="agent").compile()
    out = graph.invoke({"messages": [("user", "hi")], "steps": 0})
    assert out["steps"] == 3
    assert [r["id"] for r in out["tool_results"]] == ["a", "b"]  # appended across steps


def test_two_agents_with_their_own_tools_and_plan_mode() -> None:
    class State(TypedDict, total=False):
        messages: Annotated[list[AnyMessage], add_messages]
        plan: list[dict[str, Any]]

    def planner(state: State) -> dict[str, Any]:
        return {"plan": [{"name": "aget_stock", "args": {"sku": "X"}}]}

    def reporter(state: State) -> dict[str, Any]:
        return {"plan": []}

    builder = StateGraph(State)
    builder.add_node("planner", planner)
    builder.add_node("reporter", reporter)
    builder.set_entry_point("planner")
    reg = registry()
    add_tool_orchestration(
        builder,
        reg,
        after="planner",
        then="reporter",
        agent="warehouse",
        prefix="wh",
        plan_key="plan",
    )
    builder.add_edge("reporter", END)
    out = builder.compile().invoke({"messages": []})
    (msg,) = out["messages"]
    assert msg.content == "3" and msg.status == "success" and msg.tool_call_id == "call_2_0"
    assert {"wh_select", "wh_execute", "wh_aggregate"} <= set(builder.nodes)


def test_no_tool_calls_goes_to_otherwise() -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage("no tools needed")]))
    out = build(registry(), model).compile().invoke({"messages": [("user", "hi")]})
    assert [m.content for m in out["messages"]] == ["hi", "no tools needed"]
    assert "tool_results" not in out


def test_manual_wiring_and_bad_mounts() -> None:
    builder = StateGraph(MessagesState)
    builder.add_node(
        "agent",
        lambda s: {
            "messages": [
                AIMessage(
                    "", tool_calls=[{"name": "get_user", "args": {"user_id": "9"}, "id": "z"}]
                )
            ]
        },
    )
    builder.set_entry_point("agent")
    add_tool_orchestration(builder, registry(), after=None)
    builder.add_edge("agent", "tools_select")
    out = builder.compile().invoke({"messages": []})
    assert out["messages"][-1].content == '{"user_id": "9", "name": "Ada"}'
    with pytest.raises(ConfigurationError, match="already exists"):
        add_tool_orchestration(builder, registry(), after=None)
    with pytest.raises(ConfigurationError, match="not a node"):
        add_tool_orchestration(StateGraph(MessagesState), registry(), after="ghost")
