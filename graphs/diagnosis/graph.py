"""A high-risk triage flow over synthetic records: audited, redacted, human sign-off.

Patterns combined: a **state machine** (pattern 2) intake -> assess -> recommend -> sign_off
-> finalize; **observability** (pattern 4) always on — every node's input and change, every
transition and the output go to an ``AuditLog`` with content capture, through a
``Redactor`` that removes the (fake) identity fields before anything is written; **error
handling / human path** (pattern 5) — ``escalate_to_human`` makes a clinician's sign-off
mandatory: no answer leaves the graph without it, and a rejection ends in ``escalated``.
The records are made up (:mod:`graphs.diagnosis.records`); the scoring is not clinical.

.. code-block:: text

    intake ──> assess ──> recommend ──> sign_off ──> finalize ──> done
                                       (interrupt)      └──(rejected)──> escalated

Example:
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> from langgraph.types import Command
    >>> from graphs.diagnosis import build
    >>> graph = build().compile(checkpointer=InMemorySaver())
    >>> cfg = {"configurable": {"thread_id": "p7"}}
    >>> paused = graph.invoke({"patient": 7}, cfg)
    >>> paused["__interrupt__"][0].value["context"]["triage"]
    'urgent'
    >>> out = graph.invoke(Command(resume={"approve": True, "clinician": "Dr. Test"}), cfg)
    >>> out["status"], out["answer"].startswith("Triage: urgent")
    ('done', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langgraph.graph import StateGraph
from pydantic import BaseModel

from agentpatterns.fsm import AgentState, StateMachine, goto
from agentpatterns.observability import AuditLog, Observability, Redactor
from agentpatterns.resilience import escalate_to_human
from graphs._common import Resources, attach_resources
from graphs.diagnosis.records import synthetic_record, triage_score

__all__ = ["REDACTOR", "DiagnosisState", "SignOff", "build", "make_graph"]

#: Identity fields and record numbers never reach spans, logs or the audit log.
REDACTOR = Redactor.default().with_rules(
    {"mrn": r"FAKE-\d{4}", "patient": r"Test Patient \d{3}"},
    secret_keys=["name", "dob", "phone", "email", "mrn"],
)


class SignOff(BaseModel):
    """The clinician's answer to the sign-off request."""

    approve: bool
    clinician: str
    note: str | None = None


class DiagnosisState(AgentState, total=False):
    """State of the triage flow."""

    patient: int | None
    record: dict[str, Any] | None
    score: int
    findings: list[str]
    triage: str
    draft: str
    signoff_reason: str
    sign_off: dict[str, Any] | None
    answer: str | None


def intake(state: Mapping[str, Any]) -> Any:
    record = state.get("record")
    if record is None and state.get("patient") is not None:
        record = synthetic_record(int(state["patient"]))
    if not record or record.get("synthetic") is not True:
        return goto("failed", reason="only synthetic records are accepted", update={"answer": None})
    return {"record": record, "sign_off": None, "answer": None}


def assess(state: Mapping[str, Any]) -> dict[str, Any]:
    score, findings = triage_score(state["record"])
    level = "emergency" if score >= 6 else "urgent" if score >= 3 else "routine"
    return {"score": score, "findings": findings, "triage": level}


def recommend(state: Mapping[str, Any]) -> dict[str, Any]:
    level = state["triage"]
    action = {
        "emergency": "send to the emergency department now",
        "urgent": "see a clinician today",
        "routine": "book a routine appointment",
    }[level]
    why = ", ".join(state.get("findings") or []) or "no red flags"
    return {
        "draft": f"Triage: {level} (score {state['score']}: {why}). Suggested: {action}.",
        "signoff_reason": f"sign-off required for the {level} triage of a synthetic record",
    }


def finalize(state: Mapping[str, Any]) -> Any:
    decision = state.get("sign_off") or {}
    if not decision.get("approve"):
        why = decision.get("note") or "no reason given"
        return goto(
            "escalated",
            reason=f"sign-off refused by {decision.get('clinician')}: {why}",
            update={"answer": None},
        )
    note = f" Note: {decision['note']}" if decision.get("note") else ""
    return {"answer": f"{state['draft']} Signed off by {decision['clinician']}.{note}"}


def build(
    *,
    audit: AuditLog | str | None = None,
    observability: Observability | None = None,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    state_dir: str | Path | None = None,
    name: str = "diagnosis",
    **_: Any,
) -> StateGraph[Any]:
    """Build the triage flow (uncompiled), instrumented with an audited Observability.

    Args:
        audit: An ``AuditLog`` or URL (default: in memory, or ``<state_dir>/audit.db``);
            written with :data:`REDACTOR`.
        observability: Use this ``Observability`` instead (bring your own audit log and
            redactor: the defaults here are what makes the flow compliant).
        tracer_provider, meter_provider: Where the default ``Observability`` sends spans
            and metrics.

    State:
        Reads ``patient`` (a number: a synthetic record is generated) or ``record``. Writes
        ``record``, ``score``, ``findings``, ``triage``, ``draft``, ``signoff_reason``,
        ``sign_off`` (the validated :class:`SignOff`) and ``answer`` (only after approval).
    """
    resources = Resources()
    if observability is None:
        if not isinstance(audit, AuditLog):
            url = audit
            if url is None:
                url = "memory:"
                if state_dir is not None:
                    Path(state_dir).mkdir(parents=True, exist_ok=True)
                    url = f"sqlite:///{Path(state_dir) / 'audit.db'}"
            audit = AuditLog(url, redactor=REDACTOR)
            resources.closers.append(audit.close)
        observability = Observability(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            redactor=REDACTOR,
            audit=audit,
            capture_content=True,
        )
        resources.closers.insert(0, observability.close)
    m = StateMachine(DiagnosisState, name=name, max_steps=20)
    m.state("intake", intake)
    m.state("assess", assess)
    m.state("recommend", recommend)
    m.state(
        "sign_off",
        escalate_to_human(
            reason_key="signoff_reason",
            response_model=SignOff,
            decision_key="sign_off",
            context_keys=("triage", "score", "findings", "draft"),
            status_key=None,
            name="sign_off",
        ),
    )
    m.state("finalize", finalize)
    m.transition("intake", "assess")
    m.transition("assess", "recommend")
    m.transition("recommend", "sign_off")
    m.transition("sign_off", "finalize")
    m.transition(
        "finalize", "escalated", when=lambda s: not (s.get("sign_off") or {}).get("approve")
    )
    m.transition("finalize", "done")
    builder = observability.instrument(m.build())
    resources.extra.update(audit=audit, observability=observability)
    return attach_resources(builder, resources, machine=m, graph_name=name)


_GRAPHS: dict[str, Any] = {}


def make_graph(config: Any = None) -> Any:
    """The compiled graph ``langgraph.json`` serves (built once per process; the server
    supplies the checkpointer; ``graphs/server.py`` exports it for ``langgraph.json``)."""
    if "graph" not in _GRAPHS:
        _GRAPHS["graph"] = build().compile(name="diagnosis")
    return _GRAPHS["graph"]
