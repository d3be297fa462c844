"""Reference graph: audited triage flow with mandatory human sign-off (see ``graph``)."""

from graphs.diagnosis.graph import REDACTOR, DiagnosisState, SignOff, build, make_graph
from graphs.diagnosis.records import synthetic_record, triage_score

__all__ = [
    "REDACTOR",
    "DiagnosisState",
    "SignOff",
    "build",
    "make_graph",
    "synthetic_record",
    "triage_score",
]
