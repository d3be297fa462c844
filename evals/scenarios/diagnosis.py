"""``diagnosis``: the audited triage flow on 12 synthetic patients, with scripted sign-off.

The flow pauses for a mandatory clinician sign-off; the harness answers it (approve, except
for every fourth patient whose urgent or emergency triage is rejected). Success: an
approved run ends ``done`` with the signed answer, a rejected one ends ``escalated``
without an answer, and the audit log of the thread holds no identity field of the
synthetic record (the redactor ran before anything was written). The flow calls no tools,
so tool fault profiles inject nothing here; crash profiles still kill and resume it.
"""

from __future__ import annotations

import json
from typing import Any

from evals.scenarios.base import ScenarioHarness, effects

__all__ = ["DiagnosisHarness"]

SCENARIOS: dict[str, dict[str, Any]] = {
    f"dx-{n:02d}": {"patient": n + 1, "reject": n % 4 == 3, "calls": 4} for n in range(12)
}


class DiagnosisHarness(ScenarioHarness):
    suite = "diagnosis"
    prefix = "dx-"
    CONFIGS = ("full",)

    def obs_options(self) -> dict[str, Any]:
        from graphs.diagnosis import REDACTOR

        return {"redactor": REDACTOR, "capture_content": True}

    def audit_options(self) -> dict[str, Any]:
        from graphs.diagnosis import REDACTOR

        return {"redactor": REDACTOR}

    def scenarios(self) -> dict[str, dict[str, Any]]:
        return SCENARIOS

    def build(self, config: str) -> Any:
        from graphs.diagnosis import build

        return build(observability=self.obs, name="diagnosis")

    def inputs(self, scenario: dict[str, Any], ident: str, seed: int) -> dict[str, Any]:
        return {"patient": scenario["patient"]}

    def resume_value(self, scenario: dict[str, Any], interrupt: Any) -> Any:
        if scenario["reject"]:
            return {"approve": False, "clinician": "Dr. Eval", "note": "needs an examination"}
        return {"approve": True, "clinician": "Dr. Eval"}

    def check_audit(self, records: list[Any]) -> bool:
        from graphs.diagnosis.records import synthetic_record

        text = json.dumps([r.data for r in records], default=str)
        return "Test Patient" not in text and "FAKE-" not in text and bool(synthetic_record)

    def judge(
        self,
        scenario: dict[str, Any],
        prepared: dict[str, Any],
        values: dict[str, Any],
        error: str | None,
    ) -> dict[str, Any]:
        status = "crashed" if error else str(values.get("status") or "interrupted")
        answer = values.get("answer")
        if scenario["reject"]:
            success = status == "escalated" and not answer
        else:
            success = status == "done" and bool(answer) and "Signed off by Dr. Eval" in answer
        return {
            "success": success,
            "status": status,
            "designed_failure": scenario["reject"],
            "calls": [],
            "side_effects": effects(),
            "detail": {"triage": values.get("triage"), "rejected": scenario["reject"]},
        }
