"""report_generation (layered) and diagnosis (audited, redacted, human sign-off) end to end."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agentpatterns.testing.faults import FaultInjector, fault_profile
from graphs._common import resources_of
from graphs.diagnosis import build as build_diagnosis
from graphs.diagnosis import synthetic_record
from graphs.report_generation import SECTIONS, decompose
from graphs.report_generation import build as build_report

pytestmark = pytest.mark.usefixtures("tau2")


def test_report_full_and_scoped_context(cfg: dict[str, Any]) -> None:
    graph = build_report().compile(checkpointer=InMemorySaver())
    out = graph.invoke({"task": "full report", "statuses": ["delivered"], "top": 3}, cfg)
    assert out["status"] == "done" and len(out["results"]) == len(SECTIONS)
    assert [h["layer"] for h in out["handoffs"]] == [1] * len(SECTIONS)
    for title in ("Orders by status", "Sales by product type", "Top customers", "Revenue"):
        assert f"## {title}" in out["report"]
    customers = next(v for k, v in out["results"].items() if k.startswith("customers"))
    assert len(customers["rows"]) == 3 and customers["statuses"] == ["delivered"]
    liability = next(v for k, v in out["results"].items() if k.startswith("liability"))
    assert "statuses" not in liability  # this executor declared no context


def test_report_decompose_picks_sections() -> None:
    assert [s.executor for s in decompose({"task": "revenue and gift card liability"})] == [
        "revenue",
        "liability",
    ]
    assert len(decompose({"task": "anything"})) == len(SECTIONS)


def test_report_under_faults_equals_fault_free(cfg: dict[str, Any]) -> None:
    clean = build_report().compile().invoke({"task": "full report"})
    faulty = build_report(faults=fault_profile("flaky-30", seed=4)).compile()
    out = faulty.invoke({"task": "full report"})
    assert out["status"] == "done" and out["report"] == clean["report"]


def test_report_outage_degrades_to_partial(cfg: dict[str, Any]) -> None:
    graph = build_report(faults=FaultInjector(0, outage=True, tools=["revenue_report"]))
    out = graph.compile().invoke({"task": "full report"})
    assert out["status"] == "partial" and list(out["failures"]) == ["revenue-3"]
    assert "## Missing sections" in out["report"] and "## Revenue\n" not in out["report"]
    assert "## Top customers" in out["report"]


def test_report_resumes_after_stop(tmp_path: Any, cfg: dict[str, Any]) -> None:
    from agentpatterns.checkpoint import open_checkpointer

    url = f"sqlite:///{tmp_path / 'cp.db'}"
    with open_checkpointer(url) as saver:
        graph = build_report().compile(checkpointer=saver, interrupt_before=["report"])
        graph.invoke({"task": "revenue"}, cfg)
    with open_checkpointer(url) as saver:  # a new process would do the same
        graph = build_report().compile(checkpointer=saver)
        out = graph.invoke(None, cfg)
    assert out["report"].startswith("# Report: revenue")


def _diagnosis(cfg: dict[str, Any]) -> tuple[Any, Any]:
    graph = build_diagnosis().compile(checkpointer=InMemorySaver())
    return graph, resources_of(graph).extra["audit"]  # type: ignore[union-attr]


def test_diagnosis_needs_sign_off_and_audits_everything_redacted(cfg: dict[str, Any]) -> None:
    graph, audit = _diagnosis(cfg)
    paused = graph.invoke({"patient": 7}, cfg)
    assert "answer" not in paused or paused["answer"] is None  # nothing before sign-off
    assert paused["__interrupt__"][0].value["node"] == "sign_off"
    out = graph.invoke(Command(resume={"approve": True, "clinician": "Dr. Test"}), cfg)
    assert out["status"] == "done" and "Signed off by Dr. Test" in out["answer"]
    records = audit.query(thread_id=cfg["configurable"]["thread_id"])
    kinds = {r.kind for r in records}
    assert {"input", "node", "transition", "output"} <= kinds
    nodes = {r.node for r in records if r.kind == "node"}
    assert {"intake", "assess", "recommend", "sign_off", "finalize"} <= nodes
    blob = json.dumps([r.data for r in records], default=str)
    record = synthetic_record(7)
    for secret in (record["name"], record["mrn"], record["email"], record["phone"], record["dob"]):
        assert secret not in blob
    assert "[REDACTED" in blob and "Triage:" in blob  # content captured, identity removed


def test_diagnosis_rejected_sign_off_ends_escalated(cfg: dict[str, Any]) -> None:
    graph, _ = _diagnosis(cfg)
    graph.invoke({"patient": 3}, cfg)
    bad = graph.invoke(Command(resume={"approve": "perhaps"}), cfg)  # invalid: asked again
    assert bad["__interrupt__"][0].value["error"]
    out = graph.invoke(Command(resume={"approve": False, "clinician": "Dr. No", "note": "x"}), cfg)
    assert out["status"] == "escalated" and out["answer"] is None
    assert "refused by Dr. No" in out["reason"]


def test_diagnosis_refuses_non_synthetic_records(cfg: dict[str, Any]) -> None:
    graph, _ = _diagnosis(cfg)
    record = {**synthetic_record(1), "synthetic": False}
    out = graph.invoke({"record": record}, cfg)
    assert out["status"] == "failed" and "only synthetic" in out["reason"]


def test_diagnosis_sign_off_survives_a_restart(tmp_path: Any, cfg: dict[str, Any]) -> None:
    from agentpatterns.checkpoint import open_checkpointer

    url = f"sqlite:///{tmp_path / 'cp.db'}"
    with open_checkpointer(url) as saver:
        build_diagnosis(state_dir=tmp_path).compile(checkpointer=saver).invoke({"patient": 9}, cfg)
    with open_checkpointer(url) as saver:
        graph = build_diagnosis(state_dir=tmp_path).compile(checkpointer=saver)
        out = graph.invoke(Command(resume={"approve": True, "clinician": "Dr. B"}), cfg)
        resources_of(graph).close()  # type: ignore[union-attr]
    assert out["status"] == "done"
    assert (tmp_path / "audit.db").exists()
