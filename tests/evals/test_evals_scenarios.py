"""Scenario suites (one per reference graph) under faults: right end states, no duplicates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentpatterns.errors import ConfigurationError


@pytest.fixture(scope="module", autouse=True)
def _tau2() -> None:
    from tools.retail import data_dir

    try:
        data_dir()
    except ConfigurationError as exc:
        pytest.skip(f"τ² retail data absent: {exc}")


def _run(
    tmp: Path, suite: str, tasks: list[str], profile: str, configs: list[str], trials: int = 1
) -> dict[str, Any]:
    from evals.report import build_results
    from evals.runner import EvalOptions, run_eval

    opts = EvalOptions(
        suite=suite,
        profiles=[profile],
        configs=configs,
        trials=trials,
        seed=11,
        workers=0,
        tasks=tasks,
        out=tmp,
    )
    episodes, info = run_eval(opts)
    return build_results(episodes, info, opts.describe())


def _metrics(doc: dict[str, Any], config: str = "full") -> dict[str, Any]:
    return next(g["metrics"] for g in doc["groups"] if g["config"] == config)


def test_suite_catalogue() -> None:
    from evals.scenarios import suite

    ids = suite("scenarios").task_ids("all")
    assert len(ids) == 63 and len(set(ids)) == 63
    assert suite("order-processing").task_ids("all", limit=3) == ["op-00", "op-01", "op-02"]
    with pytest.raises(ConfigurationError, match="unknown suite"):
        suite("payroll")


def test_order_saga_under_lost_responses(tmp_path: Path) -> None:
    # op-04: declined card (nothing may happen), op-06: sold-out item (charge refunded)
    doc = _run(
        tmp_path,
        "order-processing",
        ["op-00", "op-01", "op-04", "op-06"],
        "lost-response",
        ["full"],
        trials=2,
    )
    m = _metrics(doc)
    assert m["success_rate"] == 1.0 and m["pass_hat_k"]["2"] == 1.0
    assert m["side_effects"]["duplicates"] == 0 and m["side_effects"]["lost"] == 0
    assert m["faults_injected"]["lost_response"] > 0
    assert m["rollback_rate"] == 0.0  # compensations here were designed, not fault-driven
    assert m["rollback_correct_rate"] == 1.0  # ... and they undid the charge
    sold_out = [e for e in doc["episodes"] if e["task"] == "op-06"]
    assert all(e["status"] == "failed" and e["detail"]["designed_rollback"] for e in sold_out)


def test_report_customer_service_and_diagnosis_scenarios(tmp_path: Path) -> None:
    tasks = ["rg-00", "rg-05", "cs-00", "cs-05", "cs-15", "dx-00", "dx-03"]
    doc = _run(tmp_path, "scenarios", tasks, "flaky-30", ["full", "no-retry"])
    full = _metrics(doc)
    assert full["success_rate"] == 1.0, [
        (e["task"], e["status"]) for e in doc["episodes"] if not e["success"]
    ]
    assert full["side_effects"]["duplicates"] == 0
    assert full["measured"]["handoff_ms"]["n"] >= 2  # layered report hand-offs were measured
    by_task = {e["task"]: e for e in doc["episodes"] if e["config"] == "full"}
    assert by_task["cs-15"]["status"] == "escalated"  # outside the policy: a human takes over
    assert by_task["dx-03"]["status"] == "escalated" and by_task["dx-00"]["status"] == "done"
    assert by_task["dx-00"]["detail"]["audit_records"] > 0
    assert _metrics(doc, "no-retry")["episodes"] == len(tasks)


def test_order_saga_survives_process_kill(tmp_path: Path) -> None:
    doc = _run(tmp_path, "order-processing", ["op-01", "op-02"], "process-kill", ["full"])
    m = _metrics(doc)
    assert m["kills"] == 2 and m["success_rate"] == 1.0
    assert m["side_effects"]["duplicates"] == 0
