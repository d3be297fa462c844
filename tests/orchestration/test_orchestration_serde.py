"""Tool orchestration checkpoints hold plain data: no msgpack allow-list entry is needed.

Outcomes (also a pydantic ``output_model`` output, failures, refusals) sit in state between the
executor and the aggregator; a SQLite checkpoint of that step is read back in a new saver.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.graph import MessagesState, StateGraph
from pydantic import BaseModel
from tenacity import stop_after_attempt, wait_none

from agentpatterns.checkpoint import open_checkpointer
from agentpatterns.orchestration import ToolPolicy, ToolRegistry, add_tool_orchestration
from agentpatterns.resilience import CircuitBreaker, Degraded, EffectLedger, Fallback, Retry


class Total(BaseModel):
    total: int


def add(a: int, b: int) -> Total:
    """Add two integers."""
    return Total(total=a + b)


def flaky() -> str:
    """Always down."""
    raise ConnectionError("down")


def write(value: int) -> str:
    """A side effect."""
    return f"wrote {value}"


def _graph(ledger: EffectLedger) -> Any:
    reg = ToolRegistry()
    reg.register(add, policy=ToolPolicy(output_model=Total))
    retry = Retry(stop=stop_after_attempt(2), wait=wait_none())
    reg.register(flaky, policy=ToolPolicy(retry=retry, breaker=CircuitBreaker(name="flaky")))
    reg.register(
        write,
        policy=ToolPolicy(side_effect=True, fallback=Fallback(Degraded("queued")), retry=retry),
    )

    def model(state: MessagesState) -> dict[str, Any]:
        if len(state["messages"]) > 1:
            return {"messages": [AIMessage("done")]}
        calls = [
            {"name": "add", "args": {"a": 2, "b": 3}, "id": "c1"},
            {"name": "flaky", "args": {}, "id": "c2"},
            {"name": "write", "args": {"value": 1}, "id": "c3"},
            {"name": "nope", "args": {}, "id": "c4"},  # refused: not registered
        ]
        return {"messages": [AIMessage("", tool_calls=calls)]}

    builder = StateGraph(MessagesState)
    builder.add_node("model", model).set_entry_point("model")
    return add_tool_orchestration(builder, reg, after="model", ledger=ledger)


def test_tool_graph_on_sqlite_needs_no_allow_list(tmp_path: Path, serde_log: Any) -> None:
    url = f"sqlite:///{tmp_path / 'cp.db'}"
    cfg: Any = {"configurable": {"thread_id": "tools-serde"}}
    ledger = EffectLedger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with open_checkpointer(url) as saver:  # stop with outcomes in state
        graph = _graph(ledger).compile(checkpointer=saver, interrupt_before=["tools_aggregate"])
        graph.invoke({"messages": []}, cfg)
    with open_checkpointer(url) as saver:
        graph = _graph(ledger).compile(checkpointer=saver)
        outcomes = graph.get_state(cfg).values["tool_outcomes"]
        out = graph.invoke(None, cfg)
        list(graph.get_state_history(cfg))
    ledger.close()
    assert [o["ok"] for o in outcomes] == [True, False, True, False]  # nope: refused
    assert outcomes[0]["output"] == {"total": 5}
    assert out["messages"][-1].content == "done"
    assert serde_log() == []
