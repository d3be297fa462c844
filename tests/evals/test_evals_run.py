"""End-to-end eval runs on a few τ² tasks: full stack vs raw ToolNode, determinism, reports."""

from __future__ import annotations

import json
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


TASKS = ["5", "9", "38"]  # test split; 38 has a ground-truth write that fails by design


def _run(
    tmp: Path,
    configs: list[str],
    profile: str,
    trials: int,
    seed: int = 3,
    tasks: list[str] = TASKS,
) -> dict[str, Any]:
    from evals.report import build_results
    from evals.runner import EvalOptions, run_eval

    opts = EvalOptions(
        profiles=[profile],
        configs=configs,
        trials=trials,
        seed=seed,
        workers=0,
        tasks=tasks,
        out=tmp,
    )
    episodes, info = run_eval(opts)
    return build_results(episodes, info, opts.describe())


def _deterministic(doc: dict[str, Any]) -> Any:
    """Everything of a results document that must not depend on the clock."""
    groups = []
    for g in doc["groups"]:
        m = {k: v for k, v in g["metrics"].items() if k != "measured"}
        targets = [t for t in g["targets"] if not t["measured"]]
        groups.append((g["config"], g["profile"], m, targets))
    drop = {
        "wall_ms",
        "call_latency_ms",
        "recovery_ms",
        "audit",
        "transition_ms",
        "handoff_ms",
        "checkpoint_bytes",
    }
    episodes = [{k: v for k, v in e.items() if k not in drop} for e in doc["episodes"]]
    return groups, episodes


def _group(doc: dict[str, Any], config: str) -> dict[str, Any]:
    return next(g for g in doc["groups"] if g["config"] == config)


def test_full_stack_is_perfect_under_flaky_30_and_same_seed_same_numbers(tmp_path: Path) -> None:
    doc = _run(tmp_path / "a", ["full", "raw-toolnode"], "flaky-30", trials=2)
    full = _group(doc, "full")["metrics"]
    assert full["pass_hat_k"] == {"1": 1.0, "2": 1.0}
    assert full["side_effects"]["duplicates"] == 0
    assert full["side_effects"]["lost"] == 0 and full["side_effects"]["misreported"] == 0
    assert full["faults_injected"]["transient"] + full["faults_injected"]["timeout"] > 0
    assert full["calls"]["retried"] > 0 and full["retry_success_rate"] == 1.0
    assert full["transition_success_rate"] == 1.0 and full["log_coverage"] == 1.0
    # the designed domain error of task 38 is a result, not a fault: not retried, not failed
    assert full["tool_success_rate"] == 1.0
    t38 = [e for e in doc["episodes"] if e["task"] == "38" and e["config"] == "full"]
    assert all(e["success"] and e["status"] == "done" for e in t38)
    raw = _group(doc, "raw-toolnode")["metrics"]
    assert raw["episodes"] == 6 and set(raw["pass_hat_k"]) == {"1", "2"}
    assert 0.0 <= raw["success_rate"] <= 1.0 and raw["attempts_per_call"] >= 1.0
    assert raw["transition_success_rate"] is None  # no state machine: n/a, not faked
    again = _run(tmp_path / "b", ["full", "raw-toolnode"], "flaky-30", trials=2)
    assert _deterministic(again) == _deterministic(doc)
    other = _run(tmp_path / "c", ["raw-toolnode"], "flaky-30", trials=2, seed=4)
    assert [e["faults"] for e in other["episodes"]] != [
        e["faults"] for e in doc["episodes"] if e["config"] == "raw-toolnode"
    ]


def test_process_kill_resumes_without_repeating_writes(tmp_path: Path) -> None:
    doc = _run(tmp_path, ["full", "monolith"], "process-kill", trials=1, tasks=["9", "13"])
    full = _group(doc, "full")["metrics"]
    assert full["kills"] == 2 and full["success_rate"] == 1.0
    assert full["side_effects"]["duplicates"] == 0 and full["side_effects"]["lost"] == 0
    assert full["measured"]["recovery_ms"]["n"] >= 2
    mono = _group(doc, "monolith")["metrics"]
    assert mono["kills"] == 2  # same kill points: it restarts from scratch


def test_cli_writes_valid_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evals.cli import main
    from evals.schema import json_schema, validate

    out = tmp_path / "run"
    code = main(
        [
            "--faults",
            "flaky-30",
            "--trials",
            "2",
            "--tasks",
            "5,9",
            "--configs",
            "full,monolith,no-logging",
            "--workers",
            "0",
            "--out",
            str(out),
            "--quiet",
            "--strict",
        ]
    )
    assert code == 0
    for name in (
        "results.json",
        "report.md",
        "report.html",
        "plots/success_vs_fault_rate.png",
        "plots/pass_hat_k.png",
        "plots/latency.png",
        "plots/retries_rollbacks.png",
    ):
        assert (out / name).is_file(), name
    doc = json.loads((out / "results.json").read_text())
    validate(doc)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(doc, json_schema())
    assert {g["config"] for g in doc["groups"]} == {"full", "monolith", "no-logging"}
    nolog = _group(doc, "no-logging")["metrics"]
    assert nolog["log_coverage"] == 0.0 and nolog["pass_hat_k"]["2"] == 1.0
    md = (out / "report.md").read_text()
    assert "pass^2" in md and "![success_vs_fault_rate]" in md
    assert "data:image/png;base64," in (out / "report.html").read_text()
    assert "full" in capsys.readouterr().out
    assert main(["schema"]) == 0 and '"Results"' in capsys.readouterr().out
    assert main(["--faults", "nope", "--workers", "0"]) == 2
    assert main(["--configs", "fancy", "--workers", "0"]) == 2
    assert main(["--split", "dev", "--workers", "0"]) == 2
