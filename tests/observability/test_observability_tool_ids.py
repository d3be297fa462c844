"""Tool calls run by the orchestration executor carry their call id into spans and the audit log.

The executor invokes tools with plain arguments (so outputs stay as the tool returned them);
it passes the call id in the callback metadata, where ``ObservabilityCallbackHandler`` reads
it for ``gen_ai.tool.call.id`` and the audit record's ``call_id``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langgraph.graph import MessagesState, StateGraph

from agentpatterns.observability import AuditLog, Observability
from agentpatterns.orchestration import ToolRegistry, add_tool_orchestration, tool_executor
from agentpatterns.testing.otel import OTelCapture

CALLS = {"c-add-1": ("add", {"a": 2, "b": 3}), "c-add-2": ("add", {"a": 1, "b": 1})}
CALLS["c-boom-3"] = ("boom", {})


def add(a: int, b: int) -> dict[str, int]:
    """Add two integers."""
    return {"sum": a + b}


def boom() -> str:
    """Always fails."""
    raise ConnectionError("down")


def model(state: MessagesState) -> dict[str, Any]:
    if len(state["messages"]) > 1:
        return {"messages": [AIMessage("done")]}
    calls = [{"name": n, "args": a, "id": i} for i, (n, a) in CALLS.items()]
    return {"messages": [AIMessage("", tool_calls=calls)]}


def _graph(obs: Observability, fused: bool) -> Any:
    reg = ToolRegistry()
    reg.register(add)
    reg.register(boom)
    builder = StateGraph(MessagesState)
    builder.add_node("model", model).set_entry_point("model")
    add_tool_orchestration(builder, reg, after="model", fused=fused)
    return obs.instrument(builder).compile(name="tool_ids")


def _check(otel: OTelCapture, log: AuditLog, out: dict[str, Any]) -> None:
    assert [m.content for m in out["messages"][1:3]] == ['{"sum": 5}', '{"sum": 2}']
    spans = [s for s in otel.spans.get_finished_spans() if s.name.startswith("execute_tool")]
    got = {s.attributes["gen_ai.tool.call.id"]: s.name for s in spans}  # type: ignore[index]
    assert got == {i: f"execute_tool {n}" for i, (n, _) in CALLS.items()}
    log.flush()
    tools = [r for r in log.query(thread_id="tid", limit=None) if r.kind == "tool"]
    assert {r.data["call_id"]: (r.tool, r.status) for r in tools} == {
        "c-add-1": ("add", "ok"),
        "c-add-2": ("add", "ok"),
        "c-boom-3": ("boom", "error"),
    }


@pytest.mark.parametrize("fused", [False, True])
def test_tool_spans_and_audit_records_carry_the_call_id(
    otel: OTelCapture, tmp_path: Path, fused: bool
) -> None:
    with AuditLog(f"sqlite:///{tmp_path / 'audit.db'}") as log:
        obs = Observability(**otel.providers(), audit=log)
        try:
            graph = _graph(obs, fused)
            out = graph.invoke({"messages": []}, {"configurable": {"thread_id": "tid"}})
            _check(otel, log, out)
        finally:
            obs.close()


async def test_async_tool_spans_and_audit_records_carry_the_call_id(
    otel: OTelCapture, tmp_path: Path
) -> None:
    with AuditLog(f"sqlite:///{tmp_path / 'audit.db'}") as log:
        obs = Observability(**otel.providers(), audit=log)
        try:
            graph = _graph(obs, fused=False)
            out = await graph.ainvoke({"messages": []}, {"configurable": {"thread_id": "tid"}})
            _check(otel, log, out)
        finally:
            obs.close()


def test_executor_output_unchanged_and_nested_tool_does_not_take_the_id() -> None:
    seen: list[Any] = []

    def inner(x: int) -> int:
        """Inner tool."""
        return x

    inner_reg = ToolRegistry()
    inner_reg.register(inner)

    def outer(x: int) -> dict[str, int]:
        """Calls another tool directly (no call id of its own)."""
        return {"y": inner_reg.spec("inner").tool.invoke({"x": x})}

    from langchain_core.callbacks import BaseCallbackHandler

    class Spy(BaseCallbackHandler):
        def on_tool_start(self, serialized: Any, input_str: str, **kw: Any) -> None:
            seen.append(
                (serialized["name"], (kw.get("metadata") or {}).get("agentpatterns_tool_call"))
            )

    reg = ToolRegistry()
    reg.register(outer)
    node = tool_executor(reg)
    plan = {"plan": [{"name": "outer", "args": {"x": 4}, "id": "c-outer"}]}
    out = node(plan, {"callbacks": [Spy()]})["tool_outcomes"][0]
    assert out["output"] == {"y": 4} and out["content"] == '{"y": 4}'  # not stringified
    assert seen[0] == ("outer", {"id": "c-outer", "name": "outer"})
    assert seen[1][0] == "inner"  # inherits the metadata; the handler checks the tool name
