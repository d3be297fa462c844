"""Notebook 02: tool orchestration (pattern 3)."""

from _common import HELPERS, code, md

CELLS = [
    md(
        """
# 02 · Tool orchestration: the agent as a tool manager

The guide's second pattern treats the agent as a **tool manager**: a *selector* checks the
planner's tool calls, an *executor* runs them in parallel under per-tool policies, an
*aggregator* merges the results back into state in call order. Tools live in one
`ToolRegistry` with their contracts, policies and per-agent permissions, so the same tool is
reused by every agent that is granted it.

Compared with LangGraph's `ToolNode`: a failing tool becomes an error result instead of
crashing the graph (or being hidden); sync tools get real per-call timeouts; arguments are
checked against the tool's contract *before* anything runs; every call is recorded in
`tool_results`. Offline: the "model" below is LangChain's fake chat model.
"""
    ),
    HELPERS,
    md(
        """
## 1. One registry, many agents

We register the 16 τ²-bench retail tools (`tools.retail`, a real SQLite store, here in memory)
plus two small tools of our own. Retail reads are granted to the agents `reader`, `default` and
`writer`; the seven writes only to `writer`.
"""
    ),
    code(
        """
import time

from langchain_core.tools import tool

from agentpatterns.orchestration import ToolPolicy, ToolRegistry
from tools.retail import READ_TOOLS, WRITE_TOOLS, RetailStore, register_retail_tools

store = RetailStore("memory:")  # a fresh copy of the τ² retail database
registry = ToolRegistry()
register_retail_tools(registry, store, timeout=2.0)


@tool
def shipping_quote(zip_code: str) -> float:
    \"\"\"Quote a shipping price for a US zip code (a slow legacy service).\"\"\"
    time.sleep(0.3)
    return 4.99


@tool
def carrier_status(tracking_id: str) -> str:
    \"\"\"Ask the carrier where a parcel is (sometimes hangs).\"\"\"
    time.sleep(5 if tracking_id.endswith("9") else 0.01)
    return "in transit"


registry.register(shipping_quote, policy=ToolPolicy(timeout=2.0, max_concurrency=8))
registry.register(carrier_status, policy=ToolPolicy(timeout=0.5))

rows = []
for agent in ("reader", "writer", "sales"):
    names = [t.name for t in registry.tools_for(agent)]
    rows.append((agent, len(names), ", ".join(n for n in names if n in WRITE_TOOLS) or "-"))
table(rows, ["agent", "tools granted", "write tools granted"])
print(f"{len(registry.names)} tools: {len(READ_TOOLS)} reads, {len(WRITE_TOOLS)} writes, 2 ours")
"""
    ),
    md(
        """
The `tools_for(agent)` list is what you pass to `model.bind_tools(...)`: a model never sees a
tool it may not call, and if it calls one anyway the selector refuses it (below).

## 2. Mount selector -> executor -> aggregator on a graph

`add_tool_orchestration(builder, registry, after="agent", agent="reader")` adds three nodes and
the routing: tool calls of the `agent` node go to the tools and back, anything else ends.
"""
    ),
    code(
        """
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.graph import MessagesState, StateGraph

from agentpatterns.orchestration import add_tool_orchestration

calls = [
    {"name": "find_user_id_by_email", "args": {"email": "sofia.rossi2645@example.com"}, "id": "c1"},
    {"name": "get_order_details", "args": {"order_id": "#W5918442"}, "id": "c2"},
    {"name": "shipping_quote", "args": {"zip_code": "10001"}, "id": "c3"},
    {"name": "cancel_pending_order", "args": {"order_id": "#W5918442", "reason": "not needed"},
     "id": "c4"},
    {"name": "get_order_details", "args": {"order_id": 5918442}, "id": "c5"},
    {"name": "get_order_details", "args": {"order_id": "#W0000000"}, "id": "c6"},
    {"name": "carrier_status", "args": {"tracking_id": "TRK-0009"}, "id": "c7"},
    {"name": "delete_database", "args": {}, "id": "c8"},
]
model = GenericFakeChatModel(messages=iter([
    AIMessage("", tool_calls=calls),
    AIMessage("Your order #W5918442 is pending; shipping to 10001 is $4.99."),
]))


class AgentState(MessagesState, total=False):
    tool_results: list  # declared so it shows up in the graph's output


def agent(state):
    return {"messages": [model.invoke(state["messages"])]}


builder = StateGraph(AgentState)
builder.add_node("agent", agent)
builder.set_entry_point("agent")
add_tool_orchestration(builder, registry, after="agent", agent="reader")
graph = builder.compile()
mermaid(graph.get_graph().draw_mermaid())
"""
    ),
    md(
        """
## 3. Run one round with eight calls: some good, some bad

The model asks for eight calls at once: two good reads, a slow but healthy tool, a write the
`reader` agent is not granted, an argument of the wrong type, an order that does not exist, a
call that hangs past its timeout, and a tool that does not exist.
"""
    ),
    code(
        """
started = time.perf_counter()
out = graph.invoke({"messages": [("user", "Where is my order #W5918442? Cancel it.")]})
elapsed = time.perf_counter() - started

tool_messages = [m for m in out["messages"] if m.type == "tool"]
table(
    [(m.tool_call_id, m.name, m.status, m.content) for m in tool_messages],
    ["call", "tool", "status", "content (what the agent reads)"],
    width=150,
)
print("final answer:", out["messages"][-1].content)
print(f"round took {elapsed:.2f} s (the hung call was abandoned after its 0.5 s timeout)")
assert [m.status for m in tool_messages].count("success") == 3
"""
    ),
    md(
        """
**What you see:** one result per call, in call order, and the run went on to the final answer.
The refused calls (not granted, wrong argument type, unknown tool) never ran: the selector
checked them against the registry before the executor started. The failed ones carry the error
type, so the agent (or a human reading the trace) can tell a business answer ("order not
found") from an infrastructure fault (a timeout). With a plain `ToolNode` the first exception
would have crashed the whole run: the guide's first failure story.

Every call is also recorded for evals and dashboards in `tool_results`:
"""
    ),
    code(
        """
table(out["tool_results"], ["id", "name", "ok", "error_type", "attempts", "elapsed_ms"])
ok = sum(r["ok"] for r in out["tool_results"])
never_ran = sum(r["attempts"] == 0 for r in out["tool_results"])
total = len(out["tool_results"])
print(f"{ok} of {total} calls succeeded; {never_ran} were refused before running")
assert not any(r["ok"] for r in out["tool_results"] if r["name"] == "carrier_status")
"""
    ),
    md(
        """
## 4. Parallel calls and per-tool concurrency

The executor runs one step's calls in parallel on a shared pool; `max_concurrency` caps how many
calls of one tool run at once (here 8), and each call still has its own timeout. Node
factories can also be used directly, without a graph: `tool_executor(registry)` takes a state
with a `plan` list.
"""
    ),
    code(
        """
from agentpatterns.orchestration import tool_executor

plan = [
    {"name": "shipping_quote", "args": {"zip_code": f"1000{i}"}, "id": f"q{i}"} for i in range(8)
]
execute = tool_executor(registry, agent="reader")
started = time.perf_counter()
outcomes = execute({"plan": plan})["tool_outcomes"]
elapsed = time.perf_counter() - started
print(f"8 calls of a 0.3 s tool took {elapsed:.2f} s in parallel (serially: 2.4 s)")
print("all ok:", all(o["ok"] for o in outcomes))
assert all(o["ok"] for o in outcomes)
"""
    ),
    md(
        """
## 5. Contracts are data, not crashes

Arguments are validated against the tool's schema (types, unknown or missing fields, a size
limit) and an optional output model. SQL- or prompt-injection-looking strings are plain data:
the retail tools use parameterised SQL, so they reach the store as values.
"""
    ),
    code(
        """
from agentpatterns.orchestration import tool_selector

select = tool_selector(registry, agent="reader")
attempts = [
    {"name": "get_user_details", "args": {"user_id": "x'; DROP TABLE users; --"}, "id": "a1"},
    {"name": "get_user_details", "args": {"user_id": "sofia_rossi_8776", "admin": 1}, "id": "a2"},
    {"name": "get_user_details", "args": {}, "id": "a3"},
    {"name": "calculate", "args": {"expression": "1" * 70000}, "id": "a4"},
]
picked = select({"plan": attempts})
table(
    [(r["id"], r["name"], r["error_type"], r["message"]) for r in picked["tool_refusals"]],
    ["call", "tool", "refused with", "why"],
    width=160,
)
accepted = execute({"plan": [a for a in attempts if a["id"] == "a1"]})["tool_outcomes"][0]
print("a1 (injection-looking id) passed the contract and reached the store as data ->",
      accepted["error"])
assert {r["id"] for r in picked["tool_refusals"]} == {"a2", "a3", "a4"}
"""
    ),
    md(
        """
## Takeaways

- One `ToolRegistry` holds every tool with its contract, policy and allow-list; agents reuse it.
- A failing, hung, refused or malformed call becomes one error result; the run goes on.
- `tool_results` records id, tool, ok, error type, attempts and time of every call.
- Retries, breakers, fallbacks and exactly-once side effects plug into `ToolPolicy`
  (notebook 05); spans for every tool call come from notebook 04.
"""
    ),
]
