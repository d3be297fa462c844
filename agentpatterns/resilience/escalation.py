"""``escalate_to_human``: a node that always leaves a path to a human.

The node pauses the run with LangGraph's ``interrupt()`` and a typed
:class:`EscalationRequest` payload (reason, thread, the JSON schema of the expected answer).
The run resumes with ``graph.invoke(Command(resume={...}), config)``; the value is validated
against ``response_model`` (default :class:`HumanDecision`). An invalid answer interrupts
again with the validation error in the payload, so a typo never crashes the run. The
validated decision is written to state and an ``escalation`` event is emitted on pause.

Error routing for the state machine: a state that gives up (retries exhausted, breaker
open, compensation failed) routes to a state whose node is ``escalate_to_human(...)``; in
the fsm builder: ``.state("escalate", escalate_to_human(), ...)`` with
``on_error="escalate"`` on the failing state, or a LangGraph ``error_handler`` returning
``Command(goto="escalate", update={"escalation_reason": str(error.error)})``.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.errors import GraphInterrupt
from langgraph.types import interrupt
from pydantic import BaseModel, Field, ValidationError

from agentpatterns.events import emit

__all__ = ["EscalationRequest", "HumanDecision", "escalate_to_human"]


class HumanDecision(BaseModel):
    """The default answer a human gives to an escalation."""

    action: Literal["approve", "reject", "retry", "edit"]
    note: str | None = None
    by: str | None = None
    values: dict[str, Any] = Field(default_factory=dict)


class EscalationRequest(BaseModel):
    """The payload a paused run shows the human (``interrupt`` value)."""

    reason: str
    thread_id: str | None = None
    node: str = "escalate"
    context: dict[str, Any] = Field(default_factory=dict)
    response_schema: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


def _thread_id() -> str | None:
    from langchain_core.runnables.config import var_child_runnable_config

    config = var_child_runnable_config.get() or {}
    thread_id = config.get("configurable", {}).get("thread_id")
    return None if thread_id is None else str(thread_id)


def escalate_to_human(
    *,
    reason_key: str = "escalation_reason",
    response_model: type[BaseModel] = HumanDecision,
    decision_key: str = "human_decision",
    context_keys: tuple[str, ...] = (),
    status_key: str | None = "status",
    name: str = "escalate",
) -> Any:
    """Make a node that pauses for a human and records the typed decision.

    State:
        Reads ``reason_key`` (why; default "escalation needed") and ``context_keys``
        (shown to the human). Writes ``decision_key`` (the validated answer as a dict) and,
        if ``status_key`` is set, ``status_key`` = ``"escalated"``.

    Args:
        reason_key: State key holding the reason.
        response_model: pydantic model the resume value must match.
        decision_key: State key for the validated decision.
        context_keys: State keys copied into the payload for the human.
        status_key: State key set to "escalated" (None: don't write).
        name: Node name shown in the payload and events.

    Example:
        >>> from typing import Any, TypedDict
        >>> from langgraph.checkpoint.memory import InMemorySaver
        >>> from langgraph.graph import StateGraph
        >>> from langgraph.types import Command
        >>> class S(TypedDict, total=False):
        ...     escalation_reason: str
        ...     human_decision: dict[str, Any]
        ...     status: str
        >>> g = StateGraph(S)
        >>> _ = g.add_node("escalate", escalate_to_human())
        >>> _ = g.set_entry_point("escalate")
        >>> app = g.compile(checkpointer=InMemorySaver())
        >>> cfg = {"configurable": {"thread_id": "t1"}}
        >>> out = app.invoke({"escalation_reason": "refund over limit"}, cfg)
        >>> out["__interrupt__"][0].value["reason"]
        'refund over limit'
        >>> app.invoke(Command(resume={"action": "approve", "by": "ana"}), cfg)["human_decision"]
        {'action': 'approve', 'note': None, 'by': 'ana', 'values': {}}
    """
    schema = response_model.model_json_schema()

    def escalate(state: Any) -> dict[str, Any]:
        values = state if isinstance(state, dict) else getattr(state, "__dict__", {})
        request = EscalationRequest(
            reason=str(values.get(reason_key) or "escalation needed"),
            thread_id=_thread_id(),
            node=name,
            context={k: values.get(k) for k in context_keys},
            response_schema=schema,
        )
        while True:
            try:
                answer = interrupt(request.model_dump())
            except GraphInterrupt:
                if request.error is None:
                    emit(
                        "escalation", thread_id=request.thread_id, reason=request.reason, node=name
                    )
                raise
            try:
                decision = response_model.model_validate(answer)
                break
            except ValidationError as exc:
                request = request.model_copy(update={"error": str(exc)})
        update: dict[str, Any] = {decision_key: decision.model_dump(mode="json")}
        if status_key:
            update[status_key] = "escalated"
        return update

    escalate.__name__ = name
    escalate.__agentpatterns__ = {"escalation": True}  # type: ignore[attr-defined]
    return escalate
