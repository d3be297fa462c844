"""Order processing as a saga: payment -> inventory reservation -> notification.

Patterns combined: a **state machine** (pattern 2) drives the saga; **tool orchestration**
(pattern 3) runs the three side effects through one registry (``tools.payments``,
``tools.notifications`` and the graph's small inventory service); **error handling**
(pattern 5): every step has a classified ``Retry`` and a ``CircuitBreaker`` per dependency,
and a *business* idempotency key (a hash of the step's arguments, which name the order and
its attempt) that the ``EffectLedger`` and the payment gateway both honour — so a retry
after a lost response, a resume after a crash, or the same order submitted twice returns
the first charge (the guide's "order processed twice" story cannot happen).
When a later step fails, the earlier ones are
compensated newest first (release the stock, refund the charge); a compensation that fails
escalates to a human. :func:`rollback_order` rewinds a thread to its last consistent
checkpoint with ``agentpatterns.resilience.rollback`` (compensating what ran after it).

.. code-block:: text

    receive ──> charge ──> reserve ──> notify ──> validate ──> done
                  │           │          │           │
                  └───────────┴──────────┴───────────┴─(step failed)─> compensate ──> failed
                                                          (undo failed) └──> escalate ──> escalated

Example:
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> from graphs.order_processing import DEMO_ORDER, build
    >>> graph = build().compile(checkpointer=InMemorySaver())
    >>> out = graph.invoke({"order": DEMO_ORDER}, {"configurable": {"thread_id": "o1"}})
    >>> out["status"], out["charge"]["amount"], out["reservation"]["status"]
    ('done', 59.97, 'active')
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import StateGraph

from agentpatterns.events import emit
from agentpatterns.fsm import AgentState, StateMachine, goto, key, when
from agentpatterns.orchestration import ToolPolicy, ToolRegistry, tool_executor
from agentpatterns.resilience import EffectLedger, Retry, escalate_to_human, last_where, rollback
from graphs._common import (
    Resources,
    attach_resources,
    default_breaker,
    default_retry,
    is_domain_error,
    marked,
    open_ledger,
)
from graphs.order_processing.inventory import Inventory, inventory_tools

__all__ = ["DEMO_ORDER", "OrderState", "build", "make_graph", "rollback_order"]

#: An order the examples, the CLI and the server use.
DEMO_ORDER: dict[str, Any] = {
    "order_id": "O-1001",
    "email": "ann@example.com",
    "payment_method_id": "credit_card_4242",
    "items": [{"sku": "MUG-BLUE", "qty": 3, "price": 19.99}],
}

_STEPS = ("charge", "reserve", "notify")
_TOOLS = {"charge": "charge_payment", "reserve": "reserve_inventory", "notify": "send_email"}


class OrderState(AgentState, total=False):
    """State of the saga."""

    order: dict[str, Any]
    amount: float
    attempt: int
    charge: dict[str, Any] | None
    reservation: dict[str, Any] | None
    notification: dict[str, Any] | None
    failed_step: str | None
    step_error: str | None
    compensated: list[dict[str, Any]]
    consistent: bool
    validated: bool
    answer: str | None
    escalation_reason: str | None
    human_decision: dict[str, Any] | None
    tool_results: Annotated[list[dict[str, Any]], operator.add]


def _thread(config: RunnableConfig) -> str:
    return str((config.get("configurable") or {}).get("thread_id"))


def args_key(tool: str) -> Any:
    """Business idempotency key of a saga step: the tool and a hash of its arguments (they
    name the order and the saga attempt), the same in every thread and process."""

    def key(args: dict[str, Any]) -> str:
        digest = hashlib.sha256(json.dumps(args, sort_keys=True, default=str).encode())
        return f"{tool}:{digest.hexdigest()[:24]}"

    key.__name__ = f"{tool}_key"
    return key


class _Saga:
    def __init__(self, registry: ToolRegistry, ledger: EffectLedger, inventory: Inventory) -> None:
        self.registry = registry
        self.ledger = ledger
        self.inventory = inventory
        self.executor = tool_executor(registry, agent="saga", ledger=ledger)

    def receive(self, state: Mapping[str, Any], config: RunnableConfig) -> Any:
        order = dict(state.get("order") or {})
        missing = [
            k for k in ("order_id", "email", "payment_method_id", "items") if not order.get(k)
        ]
        if missing:
            return goto("failed", reason=f"order lacks {missing}", update={"answer": None})
        amount = round(sum(float(i["price"]) * int(i["qty"]) for i in order["items"]), 2)
        return {
            "amount": amount,
            "charge": None,
            "reservation": None,
            "notification": None,
            "failed_step": None,
            "step_error": None,
            "compensated": [],
            "consistent": True,
            "validated": False,
            "answer": None,
            "escalation_reason": None,
        }

    def _run(
        self, step: str, args: dict[str, Any], state: Mapping[str, Any], config: RunnableConfig
    ) -> tuple[bool, Any, dict[str, Any]]:
        order_id = state["order"]["order_id"]
        call_id = f"order:{order_id}:a{state.get('attempt') or 1}:{step}"
        call = {"name": _TOOLS[step], "args": args, "id": call_id}
        outcome = self.executor({"plan": [call]}, config)["tool_outcomes"][0]
        record = {
            k: outcome.get(k) for k in ("id", "name", "ok", "error_type", "error", "attempts")
        }
        make_key = self.registry.policy(_TOOLS[step]).idempotency_key
        record["key"] = make_key(args) if make_key else None
        return outcome["ok"], outcome.get("output") if outcome["ok"] else outcome, record

    def _fail(self, step: str, outcome: Mapping[str, Any], record: dict[str, Any]) -> Any:
        kind = "refused" if is_domain_error(outcome) else "failed"
        return goto(
            "compensate",
            reason=f"{step} {kind}",
            update={
                "failed_step": step,
                "step_error": f"{outcome.get('error_type')}: {outcome.get('error')}",
                "consistent": False,
                "tool_results": [record],
            },
        )

    def _attempt(self, order_id: str, config: RunnableConfig) -> int:
        """1 + charges of this order compensated in this thread (a failed saga, a rollback):
        a new attempt gets new keys; a retry or resume of the same attempt gets the same."""
        prefix = f"Order {order_id} ("
        return 1 + sum(
            1
            for e in self.ledger.effects(_thread(config))
            if e.tool == "charge_payment"
            and e.compensated
            and str(e.args.get("description", "")).startswith(prefix)
        )

    def charge(self, state: Mapping[str, Any], config: RunnableConfig) -> Any:
        order = state["order"]
        attempt = self._attempt(order["order_id"], config)
        state = {**state, "attempt": attempt}
        args = {
            "payment_method_id": order["payment_method_id"],
            "amount": state["amount"],
            "description": f"Order {order['order_id']} (attempt {state.get('attempt') or 1})",
        }
        ok, out, rec = self._run("charge", args, state, config)
        if not ok:
            failed = self._fail("charge", out, rec)
            failed.update["attempt"] = attempt
            return failed
        return {"charge": out, "attempt": attempt, "consistent": False, "tool_results": [rec]}

    def reserve(self, state: Mapping[str, Any], config: RunnableConfig) -> Any:
        order = state["order"]
        items = [{"sku": i["sku"], "qty": int(i["qty"])} for i in order["items"]]
        args = {
            "order_id": order["order_id"],
            "items": items,
            "reference": f"{order['order_id']}#a{state.get('attempt') or 1}",
        }
        ok, out, rec = self._run("reserve", args, state, config)
        if not ok:
            return self._fail("reserve", out, rec)
        return {"reservation": out, "tool_results": [rec]}

    def notify(self, state: Mapping[str, Any], config: RunnableConfig) -> Any:
        order = state["order"]
        body = (
            f"Thank you! Order {order['order_id']} is confirmed: {state['amount']:.2f} charged "
            f"(charge {state['charge']['charge_id']})."
        )
        args = {"to": order["email"], "subject": f"Order {order['order_id']}", "body": body}
        ok, out, rec = self._run("notify", args, state, config)
        if not ok:
            return self._fail("notify", out, rec)
        return {"notification": out, "tool_results": [rec]}

    def validate(self, state: Mapping[str, Any]) -> dict[str, Any]:
        charge, res, note = state.get("charge"), state.get("reservation"), state.get("notification")
        ok = bool(
            charge
            and abs(float(charge["amount"]) - float(state["amount"])) < 0.005
            and res
            and self.inventory.reservation(res["reservation_id"])["status"] == "active"
            and note
        )
        if not ok:
            return {"failed_step": "validate", "step_error": "the saga's records disagree"}
        answer = f"Order {state['order']['order_id']} processed: charged {state['amount']:.2f}."
        return {"validated": True, "consistent": True, "answer": answer}

    def compensate(self, state: Mapping[str, Any], config: RunnableConfig) -> Any:
        order_id = state["order"]["order_id"]
        keys = [r["key"] for r in state.get("tool_results") or [] if r.get("key")]
        found = [self.ledger.get(k) for k in dict.fromkeys(keys)]
        effects = [e for e in found if e is not None and e.status == "done" and not e.compensated]
        undone: list[dict[str, Any]] = []
        for effect in sorted(effects, key=lambda e: e.seq, reverse=True):
            comp = self.registry.policy(effect.tool).compensate
            try:
                assert comp is not None, f"no compensation for {effect.tool}"
                comp(effect.args, effect.result)
            except Exception as exc:
                emit(
                    "compensation_failed",
                    key=effect.key,
                    tool=effect.tool,
                    error_type=type(exc).__name__,
                    thread_id=_thread(config),
                )
                return {
                    "compensated": undone,
                    "escalation_reason": (
                        f"{state.get('failed_step')} failed ({state.get('step_error')}) and "
                        f"undoing {effect.tool} failed: {exc}"
                    ),
                }
            self.ledger.mark_compensated(effect.key)
            undone.append({"tool": effect.tool, "key": effect.key})
        emit("rollback", thread_id=_thread(config), to="saga start", compensated=len(undone))
        names = ", ".join(u["tool"] for u in undone) or "nothing"
        answer = (
            f"Order {order_id} was not processed: {state.get('failed_step')} failed "
            f"({state.get('step_error')}); compensated {names}."
        )
        return goto(
            "failed",
            reason=f"{state.get('failed_step')} failed; compensated {names}",
            update={"compensated": undone, "consistent": True, "answer": answer},
        )


def build(
    *,
    ledger: EffectLedger | str | None = None,
    gateway: Any = None,
    outbox: Any = None,
    inventory: Inventory | None = None,
    retry: Retry | None = None,
    faults: Any = None,
    observability: Any = None,
    state_dir: str | Path | None = None,
    timeout: float | None = None,
    name: str = "order_processing",
) -> StateGraph[Any]:
    """Build the order saga (uncompiled).

    Args:
        ledger: ``EffectLedger`` or URL (default memory, or ``<state_dir>/effects.db``).
        gateway: ``tools.payments.PaymentGateway`` (default: new one, in memory or in
            ``state_dir``). outbox: ``tools.notifications.Outbox``. inventory:
            :class:`~graphs.order_processing.inventory.Inventory` (same defaults).
        retry: Per-call retry (default 8 attempts, short waits). faults: a ``FaultInjector``
            wrapping the three tools. observability: an ``Observability`` to instrument with.
        timeout: Seconds per tool attempt.

    State:
        Reads ``order`` (``order_id``, ``email``, ``payment_method_id``, ``items`` of
        ``sku``/``qty``/``price``). Writes ``amount``, ``attempt``, ``charge``,
        ``reservation``, ``notification``, ``failed_step``, ``step_error``, ``compensated``,
        ``consistent``, ``validated``, ``answer``, ``escalation_reason``, ``tool_results``.
    """
    from tools import notifications, payments

    resources = Resources()

    def where(file: str) -> str:
        if state_dir is None:
            return "memory:"
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        return str(Path(state_dir) / file)

    if gateway is None:
        gateway = payments.PaymentGateway(where("payments.db"))
        resources.closers.append(gateway.close)
    if outbox is None:
        outbox = notifications.Outbox(where("outbox.db"))
        resources.closers.append(outbox.close)
    if inventory is None:
        inventory = Inventory(where("inventory.db"))
        resources.closers.append(inventory.close)
    own = not isinstance(ledger, EffectLedger)
    ledger_obj = open_ledger(ledger, state_dir)
    if own:
        resources.closers.append(ledger_obj.close)
    retry = retry if retry is not None else default_retry()
    inv = inventory
    policies = {
        "charge_payment": ToolPolicy(
            timeout=timeout,
            retry=retry,
            breaker=default_breaker("payments"),
            side_effect=True,
            compensate=payments.compensation(gateway),
            idempotency_key=args_key("charge_payment"),
            reconcile=_charge_reconciler(gateway),
        ),
        "reserve_inventory": ToolPolicy(
            timeout=timeout,
            retry=retry,
            breaker=default_breaker("inventory"),
            side_effect=True,
            compensate=lambda args, result: inv.release(result["reservation_id"]),
            idempotency_key=args_key("reserve_inventory"),
            reconcile=lambda args: inv.find(args_key("reserve_inventory")(args)),
        ),
        "send_email": ToolPolicy(
            timeout=timeout,
            retry=retry,
            breaker=default_breaker("notifications"),
            side_effect=True,
            compensate=notifications.compensation(outbox),
            idempotency_key=args_key("send_email"),
            reconcile=_email_reconciler(outbox),
        ),
    }
    registry = ToolRegistry(ledger=ledger_obj)
    tools = [
        *payments.tools(gateway)[:1],
        *inventory_tools(inventory),
        *notifications.tools(outbox)[:1],
    ]
    for tool in tools:
        registered = faults.wrap(tool) if faults is not None else tool
        registry.register(registered, policy=policies[tool.name], agents=["saga"])
    saga = _Saga(registry, ledger_obj, inventory)

    failed = when(lambda s: bool(s.get("failed_step")), name="step_failed")
    m = StateMachine(OrderState, name=name, max_steps=50)
    tools_marker = {"tool_node": "executor", "registry": registry, "agent": "saga"}
    m.state("receive", saga.receive)
    m.state("charge", marked(saga.charge, **tools_marker, ledger=ledger_obj))
    m.state("reserve", marked(saga.reserve, **tools_marker, ledger=ledger_obj))
    m.state("notify", marked(saga.notify, **tools_marker, ledger=ledger_obj))
    m.state("validate", saga.validate)
    m.state("compensate", marked(saga.compensate, compensate=True, ledger=ledger_obj))
    m.state("escalate", escalate_to_human(status_key=None, context_keys=("order", "compensated")))
    m.transition("receive", "charge")
    for src, dst in (("charge", "reserve"), ("reserve", "notify"), ("notify", "validate")):
        m.transition(src, "compensate", when=failed)
        m.transition(src, dst)
    m.transition("validate", "compensate", when=failed)
    m.transition("validate", "done")
    m.transition("compensate", "escalate", when=key("escalation_reason"))
    m.transition("compensate", "failed")
    m.transition("escalate", "escalated")
    builder = m.build()
    if observability is not None:
        builder = observability.instrument(builder)
    resources.ledger = ledger_obj
    resources.compensations = {
        n: p.compensate for n, p in policies.items() if p.compensate is not None
    }
    resources.extra.update(gateway=gateway, outbox=outbox, inventory=inventory, registry=registry)
    return attach_resources(builder, resources, machine=m, graph_name=name)


def _charge_reconciler(gateway: Any) -> Any:
    """Did a charge with these arguments commit (its response lost)? The charge, or None."""

    def reconcile(args: dict[str, Any]) -> Any:
        key = args_key("charge_payment")(args)
        if gateway.count("charges", effect_key=key) == 0:
            return None
        return gateway.charge(**args, idempotency_key=key).model_dump()  # a replay, no charge

    return reconcile


def _email_reconciler(outbox: Any) -> Any:
    """Was this e-mail queued already? The queued message, or None."""

    def reconcile(args: dict[str, Any]) -> Any:
        key = args_key("send_email")(args)
        if outbox.count(effect_key=key) == 0:
            return None
        msg = outbox.enqueue("email", args["to"], args["subject"], args["body"], effect_key=key)
        return msg.model_dump()  # deduplicated: the row queued before

    return reconcile


def rollback_order(graph: Any, config: RunnableConfig) -> RunnableConfig:
    """Rewind a thread to its last consistent checkpoint and compensate what ran after it.

    "Consistent" is a checkpoint whose state has ``consistent`` set: right after the order
    was received (nothing charged yet) or after a validated or fully compensated saga. Uses
    ``agentpatterns.resilience.rollback`` with the graph's ledger and compensations.
    """
    from graphs._common import resources_of

    res = resources_of(graph)
    if res is None:
        raise ValueError("not an order_processing graph (no resources attached)")
    return rollback(
        graph,
        config,
        to=last_where(lambda snap: bool(snap.values.get("consistent"))),
        ledger=res.ledger,
        compensations=res.compensations,
    )


_GRAPHS: dict[str, Any] = {}


def make_graph(config: Any = None) -> Any:
    """The compiled graph ``langgraph.json`` serves (built once per process; the server
    supplies the checkpointer; ``graphs/server.py`` exports it for ``langgraph.json``)."""
    if "graph" not in _GRAPHS:
        _GRAPHS["graph"] = build().compile(name="order_processing")
    return _GRAPHS["graph"]
