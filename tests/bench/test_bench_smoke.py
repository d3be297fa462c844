"""Smoke tests of the benchmark harness: primitives, ratios from measured numbers, and a
quick ``python -m bench`` run whose JSON and Markdown follow the documented schema."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.__main__ import SCHEMA, fill_missing, has_run, summary_markdown
from bench.common import (
    FIGURES,
    Result,
    Target,
    compare,
    interleaved,
    measure,
    percentile,
    result,
    unavailable,
)

ROOT = Path(__file__).resolve().parents[2]
ROW_KEYS = set(Result.__dataclass_fields__)


def test_ratio_of_a_candidate_twice_as_slow_is_about_two() -> None:
    base, cand = interleaved(
        lambda: time.sleep(0.02), lambda: time.sleep(0.04), warmup=1, repeats=9
    )
    row = compare("sleep 40 ms vs 20 ms", 1, base, cand, target=Target("<=", 1.05))
    assert row["ratio"] == pytest.approx(cand.median / base.median)
    assert row["value"] == pytest.approx(cand.median * 1e3)
    assert row["baseline"] == pytest.approx(base.median * 1e3)
    # Sleep overshoot on a loaded machine is additive noise: the minimum is robust to it, the
    # median (what the harness reports) gets a generous band.
    assert 1.5 < row["extra"]["candidate_min"] / row["extra"]["baseline_min"] < 2.5
    assert 1.2 < row["ratio"] < 4.0
    assert row["passed"] is False and row["status"] == "fail"
    assert len(base) == len(cand) == 9


def test_interleaving_alternates_the_order() -> None:
    calls: list[str] = []
    interleaved(lambda: calls.append("a"), lambda: calls.append("b"), warmup=0, repeats=4)
    assert "".join(calls) == "abbaabba"


def test_measure_divides_by_inner_calls() -> None:
    samples = measure(lambda: time.sleep(0.001), warmup=0, repeats=3, inner=5)
    assert all(0.0009 < v < 0.05 for v in samples.values)


def test_percentiles_come_from_the_statistics_module() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert 98.9 < percentile(values, 99) <= 100
    assert percentile([3.0], 99) == 3.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_targets_on_ratio_and_value_and_honest_placeholders() -> None:
    assert result("a", 1, 10.0, "ms", baseline=10.0, target=Target("<=", 1.05))["passed"]
    slow = result("b", 1, 12.0, "ms", baseline=10.0, target=Target("<=", 1.05))
    assert slow["ratio"] == pytest.approx(1.2) and slow["status"] == "fail"
    fast = result("c", 9, 95.0, "threads/s", baseline=100.0, target=Target(">=", 0.95))
    assert fast["status"] == "pass"
    on_value = result("d", 7, 60.0, "ms", target=Target("<=", 50, on="value", unit="ms"))
    assert on_value["status"] == "fail" and on_value["target"] == "<= 50 ms"
    info = result("e", 9, 3.0, "threads/s")
    assert info["status"] == "info" and info["passed"] is None
    missing = unavailable("f", 10, "not yet available")
    assert missing["value"] is None and missing["status"] == "n/a"
    assert missing["notes"] == "not yet available"


def test_every_missing_figure_gets_a_row_without_a_number() -> None:
    rows = fill_missing([result("x", 6, 1.0, "B")])
    assert sorted(r["figure"] for r in rows) == sorted(FIGURES)
    assert all(r["value"] is None for r in rows if r["figure"] != 6)
    assert "did not report it" in next(r for r in rows if r["figure"] == 10)["notes"]


def test_only_modules_with_run_quick_are_run(tmp_path: Path) -> None:
    script = tmp_path / "bench_script.py"
    script.write_text("def run(repeats=10):\n    pass\n")
    module = tmp_path / "bench_mod.py"
    module.write_text("def run(quick: bool):\n    return []\n")
    assert not has_run(script)
    assert has_run(module)


def test_quick_run_writes_json_and_summary(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--only",
            "checkpoint_size",
            "--out",
            str(tmp_path),
            "--no-postgres",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "latest.json").read_text())
    assert report["schema"] == SCHEMA
    assert report["quick"] is True
    assert {"date", "duration_s", "machine", "modules", "results"} <= set(report)
    machine = report["machine"]
    for key in ("platform", "cpu_count", "python", "langgraph", "loadavg_start"):
        assert machine[key], key
    assert report["modules"]["checkpoint_size"]["status"] == "ok"
    rows = report["results"]
    assert "raw 10-node chain" in {row["name"] for row in rows}
    for row in rows:
        assert set(row) == ROW_KEYS
        assert row["figure"] == 6
        if row["status"] == "error":  # a reference graph that broke: its own tests say why
            assert row["value"] is None and row["notes"].startswith("error:")
            continue
        assert row["value"] > 0 and row["unit"] == "B"
        assert row["status"] in ("pass", "fail")
        assert row["passed"] == (row["value"] <= 10_240)
        if row["baseline"] is not None:
            assert row["ratio"] == pytest.approx(row["value"] / row["baseline"])
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert "| figure | measurement | value | baseline | ratio | target | result |" in summary
    assert summary == summary_markdown(report)
    assert report["date"] in summary and machine["langgraph"] in summary
