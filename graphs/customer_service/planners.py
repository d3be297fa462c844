"""Planners of the customer-service agent: rules (default), a τ² script, or a chat model.

A planner turns an authenticated request into a *plan*: the tool calls the ``execute``
state will run, one at a time, after confirmation. It may look things up first with
``ctx.read(tool, args)`` (reads run through the tool executor as the ``reader`` agent, which
is never granted a write). Its answer is a :class:`PlanResult`:

- ``calls``: tool calls ``{"name", "args", "id"}`` for ``execute`` (writes and reads);
- ``denied``: the request is against the store policy (nothing runs; the reason is told);
- ``answer``: an information request answered from the reads (nothing to execute);
- ``escalate``: outside what the agent can do, or a read failed with an infrastructure
  fault (its retries used up, breaker open): a human takes over.

A failed read is told apart by its ``error_type``: a domain error (``RetailError`` "order
not found", a contract breach) is an answer of the store, told to the customer; any other
error is a fault, never taken as "no" (the request would end ``done`` with the requested
write never made).

Example:
    >>> from graphs.customer_service.planners import RetailRulePlanner
    >>> RetailRulePlanner().understand({"request": "cancel order #W2611340, by mistake"})
    [{'kind': 'cancel', 'order_id': '#W2611340', 'reason': 'ordered by mistake'}]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from graphs._common import is_domain_error
from graphs.customer_service.parse import parse_request

__all__ = [
    "ModelPlanner",
    "PlanContext",
    "PlanResult",
    "Planner",
    "RetailRulePlanner",
    "ScriptedPlanner",
    "script_from_task",
]

_STATUS_AFTER = {
    "cancel_pending_order": "cancelled",
    "return_delivered_order_items": "return requested",
    "exchange_delivered_order_items": "exchange requested",
    "modify_pending_order_items": "pending (item modified)",
}


@dataclass
class PlanResult:
    """What a planner decided (see the module docstring)."""

    calls: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    denied: str | None = None
    answer: str | None = None
    escalate: str | None = None
    messages: list[BaseMessage] = field(default_factory=list[BaseMessage])
    summary: list[str] = field(default_factory=list[str])


class PlanContext(Protocol):
    """What the plan state offers a planner."""

    user_id: str | None
    turn: int

    def read(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run a read tool now; the executor's outcome dict (``ok``, ``output``, ...)."""
        ...


class Planner(Protocol):
    """A customer-service planner: ``mode`` and ``plan(state, ctx)``."""

    mode: str

    def understand(self, state: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The intents of the request (``unknown`` ones are escalated)."""
        ...

    def plan(self, state: Mapping[str, Any], ctx: PlanContext) -> PlanResult:
        """Look up what is needed, check the policy, return the plan."""
        ...


def _call(ctx: PlanContext, n: int, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "args": args, "id": f"t{ctx.turn}c{n}"}


def _fault_reason(outcome: Mapping[str, Any]) -> str:
    """Why a read that failed with an infrastructure fault hands the request to a human."""
    return (
        f"cannot look up what the request needs, the store failed: {outcome['name']} "
        f"after {outcome.get('attempts') or 0} attempt(s): {outcome.get('content')}"
    )


def _output(outcome: Mapping[str, Any]) -> Any:
    out = outcome.get("output")
    if isinstance(out, str):
        try:
            return json.loads(out)
        except ValueError:
            return out
    return out


class RetailRulePlanner:
    """Deterministic planner: request text -> intents (``parse_request``) -> policy-checked
    tool calls. No model, no network; what the demo and the CLI use by default."""

    mode = "rules"

    def understand(self, state: Mapping[str, Any]) -> list[dict[str, Any]]:
        return parse_request(str(state.get("request") or ""))

    def plan(self, state: Mapping[str, Any], ctx: PlanContext) -> PlanResult:
        result = PlanResult()
        intents: list[dict[str, Any]] = list(state.get("intents") or [])
        answers: list[str] = []
        for intent in intents:
            kind = intent["kind"]
            if kind == "user_address":
                args = {"user_id": ctx.user_id, **intent["address"]}
                result.calls.append(_call(ctx, len(result.calls), "modify_user_address", args))
                result.summary.append(f"change your default address to {_addr(intent)}")
                continue
            got = ctx.read("get_order_details", {"order_id": intent["order_id"]})
            if not got["ok"]:
                if is_domain_error(got):  # the store answered: e.g. no such order
                    result.denied = f"I could not find order {intent['order_id']}: {got['error']}."
                else:  # the store did not answer (retries used up, breaker open ...)
                    result.escalate = _fault_reason(got)
                return result
            order: dict[str, Any] = _output(got)
            if order.get("user_id") != ctx.user_id:
                result.denied = (
                    f"Order {intent['order_id']} does not belong to the authenticated user; "
                    "I can only help with your own orders."
                )
                return result
            status = str(order.get("status"))
            if kind == "order_status":
                names = ", ".join(i["name"] for i in order.get("items", []))
                answers.append(f"Order {order['order_id']} is {status} ({names}).")
                continue
            denied = _check(kind, intent, status)
            if denied:
                result.denied = denied
                return result
            name, args, text = _write_for(kind, intent, order)
            if name is None:
                result.denied = text
                return result
            result.calls.append(_call(ctx, len(result.calls), name, args))
            result.summary.append(text)
        if not result.calls:
            result.answer = " ".join(answers) or "There is nothing to do."
        elif answers:
            result.summary[:0] = answers
        return result


def _addr(intent: Mapping[str, Any]) -> str:
    a = intent["address"]
    line2 = f", {a['address2']}" if a["address2"] else ""
    return f"{a['address1']}{line2}, {a['city']}, {a['state']} {a['zip']}"


def _check(kind: str, intent: Mapping[str, Any], status: str) -> str | None:
    order = intent.get("order_id")
    if kind in ("cancel", "order_address", "payment", "modify_items") and "pending" not in status:
        return f"Order {order} is '{status}'; only pending orders can be changed or cancelled."
    if kind == "cancel" and status != "pending":
        return f"Order {order} is '{status}'; only pending orders can be cancelled."
    if kind == "cancel" and intent.get("reason") is None:
        return (
            f"To cancel order {order} I need the reason: 'no longer needed' or "
            "'ordered by mistake'."
        )
    if kind in ("return", "exchange") and status != "delivered":
        return f"Order {order} is '{status}'; only delivered orders can be returned or exchanged."
    return None


def _method(intent: Mapping[str, Any], order: Mapping[str, Any]) -> str:
    if intent.get("payment_method_id"):
        return str(intent["payment_method_id"])
    history = order.get("payment_history") or [{}]
    return str(history[0].get("payment_method_id"))


def _write_for(
    kind: str, intent: Mapping[str, Any], order: Mapping[str, Any]
) -> tuple[str | None, dict[str, Any], str]:
    oid = str(order["order_id"])
    if kind == "cancel":
        args = {"order_id": oid, "reason": intent["reason"]}
        return "cancel_pending_order", args, f"cancel order {oid} ({intent['reason']})"
    if kind == "order_address":
        args = {"order_id": oid, **intent["address"]}
        return "modify_pending_order_address", args, f"ship order {oid} to {_addr(intent)}"
    if kind == "payment":
        args = {"order_id": oid, "payment_method_id": intent["payment_method_id"]}
        return (
            "modify_pending_order_payment",
            args,
            f"pay order {oid} with {args['payment_method_id']}",
        )
    items = [i["item_id"] for i in order.get("items", [])]
    if kind == "return":
        wanted = list(intent.get("item_ids") or items)
        missing = [i for i in wanted if i not in items]
        if missing:
            return None, {}, f"Items {missing} are not in order {oid}."
        args = {"order_id": oid, "item_ids": wanted, "payment_method_id": _method(intent, order)}
        return "return_delivered_order_items", args, f"return {len(wanted)} item(s) of {oid}"
    pairs: list[list[str]] = list(intent.get("pairs") or [])
    missing = [old for old, _ in pairs if old not in items]
    if missing:
        return None, {}, f"Items {missing} are not in order {oid}."
    args = {
        "order_id": oid,
        "item_ids": [old for old, _ in pairs],
        "new_item_ids": [new for _, new in pairs],
        "payment_method_id": _method(intent, order),
    }
    tool = "exchange_delivered_order_items" if kind == "exchange" else "modify_pending_order_items"
    verb = "exchange" if kind == "exchange" else "modify"
    return tool, args, f"{verb} {len(pairs)} item(s) of {oid}"


def script_from_task(task: Mapping[str, Any], *, prefix: str = "") -> list[dict[str, Any]]:
    """A τ² task's ground-truth actions as tool calls with stable ids."""
    from tools.retail import task_actions

    out: list[dict[str, Any]] = []
    for n, action in enumerate(task_actions(dict(task))):
        call_id = f"{prefix}{action.get('action_id') or n}"
        out.append(
            {"name": action["name"], "args": dict(action.get("arguments") or {}), "id": call_id}
        )
    return out


class ScriptedPlanner:
    """Replays a τ² task's ground-truth tool calls (what the eval harness uses).

    The script comes from ``task`` (a τ² task dict) or, per run, from the state key
    ``script`` (a list of ``{"name", "args"[, "id"]}``) or ``tau2_task`` (a task id). The
    user of a scripted task counts as authenticated (τ² authenticated them in the
    conversation the script was taken from); every call runs, in order, one per step,
    through the write agent's executor; domain errors are results, not faults.
    """

    mode = "scripted"

    def __init__(self, task: Mapping[str, Any] | None = None) -> None:
        self.task = dict(task) if task is not None else None

    def script(self, state: Mapping[str, Any]) -> list[dict[str, Any]]:
        if state.get("script"):
            return [
                {
                    "name": c["name"],
                    "args": dict(c.get("args") or c.get("arguments") or {}),
                    "id": str(c.get("id") or c.get("action_id") or n),
                }
                for n, c in enumerate(state["script"])
            ]
        task = self.task
        if state.get("tau2_task") is not None:
            from tools.retail import load_tasks

            wanted = str(state["tau2_task"])
            task = next((t for t in load_tasks() if str(t["id"]) == wanted), None)
            if task is None:
                raise ValueError(f"no τ² retail task with id {wanted!r}")
        return script_from_task(task) if task is not None else []

    def understand(self, state: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{"kind": "scripted", "calls": len(self.script(state))}]

    def plan(self, state: Mapping[str, Any], ctx: PlanContext) -> PlanResult:
        calls = [{**c, "id": f"t{ctx.turn}-{c['id']}"} for c in self.script(state)]
        return PlanResult(
            calls=calls,
            summary=[f"replay {len(calls)} scripted call(s)"],
            answer=None if calls else "The script has no actions.",
        )


class ModelPlanner:
    """Any LangChain chat model, given the store policy and the tools it may call.

    The model sees the policy (``policy.md``), the authenticated user id and the request.
    Read calls it makes are run at once and their results fed back (at most
    ``max_rounds`` rounds); the first write calls end planning and become the plan (run
    after confirmation); ``transfer_to_human_agents`` escalates; a plain answer is returned
    to the user. A read that fails with a fault (not a domain error) escalates at once: the
    model never plans or answers from a read that did not happen.
    """

    mode = "model"

    def __init__(
        self,
        model: Any,
        *,
        tools: list[Any] | None = None,
        policy: str | None = None,
        max_rounds: int = 6,
        writes: tuple[str, ...] = (),
    ) -> None:
        self.model = model
        self.tools = list(tools or [])
        self.policy = policy
        self.max_rounds = max_rounds
        self.writes = writes
        self._bound: Any = None

    def bind(self, tools: list[Any], writes: tuple[str, ...], policy: str) -> ModelPlanner:
        """A copy bound to the graph's tools (called by ``build``)."""
        out = ModelPlanner(
            self.model,
            tools=self.tools or tools,
            policy=self.policy or policy,
            max_rounds=self.max_rounds,
            writes=writes,
        )
        try:
            out._bound = self.model.bind_tools(out.tools)
        except NotImplementedError:  # fake chat models in tests cannot bind
            out._bound = self.model
        return out

    def understand(self, state: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{"kind": "model", "text": str(state.get("request") or "")}]

    def plan(self, state: Mapping[str, Any], ctx: PlanContext) -> PlanResult:
        bound = self._bound if self._bound is not None else self.model
        system = SystemMessage(
            f"{self.policy or ''}\n\nThe authenticated user is {ctx.user_id}. "
            "Make one tool call at a time."
        )
        history: list[BaseMessage] = [HumanMessage(str(state.get("request") or ""))]
        result = PlanResult()
        for _ in range(self.max_rounds):
            ai = bound.invoke([system, *history])
            history.append(ai)
            calls = list(getattr(ai, "tool_calls", None) or ())
            if not calls:
                result.answer = str(ai.content) if isinstance(ai, AIMessage) else str(ai)
                break
            if any(c["name"] == "transfer_to_human_agents" for c in calls):
                summary = next(c for c in calls if c["name"] == "transfer_to_human_agents")
                result.escalate = str(summary["args"].get("summary") or "model asked for a human")
                break
            writes = [c for c in calls if c["name"] in self.writes]
            fault: dict[str, Any] | None = None
            for c in calls:
                if c in writes:
                    continue
                if fault is None:
                    got = ctx.read(c["name"], dict(c["args"]))
                    content = str(got.get("content"))
                else:  # every tool call gets its message, even one not run
                    got = {"ok": False}
                    content = "not run: an earlier read of this round failed"
                history.append(
                    ToolMessage(
                        content,
                        tool_call_id=c.get("id") or c["name"],
                        status="success" if got["ok"] else "error",
                    )
                )
                if fault is None and not got["ok"] and not is_domain_error(got):
                    fault = got
            if fault is not None:  # the model must not plan (or answer) from a failed read
                result.escalate = _fault_reason(fault)
                break
            if writes:
                result.calls = [
                    {
                        "name": c["name"],
                        "args": dict(c["args"]),
                        "id": f"t{ctx.turn}-{c.get('id') or n}",
                    }
                    for n, c in enumerate(writes)
                ]
                result.summary = [f"{c['name']}({json.dumps(c['args'])})" for c in writes]
                break
        else:
            result.escalate = f"the model did not finish planning in {self.max_rounds} rounds"
        result.messages = history
        return result


def as_planner(planner: Any) -> Callable[..., Any] | Any:
    """``None``/"rules" -> rule planner, "scripted" -> scripted, a chat model -> model planner."""
    if planner is None or planner == "rules":
        return RetailRulePlanner()
    if planner == "scripted":
        return ScriptedPlanner()
    if hasattr(planner, "mode") and hasattr(planner, "plan"):
        return planner
    if hasattr(planner, "invoke"):
        return ModelPlanner(planner)
    raise ValueError(
        f"unknown planner {planner!r}: use 'rules', 'scripted', a planner or a chat model"
    )
