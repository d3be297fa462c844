"""The state nodes of the customer-service machine (see ``graph`` for the picture).

Reads run as agent ``reader`` (granted the nine read tools only); the plan runs in
``execute`` as agent ``writer`` (the only agent granted the seven writes), one call per
step, so every call is checkpointed and a crash resumes at the call that was running; the
effect ledger makes that call's write happen once.

State:
    Reads ``request``, identity keys (``email`` or ``first_name``/``last_name``/``zip``),
    ``script``/``tau2_task`` (scripted mode), ``confirm``. Writes ``user_id``,
    ``authenticated``, ``turn``, ``intents``, ``plan``, ``summary``, ``cursor``,
    ``outcomes``, ``halted``, ``validated``, ``compensated``, ``denied``, ``answer``,
    ``escalation_reason``, ``escalated``, ``confirmed``, ``tool_results``, ``messages``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt

from agentpatterns.errors import AgentPatternsError
from agentpatterns.events import emit
from agentpatterns.fsm import goto
from agentpatterns.orchestration import ToolRegistry, tool_executor
from agentpatterns.resilience import EffectLedger
from graphs._common import is_domain_error
from graphs.customer_service.parse import find_identity
from graphs.customer_service.planners import PlanResult

__all__ = ["CustomerServiceNodes"]

_RESET: dict[str, Any] = {
    "intents": [],
    "plan": [],
    "summary": [],
    "cursor": 0,
    "outcomes": [],
    "halted": False,
    "validated": False,
    "compensated": [],
    "denied": None,
    "answer": None,
    "escalation_reason": None,
    "escalated": False,
    "confirmed": False,
    "human_decision": None,
}
_YES = ("yes", "y", "true", "ok", "confirm", "go ahead")


def _slim(outcome: Mapping[str, Any]) -> dict[str, Any]:
    content = outcome.get("content")
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    return {
        "id": outcome["id"],
        "name": outcome["name"],
        "ok": outcome["ok"],
        "error_type": outcome.get("error_type"),
        "error": (outcome.get("error") or None) and str(outcome["error"])[:300],
        "attempts": outcome.get("attempts", 0),
        # the result itself stays in the store and the ledger: checkpoints stay small
        "content": None if outcome["ok"] else text[:200],
    }


def _record(outcome: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("id", "name", "ok", "error_type", "error", "attempts", "elapsed_ms")
    return {k: outcome.get(k) for k in keys}


def _unverified(outcome: Mapping[str, Any]) -> str:
    return (
        f"checking it failed: {outcome['name']} after {outcome.get('attempts') or 0} "
        f"attempt(s): {outcome.get('content')}"
    )


def _thread(config: RunnableConfig) -> str:
    return str((config.get("configurable") or {}).get("thread_id"))


@dataclass
class _Ctx:
    nodes: CustomerServiceNodes
    config: RunnableConfig
    user_id: str | None
    turn: int

    def read(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        return self.nodes.read(name, args, self.config, f"t{self.turn}r-{name}")


class CustomerServiceNodes:
    """Node implementations bound to one registry, ledger and planner."""

    def __init__(
        self,
        registry: ToolRegistry,
        ledger: EffectLedger,
        planner: Any,
        write_tools: tuple[str, ...],
        store: Any,
    ) -> None:
        self.registry = registry
        self.ledger = ledger
        self.planner = planner
        self.writes = write_tools
        self.store = store
        self.reader = tool_executor(registry, agent="reader", ledger=ledger)
        self.writer = tool_executor(registry, agent="writer", ledger=ledger)
        self._reads = 0

    # -- helpers ----------------------------------------------------------------------
    def read(
        self, name: str, args: dict[str, Any], config: RunnableConfig, call_id: str
    ) -> dict[str, Any]:
        """Run one read tool as the ``reader`` agent; its outcome (never raises)."""
        call = {"name": name, "args": args, "id": call_id}
        return self.reader({"plan": [call]}, config)["tool_outcomes"][0]

    def _scripted(self, state: Mapping[str, Any]) -> bool:
        return (
            self.planner.mode == "scripted"
            or bool(state.get("script"))
            or (state.get("tau2_task") is not None)
        )

    def _planner(self, state: Mapping[str, Any]) -> Any:
        if self._scripted(state) and self.planner.mode != "scripted":
            from graphs.customer_service.planners import ScriptedPlanner

            return ScriptedPlanner()
        return self.planner

    # -- states -----------------------------------------------------------------------
    def authenticate(self, state: Mapping[str, Any], config: RunnableConfig) -> Any:
        turn = int(state.get("turn") or 0) + 1
        update = {**_RESET, "turn": turn}
        if self._scripted(state):
            return {**update, "authenticated": True, "auth_method": "script"}
        identity = find_identity(dict(state))
        if identity is None:
            return goto(
                "respond",
                reason="no identity",
                update={
                    **update,
                    "authenticated": False,
                    "denied": "Please tell me your e-mail address, or your name and zip code, "
                    "so that I can verify your identity first.",
                },
            )
        tool = "find_user_id_by_email" if "email" in identity else "find_user_id_by_name_zip"
        got = self.read(tool, identity, config, f"t{turn}-auth")
        if got["ok"]:
            return {
                **update,
                "authenticated": True,
                "auth_method": tool,
                "user_id": str(got["output"]),
            }
        if not is_domain_error(got):
            return goto(
                "escalate",
                reason="store unavailable",
                update={
                    **update,
                    "authenticated": False,
                    "escalation_reason": f"cannot authenticate, the store failed: {got['content']}",
                },
            )
        return goto(
            "respond",
            reason="unknown user",
            update={
                **update,
                "authenticated": False,
                "denied": "I could not find a customer with those details.",
            },
        )

    def understand(self, state: Mapping[str, Any]) -> dict[str, Any]:
        intents = self._planner(state).understand(state)
        unknown = [i for i in intents if i.get("kind") == "unknown"]
        if unknown:
            why = "; ".join(f"{i.get('why')}: {i.get('text')!r}" for i in unknown)
            return {"intents": intents, "escalation_reason": f"outside my policy ({why})"}
        return {"intents": intents}

    def plan(self, state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        ctx = _Ctx(self, config, state.get("user_id"), int(state.get("turn") or 1))
        result: PlanResult = self._planner(state).plan(state, ctx)
        retried = (state.get("human_decision") or {}).get("action") == "retry"
        stop = bool(result.denied or result.escalate)
        update: dict[str, Any] = {
            "plan": [] if stop else result.calls,
            "summary": result.summary,
            "cursor": 0,
            "outcomes": [],
            "halted": False,
            "denied": result.denied,
            "answer": result.answer,
            "escalation_reason": result.escalate,
        }
        if retried:  # a human sent the request back: it is the agent's again
            update["escalated"] = False
        if result.messages:
            update["messages"] = result.messages
        return update

    def confirm(self, state: Mapping[str, Any]) -> dict[str, Any]:
        preset = state.get("confirm")
        if preset is True or self._scripted(state):
            return {"confirmed": True}
        if preset is False:
            return {"confirmed": False}
        answer = interrupt(
            {
                "question": "Shall I go ahead? Answer yes or no.",
                "actions": list(state.get("summary") or []),
                "calls": list(state.get("plan") or []),
            }
        )
        if isinstance(answer, Mapping):
            answer = answer.get("confirm", answer.get("answer"))
        ok = answer is True or str(answer).strip().lower() in _YES
        return {"confirmed": ok}

    def execute(self, state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        plan = list(state.get("plan") or [])
        cursor = int(state.get("cursor") or 0)
        call = plan[cursor]
        outcome = self.writer({"plan": [call]}, config)["tool_outcomes"][0]
        halted = not outcome["ok"] and (not is_domain_error(outcome) or not self._scripted(state))
        return {
            "cursor": cursor + 1,
            "outcomes": [*(state.get("outcomes") or []), _slim(outcome)],
            "halted": halted,
            "tool_results": [_record(outcome)],
        }

    def validate(self, state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        outcomes: list[dict[str, Any]] = list(state.get("outcomes") or [])
        calls = {c["id"]: c for c in state.get("plan") or []}
        faults = [o for o in outcomes if not o["ok"] and not is_domain_error(o)]
        refused = [o for o in outcomes if not o["ok"] and is_domain_error(o)]
        done = [o for o in outcomes if o["ok"] and o["name"] in self.writes]
        problem: str | None = None
        unverified = False
        if faults:
            f = faults[0]
            problem = f"{f['name']} failed after {f['attempts']} attempt(s): {f['content']}"
        elif refused and not self._scripted(state):
            problem = f"{refused[0]['name']} was refused: {refused[0]['error']}"
        elif not self._scripted(state):
            problem, unverified = self._postconditions([calls[o["id"]] for o in done], config)
        if problem is None:
            return {"validated": True}
        if unverified:  # the writes reported success; only the check failed: keep them
            return {"escalation_reason": f"the change(s) were made but not verified: {problem}"}
        if not done:
            if faults:
                return {"escalation_reason": f"the store is not available: {problem}"}
            return {"denied": f"I could not do that: {refused[0]['error']}"}
        undone, failures = self._compensate([calls[o["id"]] for o in done], config)
        reason = f"{problem}; {len(undone)} earlier change(s) rolled back by compensation" + (
            f"; compensation failed for {failures}" if failures else ""
        )
        return {"compensated": undone, "escalation_reason": reason}

    def _postconditions(
        self, calls: list[dict[str, Any]], config: RunnableConfig
    ) -> tuple[str | None, bool]:
        """The first broken postcondition of the done writes, and whether it is only that
        the check could not be made (a verifying read failed with a fault, not a domain
        error): then the writes are kept and a human looks, nothing is compensated."""
        from graphs.customer_service.planners import _STATUS_AFTER, _output

        for call in calls:
            args = call["args"]
            if call["name"] == "modify_user_address":
                got = self.read("get_user_details", {"user_id": args["user_id"]}, config, "v")
                if not got["ok"] and not is_domain_error(got):
                    return _unverified(got), True
                want = {k: v for k, v in args.items() if k != "user_id"}
                if got["ok"] and _output(got).get("address") == want:
                    continue
                return f"the address of {args['user_id']} is not the requested one", False
            got = self.read("get_order_details", {"order_id": args["order_id"]}, config, "v")
            if not got["ok"] and not is_domain_error(got):
                return _unverified(got), True
            order = _output(got) if got["ok"] else {}
            status = _STATUS_AFTER.get(call["name"])
            if status is not None and order.get("status") != status:
                return f"order {args['order_id']} is {order.get('status')!r}, not {status!r}", False
            if call["name"] == "modify_pending_order_address":
                want = {k: v for k, v in args.items() if k != "order_id"}
                if order.get("address") != want:
                    return f"order {args['order_id']} still ships to the old address", False
        return None, False

    def _compensate(
        self, calls: list[dict[str, Any]], config: RunnableConfig
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """Undo committed writes of this request, newest first (saga compensation)."""
        effects = {e.key.rsplit(":", 1)[-1]: e for e in self.ledger.effects(_thread(config))}
        undone: list[dict[str, Any]] = []
        failures: list[str] = []
        for call in reversed(calls):
            effect = effects.get(call["id"])
            if effect is not None and effect.compensated:
                undone.append({"id": call["id"], "name": call["name"]})
                continue
            comp = self.registry.policy(call["name"]).compensate
            try:
                if comp is None:
                    raise AgentPatternsError(f"no compensation for {call['name']}")
                comp(call["args"], effect.result if effect else None)
            except Exception as exc:
                failures.append(f"{call['name']}: {exc}")
                emit(
                    "compensation_failed",
                    key=effect.key if effect else None,
                    tool=call["name"],
                    error_type=type(exc).__name__,
                    thread_id=_thread(config),
                )
                continue
            if effect is not None:
                self.ledger.mark_compensated(effect.key)
            undone.append({"id": call["id"], "name": call["name"]})
        emit("rollback", thread_id=_thread(config), to="request start", compensated=len(undone))
        return undone, failures

    def escalate(self, state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        reason = str(state.get("escalation_reason") or "needs a human")
        turn = int(state.get("turn") or 1)
        self.read("transfer_to_human_agents", {"summary": reason[:1900]}, config, f"t{turn}-xfer")
        return {"escalated": True}

    def respond(self, state: Mapping[str, Any]) -> dict[str, Any]:
        return {"answer": compose_answer(state)}


def compose_answer(state: Mapping[str, Any]) -> str:
    """The message to the customer, from what happened in the run."""
    decision = state.get("human_decision")
    if state.get("escalated") and decision:
        note = decision.get("note") or decision.get("values", {}).get("answer")
        by = decision.get("by") or "a human agent"
        verdict = {"approve": "approved", "reject": "declined", "edit": "handled"}.get(
            decision.get("action"), "handled"
        )
        text = f"YOU WERE TRANSFERRED TO A HUMAN AGENT. {by} {verdict} your request"
        return f"{text}: {note}" if note else f"{text}."
    if state.get("denied"):
        return str(state["denied"])
    if state.get("answer") and not state.get("plan"):
        return str(state["answer"])
    if state.get("plan") and not state.get("confirmed"):
        return "Okay, I have not changed anything."
    if state.get("validated"):
        outcomes = state.get("outcomes") or []
        if state.get("auth_method") == "script":
            errors = sum(1 for o in outcomes if not o["ok"])
            return f"Replayed {len(outcomes)} call(s); {errors} ended with a domain error."
        done = "; ".join(state.get("summary") or []) or "done"
        if decision and decision.get("action") == "retry":
            return f"Done: {done} (retried by {decision.get('by') or 'a human agent'})."
        return f"Done: {done}."
    return "I could not complete your request."
