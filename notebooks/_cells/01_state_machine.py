"""Notebook 01: state machines (pattern 2)."""

from _common import HELPERS, code, md

CELLS = [
    md(
        """
# 01 · State machines: an agent that can only take declared moves

An agent whose path is an explicit finite state machine is predictable: every state and every
allowed move is declared, a bad machine is refused **before** it runs, and at run time the agent
can only take declared moves, cannot loop forever, and always ends in a terminal state
(`done`, `failed`, `timed_out`, `escalated`) with a reason.

`agentpatterns.fsm.StateMachine` compiles to a plain LangGraph `StateGraph`, so checkpointers,
streaming, `interrupt()` and resume work unchanged. This notebook runs offline in a few seconds.
"""
    ),
    HELPERS,
    md(
        """
## 1. Declare the machine

An order workflow: `plan -> charge -> validate -> done`. `charge` succeeds on its second
attempt (think of a card that is declined once), so `validate` sends the run back to `charge`
once. Conditions such as `key("valid")` are named, so they appear in the diagram and in the
transition log. `max_visits` bounds the loop, `timeout` bounds one attempt.
"""
    ),
    code(
        """
from agentpatterns.fsm import AgentState, StateMachine, key


class OrderState(AgentState, total=False):  # AgentState holds the machine's own keys
    order_id: str
    attempts: int
    charged: bool
    valid: bool


def plan(state):
    return {"order_id": state["order_id"].strip()}


def charge(state):
    attempts = state.get("attempts", 0) + 1
    return {"attempts": attempts, "charged": attempts >= 2}  # declined once, then accepted


def validate(state):
    return {"valid": state.get("charged", False)}


machine = (
    StateMachine(OrderState, name="order", max_steps=20)
    .state("plan", plan)
    .state("charge", charge, timeout=5.0, max_visits=3)
    .state("validate", validate)
    .transition("plan", "charge")
    .transition("charge", "validate")
    .transition("validate", "done", when=key("valid"))
    .transition("validate", "charge", when=~key("valid"))
)
mermaid(machine.to_mermaid())
"""
    ),
    md(
        """
The diagram above is the machine's own `stateDiagram-v2` (drawn from the declaration, offline).
Every state may also exit to `failed` (an error, an illegal move, a loop) and a state with a
timeout to `timed_out`. LangGraph's own drawing of the compiled graph shows the same nodes and
edges, with each state's role as node metadata:
"""
    ),
    code(
        """
builder = machine.build()  # an uncompiled StateGraph: compile it with your own checkpointer
mermaid(builder.compile().get_graph().draw_mermaid())
"""
    ),
    md(
        """
## 2. Run it on a durable checkpointer

`open_checkpointer` takes a URL (`memory:`, `sqlite:///file.db`, `postgresql://...`). Every
move is appended to `transitions` with the step, the reason (the condition that held) and the
time spent in the state.
"""
    ),
    code(
        """
from agentpatterns import open_checkpointer
from agentpatterns.checkpoint import checkpoint_size

db = f"sqlite:///{WORKDIR / 'runs.db'}"
config = {"configurable": {"thread_id": "order-42"}}
with open_checkpointer(db) as saver:
    graph = builder.compile(checkpointer=saver)
    out = graph.invoke({"order_id": " 42 "}, config)
    history = list(graph.get_state_history(config))
    size = checkpoint_size(saver, "order-42")

table(out["transitions"], ["step", "from", "to", "reason", "elapsed_ms"])
print("final status:", out["status"])
print("reason:", out["reason"], "| steps:", out["steps"], "| visits:", out["visits"])
print(f"{len(history)} checkpoints; latest is {size} bytes (budget: 100 KB per checkpoint)")
assert out["status"] == "done" and out["visits"]["charge"] == 2
"""
    ),
    md(
        """
**What you see:** the run went `validate -> charge` once (`when ~valid`) and then to `done`
(`when valid`). The log is part of the graph state, so it is in every checkpoint: you can
answer "why did the agent do that?" for any past run without extra logging, and the
observability pattern (notebook 04) turns each record into a span event.

## 3. Bad machines are refused at build time

A state nobody can reach, a state with no way to a terminal, an unknown target, a duplicate
transition: `build()` raises `MachineDefinitionError` (a `ValueError`) naming the culprit.
"""
    ),
    code(
        """
from agentpatterns.errors import MachineDefinitionError

broken = {
    "unreachable state": StateMachine(OrderState, name="b1")
    .state("plan", plan).state("orphan", plan).transition("plan", "done"),
    "no way out (a loop)": StateMachine(OrderState, name="b2")
    .state("plan", plan).transition("plan", "plan"),
    "unknown target": StateMachine(OrderState, name="b3")
    .state("plan", plan).transition("plan", "shipping"),
}
rows = []
for what, bad in broken.items():
    try:
        bad.build()
        rows.append((what, "built (unexpected)"))
    except MachineDefinitionError as exc:
        rows.append((what, f"MachineDefinitionError: {exc}"))
table(rows, ["machine", "build()"])
assert all(r[1].startswith("MachineDefinitionError") for r in rows)
"""
    ),
    md(
        """
## 4. At run time: illegal moves, endless loops and hung states end in a terminal

The guide's failure stories: an agent that skips a step, an agent looping forever, a step that
hangs. Each run below ends in a terminal state with the error recorded; none raises, none hangs.
"""
    ),
    code(
        """
import time

from agentpatterns.fsm import goto


def skip_validation(state):  # asks for a move that was never declared
    return goto("done", reason="looks fine to me")


def retry_forever(state):  # would loop for ever without max_visits
    return {"attempts": state.get("attempts", 0) + 1}


def hang(state):  # a sync node stuck on I/O
    time.sleep(3)
    return {}


cases = {
    "illegal transition": StateMachine(OrderState, name="skip")
    .state("plan", skip_validation).state("validate", validate)
    .transition("plan", "validate").transition("validate", "done"),
    "endless loop": StateMachine(OrderState, name="loop")
    .state("charge", retry_forever, max_visits=5)
    .transition("charge", "done", when=key("charged")).transition("charge", "charge"),
    "hung state": StateMachine(OrderState, name="hang")
    .state("charge", hang, timeout=0.3).transition("charge", "done"),
}
rows = []
for what, m in cases.items():
    result = m.build().compile().invoke({"order_id": "7"})
    rows.append((what, result["status"], result["steps"], result["reason"]))
table(rows, ["story", "final status", "steps", "reason"])
assert [r[1] for r in rows] == ["failed", "failed", "timed_out"]
"""
    ),
    md(
        """
**Why it matters:** without the machine, the first case would silently skip validation, the
second would spin until LangGraph's recursion limit crashed the run, and the third would block
the worker. Here each ends in a terminal with the reason in state (and in the trace), so a
supervisor, a retry policy or a human can act on it.

## 5. The guide's canonical agent in one call

`build_agent_graph` is `start -> plan -> execute -> validate -> done` with re-planning. The
planner can be a function, a LangChain chat model that can `bind_tools`, or the deterministic
`RulePlanner` used here (no model, offline).
"""
    ),
    code(
        """
from agentpatterns.fsm import Rule, RulePlanner, build_agent_graph

planner = RulePlanner([
    Rule(r"order #?(\\d+)", "get_order", lambda m, s: {"order_id": m.group(1)}),
    Rule("refund", "refund_order"),
])
agent = build_agent_graph(
    planner=planner,
    executor=lambda s: {"results": [call["name"] for call in s["plan"]]},
    validator=lambda s: {"valid": "refund_order" in s["results"], "feedback": "no refund"},
    max_replans=2,
).compile()
mermaid(agent.get_graph().draw_mermaid())
run = agent.invoke({"task": "Refund order #42"})
table(run["plan"], ["name", "args"])
table(run["transitions"], ["step", "from", "to", "reason"])
print("agent status:", run["status"])
assert run["status"] == "done"
"""
    ),
    md(
        """
## Takeaways

- Declare states and transitions; `build()` rejects machines that could get stuck.
- At run time only declared moves happen; loops and hung steps end in `failed` / `timed_out`.
- Every move is recorded in state (`transitions`), so it is checkpointed, auditable and traced.
- Next: notebook 02 puts tools behind a registry with contracts and policies.
"""
    ),
]
