"""Span trees, parents and attributes of instrumented graphs (sync, async, Send, subgraph)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, Send, interrupt
from opentelemetry.trace import StatusCode

from agentpatterns.observability import Observability
from agentpatterns.testing.otel import OTelCapture


class S(TypedDict, total=False):
    x: int
    items: Annotated[list[int], operator.add]
    transitions: Annotated[list[dict[str, Any]], operator.add]


def plan(state: S) -> dict[str, Any]:
    return {
        "x": state.get("x", 0) + 1,
        "transitions": [{"from": "plan", "to": "fan", "step": 1, "reason": "planned"}],
    }


def fan(state: S) -> list[Send]:
    return [Send("work", {"x": i}) for i in range(3)]


def work(state: S) -> dict[str, Any]:
    return {"items": [state["x"]]}


async def awork(state: S) -> dict[str, Any]:
    return {"items": [state["x"]]}


def done(state: S) -> Command[Any]:
    return Command(update={"transitions": [{"from": "done", "to": "end", "reason": "ok"}]})


def build(worker: Any = work) -> StateGraph[Any]:
    b = StateGraph(S)
    b.add_node("plan", plan)
    b.add_node("work", worker)
    b.add_node("done", done)
    b.add_edge(START, "plan")
    b.add_conditional_edges("plan", fan, ["work"])
    b.add_edge("work", "done")
    b.add_edge("done", END)
    return b


def tree(otel: OTelCapture) -> dict[str, Any]:
    spans = otel.spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    return {
        "spans": spans,
        "by_id": by_id,
        "parent": {
            s.name + f"#{i}": (by_id[s.parent.span_id].name if s.parent else None)
            for i, s in enumerate(spans)
        },
    }


def check_tree(otel: OTelCapture) -> None:
    spans = otel.spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    names = sorted(s.name for s in spans)
    assert names == [
        "invoke_node done",
        "invoke_node plan",
        "invoke_node work",
        "invoke_node work",
        "invoke_node work",
        "invoke_workflow g",
    ]
    root = next(s for s in spans if s.name == "invoke_workflow g")
    assert root.parent is None
    assert len({s.context.trace_id for s in spans}) == 1
    for s in spans:
        if s is not root:
            assert s.parent is not None and by_id[s.parent.span_id] is root, s.name
    assert root.attributes is not None
    assert root.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert root.attributes["gen_ai.workflow.name"] == "g"
    assert root.attributes["gen_ai.conversation.id"] == "t-1"
    work_spans = [s for s in spans if s.name == "invoke_node work"]
    assert {s.attributes["agentpatterns.node.step"] for s in work_spans} == {2}  # type: ignore[index]
    plan_span = next(s for s in spans if s.name == "invoke_node plan")
    attrs = dict(plan_span.attributes or {})
    assert attrs["gen_ai.operation.name"] == "invoke_node"
    assert attrs["agentpatterns.node.name"] == "plan"
    assert attrs["agentpatterns.node.step"] == 1
    assert attrs["agentpatterns.node.attempt"] == 1
    assert isinstance(attrs["agentpatterns.node.checkpoint_id"], str)
    assert set(str(attrs["agentpatterns.node.keys_changed"]).split(",")) == {"x", "transitions"}
    (event,) = plan_span.events
    assert event.name == "agentpatterns.transition"
    assert dict(event.attributes or {}) == {
        "agentpatterns.transition.from": "plan",
        "agentpatterns.transition.to": "fan",
        "agentpatterns.transition.reason": "planned",
        "agentpatterns.transition.step": 1,
    }
    done_span = next(s for s in spans if s.name == "invoke_node done")
    assert [e.attributes["agentpatterns.transition.to"] for e in done_span.events] == ["end"]  # type: ignore[index]
    assert all(s.status.status_code != StatusCode.ERROR for s in spans)


CONFIG = {"configurable": {"thread_id": "t-1"}}


def test_sync_span_tree_with_send_branches(otel: OTelCapture) -> None:
    obs = Observability(**otel.providers())
    graph = obs.instrument(build()).compile(checkpointer=InMemorySaver(), name="g")
    out = graph.invoke({"x": 0}, CONFIG)
    assert sorted(out["items"]) == [0, 1, 2]
    check_tree(otel)
    obs.close()


async def test_async_span_tree_with_send_branches(otel: OTelCapture) -> None:
    obs = Observability(**otel.providers())
    graph = obs.instrument(build(awork)).compile(checkpointer=InMemorySaver(), name="g")
    out = await graph.ainvoke({"x": 0}, CONFIG)
    assert sorted(out["items"]) == [0, 1, 2]
    check_tree(otel)
    obs.close()


async def test_astream_and_stream_each_open_one_run_span(otel: OTelCapture) -> None:
    obs = Observability(**otel.providers())
    graph = obs.instrument(build(awork)).compile(name="g")
    chunks = [c async for c in graph.astream({"x": 0}, CONFIG, stream_mode="updates")]
    assert len(chunks) == 5
    sync_graph = obs.instrument(build()).compile(name="g")
    chunks = list(sync_graph.stream({"x": 0}, CONFIG, stream_mode="values"))
    assert sorted(chunks[-1]["items"]) == [0, 1, 2]
    roots = [s for s in otel.spans.get_finished_spans() if s.name == "invoke_workflow g"]
    assert len(roots) == 2
    assert len({s.context.trace_id for s in roots}) == 2
    obs.close()


def test_abandoned_stream_ends_span_and_leaves_context_clean(otel: OTelCapture) -> None:
    from opentelemetry import trace

    obs = Observability(**otel.providers())
    graph = obs.instrument(build()).compile(name="g")
    for _ in graph.stream({"x": 0}, CONFIG):
        assert not trace.get_current_span().get_span_context().is_valid
        break
    roots = [s for s in otel.spans.get_finished_spans() if s.name == "invoke_workflow g"]
    assert len(roots) == 1
    assert not trace.get_current_span().get_span_context().is_valid
    obs.close()


class Sub(TypedDict, total=False):
    x: int


def test_subgraph_spans_nest_under_the_node(otel: OTelCapture) -> None:
    inner = StateGraph(Sub)
    inner.add_node("a", lambda s: {"x": s["x"] + 1})
    inner.add_node("b", lambda s: {"x": s["x"] * 10})
    inner.add_edge(START, "a")
    inner.add_edge("a", "b")
    sub = inner.compile(name="inner")  # compiled before: instrument() reaches it in place
    outer = StateGraph(Sub)
    outer.add_node("sub", sub)
    outer.add_node("last", lambda s: {"x": s["x"] + 1})
    outer.add_edge(START, "sub")
    outer.add_edge("sub", "last")
    obs = Observability(**otel.providers())
    graph = obs.instrument(outer).compile(checkpointer=InMemorySaver(), name="outer")
    assert graph.invoke({"x": 1}, CONFIG) == {"x": 21}
    spans = otel.spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}

    def parent(name: str) -> str | None:
        s = next(s for s in spans if s.name == name)
        return by_id[s.parent.span_id].name if s.parent else None

    assert parent("invoke_workflow outer") is None
    assert parent("invoke_node sub") == "invoke_workflow outer"
    assert parent("invoke_workflow inner") == "invoke_node sub"
    assert parent("invoke_node a") == "invoke_workflow inner"
    assert parent("invoke_node b") == "invoke_workflow inner"
    assert parent("invoke_node last") == "invoke_workflow outer"
    node_a = next(s for s in spans if s.name == "invoke_node a")
    assert "|" in str((node_a.attributes or {})["agentpatterns.node.checkpoint_ns"])
    obs.close()


def test_node_error_sets_error_type_and_status(otel: OTelCapture) -> None:
    def boom(state: S) -> dict[str, Any]:
        raise ValueError("order for ann@example.com not found")

    b = StateGraph(S)
    b.add_node("boom", boom)
    b.add_edge(START, "boom")
    obs = Observability(**otel.providers())
    graph = obs.instrument(b).compile(name="g")
    with pytest.raises(ValueError):
        graph.invoke({"x": 0}, CONFIG)
    spans = {s.name: s for s in otel.spans.get_finished_spans()}
    for name in ("invoke_node boom", "invoke_workflow g"):
        span = spans[name]
        assert span.status.status_code == StatusCode.ERROR
        assert (span.attributes or {})["error.type"] == "ValueError"
        assert "ann@example.com" not in (span.status.description or "")
    event = spans["invoke_node boom"].events[0]
    assert event.name == "exception"
    assert "[REDACTED:email]" in str((event.attributes or {})["exception.message"])
    obs.close()


def test_interrupt_is_not_an_error(otel: OTelCapture) -> None:
    def ask(state: S) -> dict[str, Any]:
        answer = interrupt("approve?")
        return {"x": int(answer)}

    b = StateGraph(S)
    b.add_node("ask", ask)
    b.add_edge(START, "ask")
    obs = Observability(**otel.providers())
    graph = obs.instrument(b).compile(checkpointer=InMemorySaver(), name="g")
    out = graph.invoke({"x": 0}, CONFIG)
    assert "__interrupt__" in out
    spans = otel.spans.get_finished_spans()
    assert all(s.status.status_code != StatusCode.ERROR for s in spans)
    assert all("error.type" not in (s.attributes or {}) for s in spans)
    node = next(s for s in spans if s.name == "invoke_node ask")
    assert (node.attributes or {})["agentpatterns.node.interrupted"] is True
    root = next(s for s in spans if s.name == "invoke_workflow g")
    assert (root.attributes or {})["agentpatterns.workflow.interrupted"] is True
    assert graph.invoke(Command(resume="7"), CONFIG)["x"] == 7
    obs.close()


# --- tools --------------------------------------------------------------------------------
@tool
def lookup(order_id: str) -> str:
    """Look an order up."""
    return f"order {order_id}: shipped"


@tool
def fail(order_id: str) -> str:
    """Always fails."""
    raise ConnectionError("down")


class M(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def agent(state: M) -> dict[str, Any]:
    if len(state["messages"]) > 1:
        return {"messages": [AIMessage("done")]}
    calls = [{"name": "lookup", "args": {"order_id": str(i)}, "id": f"call-{i}"} for i in range(2)]
    calls.append({"name": "fail", "args": {"order_id": "9"}, "id": "call-9"})
    return {"messages": [AIMessage("", tool_calls=calls)]}


def tool_graph() -> StateGraph[Any]:
    b = StateGraph(M)
    b.add_node("agent", agent)
    b.add_node("tools", ToolNode([lookup, fail], handle_tool_errors=True))
    b.add_edge(START, "agent")
    b.add_conditional_edges(
        "agent", lambda s: "tools" if s["messages"][-1].tool_calls else END, ["tools", END]
    )
    b.add_edge("tools", "agent")
    return b


def check_tools(otel: OTelCapture) -> None:
    spans = otel.spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    tools = [s for s in spans if s.name.startswith("execute_tool")]
    assert sorted(s.name for s in tools) == [
        "execute_tool fail",
        "execute_tool lookup",
        "execute_tool lookup",
    ]
    for s in tools:
        assert s.parent is not None
        assert by_id[s.parent.span_id].name == "invoke_node tools"
        attrs = dict(s.attributes or {})
        assert attrs["gen_ai.operation.name"] == "execute_tool"
        assert attrs["gen_ai.tool.type"] == "function"
        assert attrs["gen_ai.tool.call.id"].startswith("call-")  # type: ignore[union-attr]
        assert "gen_ai.tool.call.arguments" not in attrs  # content capture is off
    failed = next(s for s in tools if s.name == "execute_tool fail")
    assert failed.status.status_code == StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "ConnectionError"
    points = otel.metric_points("gen_ai.client.operation.duration")
    ops = {
        (
            p.attributes.get("gen_ai.operation.name"),
            p.attributes.get("gen_ai.tool.name"),
            p.attributes.get("error.type"),
        ): p.count
        for p in points
    }
    assert ops[("execute_tool", "lookup", None)] == 2
    assert ops[("execute_tool", "fail", "ConnectionError")] == 1
    assert ops[("invoke_workflow", None, None)] == 1


def test_tool_spans_parent_is_the_node_sync(otel: OTelCapture) -> None:
    obs = Observability(**otel.providers())
    graph = obs.instrument(tool_graph()).compile(name="tools")
    graph.invoke({"messages": []}, CONFIG)
    check_tools(otel)
    obs.close()


async def test_tool_spans_parent_is_the_node_async(otel: OTelCapture) -> None:
    obs = Observability(**otel.providers())
    graph = obs.instrument(tool_graph()).compile(name="tools")
    await graph.ainvoke({"messages": []}, CONFIG)
    check_tools(otel)
    obs.close()


def test_chat_model_span_with_usage(otel: OTelCapture) -> None:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    model = GenericFakeChatModel(messages=iter([AIMessage("hi there")]))

    def call(state: M) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    b = StateGraph(M)
    b.add_node("call", call)
    b.add_edge(START, "call")
    obs = Observability(**otel.providers())
    graph = obs.instrument(b).compile(name="chat")
    graph.invoke({"messages": [("user", "hello")]}, CONFIG)
    spans = {s.name: s for s in otel.spans.get_finished_spans()}
    chat = next(s for n, s in spans.items() if n.startswith("chat "))
    assert chat.parent is not None
    assert chat.parent.span_id == spans["invoke_node call"].context.span_id
    assert (chat.attributes or {})["gen_ai.operation.name"] == "chat"
    obs.close()


def test_instrumenting_twice_and_marker(otel: OTelCapture) -> None:
    obs = Observability(**otel.providers())
    b = obs.instrument(obs.instrument(build()))
    func = b.nodes["plan"].runnable.func  # type: ignore[union-attr]
    assert func.__agentpatterns__["instrumented"] is True
    b.compile(name="g").invoke({"x": 0}, CONFIG)
    assert len([s for s in otel.spans.get_finished_spans() if s.name == "invoke_node plan"]) == 1
    obs.close()


def test_instrument_compiled_graph_in_place(otel: OTelCapture) -> None:
    obs = Observability(**otel.providers())
    graph = build().compile(name="g")
    assert obs.instrument(graph) is graph
    graph.invoke({"x": 0}, CONFIG)
    check_tree(otel)
    copy = graph.with_config(recursion_limit=50)  # copies keep the traced class
    otel.spans.clear()
    copy.invoke({"x": 0}, CONFIG)
    check_tree(otel)
    obs.close()


def test_state_machine_span_tree_and_transition_counters(otel: OTelCapture) -> None:
    from agentpatterns.fsm import AgentState, StateMachine

    class FS(AgentState, total=False):
        x: int

    machine = (
        StateMachine(FS, name="m")
        .state("plan", lambda s: {"x": s.get("x", 0) + 1})
        .state("execute", lambda s: {"x": s["x"] * 2})
        .transition("plan", "execute")
        .transition("execute", "done")
    )
    obs = Observability(**otel.providers())
    graph = obs.instrument(machine.build()).compile(name="m")
    assert graph.invoke({"x": 1}, CONFIG)["x"] == 4
    spans = otel.spans.get_finished_spans()
    root = next(s for s in spans if s.name == "invoke_workflow m")
    nodes = sorted((s for s in spans if s is not root), key=lambda s: s.start_time or 0)
    assert [s.name for s in nodes] == [
        "invoke_node plan",
        "invoke_node execute",
        "invoke_node done",
    ]
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in nodes)
    moves = [
        (e.attributes["agentpatterns.transition.from"], e.attributes["agentpatterns.transition.to"])  # type: ignore[index]
        for s in nodes
        for e in s.events
    ]
    assert ("plan", "execute") in moves and ("execute", "done") in moves
    assert otel.counter_total("agentpatterns.transitions") >= 2
    obs.close()
