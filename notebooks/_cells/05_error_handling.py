"""Notebook 05: error handling (pattern 5)."""

from _common import HELPERS, code, md

CELLS = [
    md(
        """
# 05 · Error handling: retry, break, degrade, exactly once, roll back, escalate

The guide's fifth pattern: retry transient faults with exponential backoff (and never permanent
ones), never loop, fail fast while a dependency is down and serve a degraded answer, make every
side effect happen exactly once, roll back with compensation when state is inconsistent, alert,
and always keep a path to a human.

Every section below **injects faults** with `agentpatterns.testing.faults.FaultInjector`, which
wraps any LangChain tool with seeded faults (transient errors, timeouts, lost responses,
permanent errors, rate limits, outages): the same seed gives the same faults, so what you see
here is reproducible. Everything runs offline on SQLite files in a temporary folder.
"""
    ),
    HELPERS,
    md(
        """
First, an `Alerter` with the default rules (retries exhausted, breaker opened, compensation
failed, escalation, effect in doubt ...) sending into a list, so we can show at the end which
alerts the faults below raised.
"""
    ),
    code(
        """
from agentpatterns.alerts import DEFAULT_RULES, Alerter, CallableSink

alerts = []
alerter = Alerter([CallableSink(alerts.append)], rules=DEFAULT_RULES, dedupe_seconds=60).attach()
"""
    ),
    md(
        """
## 1. Which errors are worth retrying?

`classify_error` decides: network errors, timeouts and HTTP 5xx/408 are **transient**, HTTP 429
or a `retry_after` is **rate-limited** (the wait honours it), everything else is **permanent**
(a bad argument, "order not found", HTTP 4xx, a contract breach). LangGraph's default
`retry_on` retries a 404 and not a `TimeoutError`; this classification does the opposite.
"""
    ),
    code(
        """
from agentpatterns.errors import ToolContractError
from agentpatterns.resilience import classify_error
from agentpatterns.testing.faults import (
    InjectedTimeout,
    PermanentFault,
    RateLimitFault,
    TransientFault,
)


class HTTPError(Exception):
    def __init__(self, status_code):
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


samples = [
    ConnectionError("connection reset"),
    TimeoutError("read timed out"),
    TransientFault("injected"),
    InjectedTimeout("injected"),
    HTTPError(503),
    HTTPError(429),
    RateLimitFault("slow down", retry_after=2.0),
    HTTPError(404),
    ValueError("order #W000 not found"),
    PermanentFault("injected"),
    ToolContractError("argument 'order_id' must be a string"),
]
table([(type(e).__name__, str(e), classify_error(e)) for e in samples],
      ["error", "message", "class"])
"""
    ),
    md(
        """
## 2. Retry with exponential backoff under 30 % injected faults

Thirty price look-ups through the tool executor, with the `flaky-30` fault profile (15 %
transient errors, 15 % timeouts). Without a retry policy every fault is a failed call; with
`Retry` (tenacity's `stop_after_attempt` and `wait_exponential_jitter`) they all succeed.
`retry_scope()` gives the run one shared retry budget.
"""
    ),
    code(
        """
from langchain_core.tools import tool
from tenacity import stop_after_attempt, wait_exponential_jitter

from agentpatterns.orchestration import ToolPolicy, ToolRegistry, tool_executor
from agentpatterns.resilience import Retry, RetryBudget, retry_scope
from agentpatterns.testing.faults import FaultInjector, fault_profile


@tool
def get_price(sku: str) -> float:
    \"\"\"Current price of a SKU.\"\"\"
    return 19.99


fast_backoff = wait_exponential_jitter(multiplier=0.01, max=0.05, jitter=0.005)  # demo-sized waits
retry = Retry(stop=stop_after_attempt(6), wait=fast_backoff)
plan = [{"name": "get_price", "args": {"sku": f"SKU-{i}"}, "id": f"p{i}"} for i in range(30)]

rows = []
for label, policy, injector in [
    ("no retry", ToolPolicy(timeout=1.0), fault_profile("flaky-30", seed=7)),
    ("Retry", ToolPolicy(timeout=1.0, retry=retry), fault_profile("flaky-30", seed=7)),
    ("Retry, permanent faults", ToolPolicy(timeout=1.0, retry=retry),
     FaultInjector(7, permanent_rate=0.3)),
]:
    registry = ToolRegistry()
    registry.register(injector.wrap(get_price), policy=policy)
    with retry_scope():
        outcomes = tool_executor(registry)({"plan": plan})["tool_outcomes"]
    faults = {k: v for k, v in injector.counts.items() if k != "calls"}
    rows.append((label, f"{sum(o['ok'] for o in outcomes)}/30", injector.counts["calls"], faults,
                 max(o["attempts"] for o in outcomes)))
table(rows, ["policy", "calls ok", "tool invocations", "faults injected", "max attempts"])
assert rows[1][1] == "30/30" and rows[2][4] == 1
"""
    ),
    md(
        """
**What you see:** with `Retry`, every call succeeded although 20 % of the invocations failed;
the permanent faults were **not** retried (max attempts 1): retrying "order not found" only
burns time and, for writes, risks doing harm.

## 3. A retry budget: jitter storms cannot loop

The guide's "retries looping on network jitter" story. Here the dependency is down for good
(`outage=True`) and each call may try 4 times, but the run's budget allows only 5 retries in
total: the whole run makes 15 invocations instead of 40, and gives up quickly.
"""
    ),
    code(
        """
budgeted = Retry(stop=stop_after_attempt(4), wait=fast_backoff, budget=RetryBudget(max_retries=5))
injector = FaultInjector(1, outage=True)
registry = ToolRegistry()
registry.register(injector.wrap(get_price), policy=ToolPolicy(retry=budgeted))
storm = [{"name": "get_price", "args": {"sku": f"SKU-{i}"}, "id": f"j{i}"} for i in range(10)]
with retry_scope():
    outcomes = tool_executor(registry)({"plan": storm})["tool_outcomes"]
table(outcomes, ["id", "ok", "attempts", "error_type", "error"], width=110, limit=10)
print("tool invocations:", injector.counts["calls"], "(without a budget: 40)")
assert injector.counts["calls"] == 15
"""
    ),
    md(
        """
## 4. Circuit breaker and fallback: degrade while a dependency is down

A `CircuitBreaker` counts calls whose retries were used up; after `failure_threshold` of them
it **opens**: calls fail fast without touching the dependency, and the `Fallback` serves a
degraded answer. After `reset_timeout` one trial call is let through (**half-open**); if it
succeeds the breaker closes again.
"""
    ),
    code(
        """
import time

from agentpatterns.resilience import CircuitBreaker, Degraded, Fallback

injector = FaultInjector(2, outage=True)
breaker = CircuitBreaker("pricing", failure_threshold=3, reset_timeout=0.5)
registry = ToolRegistry()
registry.register(
    injector.wrap(get_price),
    policy=ToolPolicy(
        retry=Retry(stop=stop_after_attempt(2), wait=fast_backoff),
        breaker=breaker,
        fallback=Fallback(Degraded({"price": None, "note": "pricing unavailable, try later"})),
    ),
)
execute = tool_executor(registry)


def one_call(i):
    with retry_scope():
        o = execute({"plan": [{"name": "get_price", "args": {"sku": "MUG"}, "id": f"b{i}"}]})
    o = o["tool_outcomes"][0]
    return {"call": i, "answer": o["content"], "attempts": o["attempts"],
            "breaker after": breaker.state, "dependency calls so far": injector.counts["calls"]}


rows = [one_call(i) for i in range(6)]
injector.outage = False  # the pricing service comes back
time.sleep(0.6)  # reset_timeout passes: the next call is the half-open trial
rows += [one_call(6), one_call(7)]
table(rows)
assert rows[-1]["answer"] == "19.99" and rows[-1]["breaker after"] == "closed"
"""
    ),
    md(
        """
**What you see:** calls 0-2 tried the dependency twice each and got the degraded answer; the
breaker opened after the third, so calls 3-5 never touched the dead service (the count of
dependency calls stops growing) and still answered at once. When the service came back, the
trial call closed the breaker. The agent never crashed and never hammered a dead service.

## 5. Exactly-once side effects under lost responses

The nastiest fault: the call **ran and committed**, but the response was lost on the way back
(`lost_response_rate`). A plain retry runs the write again: the guide's "same order processed
twice". Here a non-idempotent `ship_parcel` tool, 20 orders, 30 % lost responses.

With `ToolPolicy(side_effect=True, reconcile=...)` and a registry holding an `EffectLedger`, the
executor claims an idempotency key (`thread:namespace:call id`) in the ledger before the call
and stores the result after; a re-attempt first asks `reconcile` whether the write already
happened. Running the same calls again (a replay, or a resume after a crash) returns the stored
results without calling the tool.
"""
    ),
    code(
        """
from agentpatterns.resilience import EffectLedger

shipments = []


@tool
def ship_parcel(order_id: str) -> dict:
    \"\"\"Hand a parcel to the carrier (not idempotent: every call ships).\"\"\"
    shipments.append(order_id)
    return {"shipment": f"SH-{len(shipments)}", "order_id": order_id}


def find_shipment(args):  # reconcile: did this write already happen?
    for i, order in enumerate(shipments):
        if order == args["order_id"]:
            return {"shipment": f"SH-{i + 1}", "order_id": order}
    return None


ledger = EffectLedger(f"sqlite:///{WORKDIR / 'effects.db'}")
orders = [{"name": "ship_parcel", "args": {"order_id": f"O-{i}"}, "id": f"s{i}"} for i in range(20)]
rows = []
for label, registry_ledger, policy in [
    ("plain retry", None, ToolPolicy(retry=retry)),
    ("ledger + reconcile", ledger,
     ToolPolicy(retry=retry, side_effect=True, reconcile=find_shipment)),
]:
    shipments.clear()
    injector = FaultInjector(3, lost_response_rate=0.3)
    registry = ToolRegistry(ledger=registry_ledger)
    registry.register(injector.wrap(ship_parcel), policy=policy)
    execute = tool_executor(registry)
    config = {"configurable": {"thread_id": f"shipping-{label}"}}
    for run in ("first run", "replay"):
        with retry_scope():
            outcomes = execute({"plan": orders}, config)["tool_outcomes"]
        rows.append((label, run, sum(o["ok"] for o in outcomes), injector.counts["lost_response"],
                     len(shipments), len(shipments) - len(set(shipments))))
table(rows, ["policy", "run", "calls ok", "lost responses (total)", "parcels shipped",
            "duplicates"])
assert rows[2][4] == 20 and rows[3][4] == 20 and rows[3][5] == 0
"""
    ),
    code(
        """
effects = ledger.effects("shipping-ledger + reconcile")
table([(e.key, e.tool, e.args, e.status, e.result) for e in effects[:5]],
      ["idempotency key", "tool", "args", "status", "stored result"])
print(len(effects), "effects in the ledger, one per call")
"""
    ),
    md(
        """
**Why it matters:** with the plain retry, every lost response became a second shipment, and
the replay shipped everything again. With the ledger every order shipped exactly once, across
retries and the replay. The ledger is a table in the same SQLite (or PostgreSQL) database as your
checkpoints, so it survives a `kill -9` too.

## 6. Partial success: a saga compensates what already happened

The reference `graphs.order_processing` graph charges a card, reserves stock, then e-mails the
customer. We inject an **outage of the e-mail service only**. The payment and the reservation
succeeded; the notification exhausts its retries; the state machine moves to `compensate`,
which undoes the earlier steps **newest first** (release the stock, refund the charge): the
guide's "some tools succeeded while others failed" story ends consistent.
"""
    ),
    code(
        """
from agentpatterns import open_checkpointer
from graphs.order_processing import DEMO_ORDER, Inventory
from graphs.order_processing import build as build_orders
from tools import notifications, payments

gateway = payments.PaymentGateway(f"sqlite:///{WORKDIR / 'payments.db'}")
inventory = Inventory(f"sqlite:///{WORKDIR / 'inventory.db'}")
outbox = notifications.Outbox(f"sqlite:///{WORKDIR / 'outbox.db'}")
order_ledger = EffectLedger(f"sqlite:///{WORKDIR / 'order-effects.db'}")
email_down = FaultInjector(11, outage=True, tools=["send_email"])


def world():
    return {"card charged": gateway.balance(DEMO_ORDER["payment_method_id"]),
            "MUG-BLUE in stock": inventory.available("MUG-BLUE"),
            "e-mails queued": outbox.count("queued")}


saver_cm = open_checkpointer(f"sqlite:///{WORKDIR / 'orders.db'}")
saver = saver_cm.__enter__()
orders_graph = build_orders(
    ledger=order_ledger, gateway=gateway, inventory=inventory, outbox=outbox, faults=email_down
).compile(checkpointer=saver)
mermaid(orders_graph.get_graph().draw_mermaid())
print("before:", world())
config = {"configurable": {"thread_id": "order-1001"}}
with retry_scope():
    out = orders_graph.invoke({"order": DEMO_ORDER}, config)
table(out["transitions"], ["step", "from", "to", "reason"], width=120)
print("final status:", out["status"])
print("after: ", world())
table([(e.tool, e.status, e.compensated) for e in order_ledger.effects("order-1001")],
      ["effect", "ledger status", "compensated"])
assert out["status"] == "failed" and world()["card charged"] == 0.0
"""
    ),
    md(
        """
## 7. Rollback to an earlier checkpoint, with compensation

Sometimes the inconsistency is found *after* a run finished (a fraud check, a human review).
`rollback(graph, config, to=..., ledger=..., compensations=...)` rewinds the thread to an earlier
checkpoint (LangGraph's own fork: the history stays auditable) and runs the compensations of
the side effects recorded after it, newest first, marking each in the ledger. Here the e-mail
service is back, order 1002 completes, and then we roll it back to just before the payment.
"""
    ),
    code(
        """
from agentpatterns.resilience import last_where, rollback

email_down.outage = False
config = {"configurable": {"thread_id": "order-1002"}}
out = orders_graph.invoke({"order": {**DEMO_ORDER, "order_id": "O-1002"}}, config)
print("order 1002:", out["status"], "|", world())

compensations = {
    "charge_payment": payments.compensation(gateway),
    "reserve_inventory": lambda args, result: inventory.release(result["reservation_id"]),
    "send_email": notifications.compensation(outbox),
}
new_config = rollback(
    orders_graph, config,
    to=last_where(lambda snap: snap.next == ("charge",)),  # the checkpoint before the payment
    ledger=order_ledger, compensations=compensations,
)
print("after rollback:", world())
print("thread resumes at:", orders_graph.get_state(new_config).next)
table([(e.tool, e.status, e.compensated) for e in order_ledger.effects("order-1002")],
      ["effect", "ledger status", "compensated"])
assert world() == {"card charged": 0.0, "MUG-BLUE in stock": 200, "e-mails queued": 0}
"""
    ),
    md(
        """
## 8. Escalation to a human, and resume

When retries are used up and there is no safe automatic answer, the run should stop and ask a
person, not crash and not guess. `escalate_to_human()` is a node that pauses with LangGraph's
`interrupt()` and a typed request (reason, context, the JSON schema of the expected answer);
the run resumes, possibly days later and in another process, with `Command(resume=...)`.

A checkout machine: `charge` retries 3 times against a payment service that is down, its
`on_error` exit goes to `prepare` (which writes the reason) and then to `escalate`.
"""
    ),
    code(
        """
from langgraph.types import Command

from agentpatterns.fsm import AgentState, StateMachine, when
from agentpatterns.resilience import escalate_to_human

payments_down = FaultInjector(5, outage=True)


@tool
def charge_card(order_id: str, amount: float) -> dict:
    \"\"\"Charge the customer's card.\"\"\"
    return {"order_id": order_id, "charged": amount}


charge_tool = payments_down.wrap(charge_card)


class Checkout(AgentState, total=False):
    order_id: str
    receipt: dict
    escalation_reason: str
    human_decision: dict


def charge(state):
    return {"receipt": charge_tool.invoke({"order_id": state["order_id"], "amount": 59.97})}


def prepare(state):
    err = state["error"]
    return {"escalation_reason": f"payment failed after retries: {err['type']}: {err['message']}"}


human_says_retry = when(lambda s: s["human_decision"]["action"] == "retry", name="human: retry")
checkout = (
    StateMachine(Checkout, name="checkout")
    .state("charge", charge, retry=Retry(stop=stop_after_attempt(3), wait=fast_backoff),
           on_error="prepare")
    .state("prepare", prepare)
    .state("escalate", escalate_to_human(status_key=None, context_keys=("order_id",)))
    .transition("charge", "done")
    .transition("prepare", "escalate")
    .transition("escalate", "charge", when=human_says_retry)
    .transition("escalate", "escalated")
)
mermaid(checkout.to_mermaid())
app = checkout.build().compile(checkpointer=saver)
config = {"configurable": {"thread_id": "checkout-77"}}
paused = app.invoke({"order_id": "O-77"}, config)
request = paused["__interrupt__"][0].value
table([(k, request[k]) for k in ("reason", "node", "thread_id", "context")], ["field", "value"],
      width=140)
print("waiting at:", app.get_state(config).next, "| allowed actions:",
      request["response_schema"]["properties"]["action"]["enum"])
"""
    ),
    md(
        """
The run is paused and checkpointed. An operator checks the payment provider, sees it is back,
and answers `retry`. An invalid answer would pause again with the validation error.
"""
    ),
    code(
        """
payments_down.outage = False  # the provider is back
answer = {"action": "retry", "by": "ana", "note": "provider back up"}
out = app.invoke(Command(resume=answer), config)
table(out["transitions"], ["step", "from", "to", "reason"], width=120)
print("final status:", out["status"], "| receipt:", out["receipt"],
      "| decided by:", out["human_decision"]["by"])
assert out["status"] == "done"
"""
    ),
    md(
        """
## 9. What the faults above raised as alerts

Every retry exhaustion, breaker opening, rollback and escalation was an event on the core event
hook; the `Alerter` turned the ones its rules care about into alerts, deduplicated (one alert
per breaker, not one per call) and rate-limited.
"""
    ),
    code(
        """
table([(a.name, a.severity, a.message) for a in alerts], ["alert", "severity", "message"],
      width=120)
assert any(a.name == "breaker_open" for a in alerts)
alerter.close()
saver_cm.__exit__(None, None, None)
"""
    ),
    md(
        """
## Takeaways

- Classify before retrying: transient and rate-limited errors are retried with backoff,
  permanent ones never; a per-run budget bounds retry storms.
- A breaker stops calls to a dead dependency and a fallback answers meanwhile.
- Side effects go through the `EffectLedger`: exactly once across retries, replays and crashes.
- A failed step compensates what already happened; `rollback` rewinds a thread and compensates.
- When nothing automatic is safe, `escalate_to_human` pauses the run until a person answers.
"""
    ),
]
