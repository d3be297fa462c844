"""Synthetic, obviously fake patient-like records for the diagnosis reference graph.

Nothing here is medical advice or real data: names are "Test Patient NNN", record numbers
start with ``FAKE-``, phone numbers are in the reserved 555-01xx range and e-mail addresses
use ``example.test``. Records are generated from a seed, so tests and demos are repeatable.

Example:
    >>> r = synthetic_record(7)
    >>> r["name"], r["mrn"], r["synthetic"]
    ('Test Patient 007', 'FAKE-0007', True)
    >>> synthetic_record(7) == synthetic_record(7)
    True
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["SYMPTOMS", "synthetic_record", "triage_score"]

SYMPTOMS = (
    "cough",
    "fever",
    "headache",
    "chest pain",
    "shortness of breath",
    "sore throat",
    "dizziness",
    "rash",
)
_RED_FLAGS = {"chest pain": 3, "shortness of breath": 3, "dizziness": 1, "fever": 1}


def synthetic_record(n: int, *, seed: int = 0) -> dict[str, Any]:
    """Fake record number ``n``: identity (to be redacted), vitals and symptoms."""
    rng = random.Random(f"{seed}:{n}")
    symptoms = sorted(rng.sample(SYMPTOMS, k=rng.randint(1, 3)))
    return {
        "synthetic": True,
        "mrn": f"FAKE-{n:04d}",
        "name": f"Test Patient {n:03d}",
        "dob": f"19{rng.randint(40, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        "phone": f"+1-202-555-01{n % 100:02d}",
        "email": f"patient{n:03d}@example.test",
        "age": rng.randint(18, 90),
        "vitals": {
            "temp_c": round(rng.uniform(36.1, 39.8), 1),
            "heart_rate": rng.randint(55, 130),
            "spo2": rng.randint(88, 100),
            "systolic_bp": rng.randint(90, 175),
        },
        "symptoms": symptoms,
    }


def triage_score(record: dict[str, Any]) -> tuple[int, list[str]]:
    """A made-up score (not clinical!) and the findings that raised it."""
    v = record["vitals"]
    findings: list[str] = []
    score = 0
    for symptom in record["symptoms"]:
        if symptom in _RED_FLAGS:
            score += _RED_FLAGS[symptom]
            findings.append(symptom)
    checks = (
        (v["temp_c"] >= 38.5, 1, f"temperature {v['temp_c']} C"),
        (v["heart_rate"] >= 110, 2, f"heart rate {v['heart_rate']}"),
        (v["spo2"] <= 92, 3, f"SpO2 {v['spo2']} %"),
        (v["systolic_bp"] >= 160 or v["systolic_bp"] <= 95, 1, f"BP {v['systolic_bp']}"),
        (record["age"] >= 75, 1, f"age {record['age']}"),
    )
    for hit, points, text in checks:
        if hit:
            score += points
            findings.append(text)
    return score, findings
