"""Metric formulas and the guide's targets.

- pass^k (τ-bench): with ``n`` trials per task and ``c_t`` successes on task ``t``,
  ``pass^k = mean_t C(c_t, k) / C(n, k)``: the chance that ``k`` independent runs of the
  same task all succeed. ``pass^1`` is the success rate.
- percentiles: linear interpolation between closest ranks (numpy's default ``linear``).
- :func:`summarize` turns the episode records of one (configuration, fault profile) into
  the metrics of ``results.json`` (see ``evals/SCHEMA.md``); :data:`TARGETS` says which
  metric is checked against which target of the guide (or of this project, when tighter).

Example:
    >>> from evals.metrics import pass_hat_k, percentile
    >>> pass_hat_k([4, 2], n=4, k=2)  # (C(4,2)/C(4,2) + C(2,2)/C(4,2)) / 2
    0.5833333333333334
    >>> percentile([1, 2, 3, 4], 50)
    2.5
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MEASURED_TARGETS",
    "TARGETS",
    "Target",
    "check_targets",
    "mean",
    "pass_hat_k",
    "pass_hat_ks",
    "percentile",
    "summarize",
]


def pass_hat_k(successes: Sequence[int], n: int, k: int) -> float:
    """τ-bench pass^k over tasks with ``successes[t]`` successes out of ``n`` trials each.

    Raises:
        ValueError: ``k`` not in 1..n, or a success count outside 0..n.
    """
    if not 1 <= k <= n:
        raise ValueError(f"k must be within 1..{n}, got {k}")
    if not successes:
        raise ValueError("no tasks")
    total = math.comb(n, k)
    for c in successes:
        if not 0 <= c <= n:
            raise ValueError(f"success count {c} outside 0..{n}")
    return sum(math.comb(c, k) / total for c in successes) / len(successes)


def pass_hat_ks(successes: Sequence[int], n: int) -> dict[str, float]:
    """``{"1": pass^1, ..., "n": pass^n}``."""
    return {str(k): pass_hat_k(successes, n, k) for k in range(1, n + 1)}


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation; None for no values."""
    data = sorted(float(v) for v in values)
    if not data:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q}")
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean; None for no values."""
    data = [float(v) for v in values]
    return sum(data) / len(data) if data else None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _dist(values: Sequence[float]) -> dict[str, float | None]:
    return {
        "n": len(values),
        "mean": mean(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


def summarize(episodes: Sequence[Mapping[str, Any]], trials: int) -> dict[str, Any]:
    """Metrics of the episodes of one (configuration, fault profile).

    Deterministic metrics (a function of the seed) are at the top level; wall-clock and
    size measurements are under ``"measured"`` (they vary a little from run to run:
    checkpoints hold elapsed times).
    """
    by_task: dict[str, int] = {}
    for e in episodes:
        by_task[e["task"]] = by_task.get(e["task"], 0) + int(bool(e["success"]))
    counts = [by_task[t] for t in sorted(by_task)]
    calls: Counter[str] = Counter()
    effects: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    for e in episodes:
        calls.update(e["calls"])
        effects.update({k: v for k, v in e["side_effects"].items() if v})
        faults.update(e.get("faults") or {})
    rolled = [e for e in episodes if e["rollback"]["happened"]]
    checked = [e for e in episodes if e["rollback"]["correct"] is not None]
    tr_total = sum(e["transitions"]["total"] for e in episodes)
    tr_failed = sum(e["transitions"]["failed"] for e in episodes)
    audits = [e["audit"] for e in episodes if e.get("audit")]
    sizes = [e["checkpoint_bytes"] for e in episodes if e.get("checkpoint_bytes")]
    out: dict[str, Any] = {
        "episodes": len(episodes),
        "tasks": len(counts),
        "trials": trials,
        "successes": sum(counts),
        "success_rate": _ratio(sum(counts), len(episodes)),
        "pass_hat_k": pass_hat_ks(counts, trials) if counts and trials else {},
        "status": dict(sorted(Counter(e["status"] for e in episodes).items())),
        "calls": dict(sorted(calls.items())),
        "tool_success_rate": _ratio(calls["succeeded"], calls["ran"]),
        "attempts_per_call": _ratio(calls["attempts"], calls["ran"]),
        "retry_success_rate": _ratio(calls["retried_ok"], calls["retried"]),
        "side_effects": {
            k: effects.get(k, 0)
            for k in (
                "executed",
                "duplicates",
                "duplicate_effect_keys",
                "lost",
                "missing",
                "misreported",
            )
        },
        "rollback_rate": _ratio(len(rolled), len(episodes)),
        "rollbacks": len(rolled),
        "rollback_correct_rate": _ratio(
            sum(1 for e in checked if e["rollback"]["correct"]), len(checked)
        ),
        "transitions": tr_total,
        "transition_success_rate": _ratio(tr_total - tr_failed, tr_total),
        "log_coverage": mean(a["coverage"] for a in audits) if audits else None,
        "kills": sum(e.get("kills", 0) for e in episodes),
        "faults_injected": dict(sorted(faults.items())),
    }
    recovery = [v for e in episodes for v in e.get("recovery_ms") or []]
    latency = [v for e in episodes for v in e.get("call_latency_ms") or []]
    collect = [a["collection_ms"] for a in audits if a.get("collection_ms") is not None]
    retrieve = [a["retrieval_ms"] for a in audits if a.get("retrieval_ms") is not None]
    handoff = [v for e in episodes for v in e.get("handoff_ms") or []]
    out["measured"] = {
        "checkpoint_bytes": {"mean": mean(sizes), "max": max(sizes) if sizes else None},
        "episode_ms": _dist([e["wall_ms"] for e in episodes]),
        "tool_call_ms": _dist(latency),
        "recovery_ms": _dist(recovery),
        "log_collection_ms": _dist(collect),
        "audit_retrieval_ms": _dist(retrieve),
        "handoff_ms": _dist(handoff),
        "transition_ms": _dist([v for e in episodes for v in e.get("transition_ms") or []]),
    }
    return out


@dataclass(frozen=True)
class Target:
    """One metric checked against a target: ``get(metrics)`` -> value, ``ok(value)``."""

    metric: str
    label: str
    target: str
    source: str
    get: Callable[[Mapping[str, Any]], Any]
    ok: Callable[[Any], bool]


def _t(path: str) -> Callable[[Mapping[str, Any]], Any]:
    def get(m: Mapping[str, Any]) -> Any:
        cur: Any = m
        for part in path.split("."):
            if not isinstance(cur, Mapping) or part not in cur:
                return None
            cur = cur[part]
        return cur

    return get


def _last_pass(m: Mapping[str, Any]) -> Any:
    ks = m.get("pass_hat_k") or {}
    return ks[max(ks, key=int)] if ks else None


TARGETS: tuple[Target, ...] = (
    Target("pass_hat_n", "pass^n (all trials)", "= 1.0", "ours", _last_pass, lambda v: v == 1.0),
    Target("success_rate", "success rate", "= 1.0", "ours", _t("success_rate"), lambda v: v == 1.0),
    Target(
        "duplicates",
        "duplicated side effects",
        "= 0",
        "ours",
        _t("side_effects.duplicates"),
        lambda v: v == 0,
    ),
    Target("lost", "lost side effects", "= 0", "ours", _t("side_effects.lost"), lambda v: v == 0),
    Target(
        "misreported",
        "committed writes reported failed",
        "= 0",
        "ours",
        _t("side_effects.misreported"),
        lambda v: v == 0,
    ),
    Target(
        "retry_success_rate",
        "retry success",
        "> 95 %",
        "guide",
        _t("retry_success_rate"),
        lambda v: v > 0.95,
    ),
    Target(
        "rollback_rate", "rollback rate", "< 5 %", "guide", _t("rollback_rate"), lambda v: v < 0.05
    ),
    Target(
        "rollback_correct_rate",
        "rollback correctness",
        "= 100 %",
        "ours",
        _t("rollback_correct_rate"),
        lambda v: v == 1.0,
    ),
    Target(
        "recovery_p95",
        "recovery time p95",
        "< 5 min",
        "guide",
        _t("measured.recovery_ms.p95"),
        lambda v: v < 300_000,
    ),
    Target(
        "transition_success_rate",
        "transition success",
        "> 99.5 %",
        "guide",
        _t("transition_success_rate"),
        lambda v: v > 0.995,
    ),
    Target(
        "transition_p95",
        "transition latency p95",
        "< 100 ms",
        "guide",
        _t("measured.transition_ms.p95"),
        lambda v: v < 100,
    ),
    Target(
        "checkpoint_max",
        "state per checkpoint (max)",
        "< 100 KB",
        "guide",
        _t("measured.checkpoint_bytes.max"),
        lambda v: v < 100_000,
    ),
    Target(
        "checkpoint_ours",
        "state per checkpoint (max)",
        "<= 10 KB",
        "ours",
        _t("measured.checkpoint_bytes.max"),
        lambda v: v <= 10_240,
    ),
    Target(
        "tool_success_rate",
        "tool-call success",
        "> 99 %",
        "guide",
        _t("tool_success_rate"),
        lambda v: v > 0.99,
    ),
    Target(
        "tool_call_p95",
        "tool-call latency p95",
        "< 200 ms",
        "guide",
        _t("measured.tool_call_ms.p95"),
        lambda v: v < 200,
    ),
    Target(
        "handoff_p95",
        "hand-off latency per layer p95",
        "< 50 ms",
        "guide",
        _t("measured.handoff_ms.p95"),
        lambda v: v < 50,
    ),
    Target(
        "log_coverage", "log coverage", "= 100 %", "ours", _t("log_coverage"), lambda v: v == 1.0
    ),
    Target(
        "log_collection_p95",
        "log collection delay p95",
        "< 1 s",
        "guide",
        _t("measured.log_collection_ms.p95"),
        lambda v: v < 1000,
    ),
    Target(
        "audit_retrieval_p95",
        "audit retrieval p95",
        "< 5 s",
        "guide",
        _t("measured.audit_retrieval_ms.p95"),
        lambda v: v < 5000,
    ),
)


#: Targets on wall-clock and size measurements (their values vary between runs).
MEASURED_TARGETS = frozenset(
    {
        "recovery_p95",
        "transition_p95",
        "tool_call_p95",
        "handoff_p95",
        "log_collection_p95",
        "audit_retrieval_p95",
        "checkpoint_max",
        "checkpoint_ours",
    }
)


def check_targets(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``[{"metric", "label", "target", "source", "value", "pass"}]``; ``pass`` is None when
    the metric does not apply (no value, e.g. no retries or no state machine)."""
    rows: list[dict[str, Any]] = []
    for t in TARGETS:
        value = t.get(metrics)
        rows.append(
            {
                "metric": t.metric,
                "label": t.label,
                "target": t.target,
                "source": t.source,
                "value": value,
                "pass": None if value is None else bool(t.ok(value)),
                "measured": t.metric in MEASURED_TARGETS,
            }
        )
    return rows
