"""Metric formulas of the eval harness against hand-computed values."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from evals.accounting import action_key, call_stats, side_effects
from evals.faults import episode_seed, kill_plan, parse_profiles
from evals.metrics import check_targets, pass_hat_k, pass_hat_ks, percentile, summarize


def test_pass_hat_k_matches_hand_computed_values() -> None:
    # 3 tasks, n = 4 trials, successes 4, 3, 0
    # k=1: (4/4 + 3/4 + 0) / 3 = 0.58333
    # k=2: (6/6 + 3/6 + 0) / 3 = 0.5
    # k=3: (4/4 + 1/4 + 0) / 3 = 0.41667
    # k=4: (1 + 0 + 0) / 3 = 0.33333
    counts = [4, 3, 0]
    assert pass_hat_k(counts, 4, 1) == pytest.approx(7 / 12)
    assert pass_hat_k(counts, 4, 2) == pytest.approx(0.5)
    assert pass_hat_k(counts, 4, 3) == pytest.approx(5 / 12)
    assert pass_hat_k(counts, 4, 4) == pytest.approx(1 / 3)
    assert pass_hat_ks([8, 8], 8) == {str(k): 1.0 for k in range(1, 9)}
    # τ-bench's published shape: pass^k never increases with k
    ks = pass_hat_ks([5, 7, 2, 8, 0], 8)
    assert all(ks[str(k)] >= ks[str(k + 1)] for k in range(1, 8))
    assert ks["1"] == pytest.approx(22 / 40)
    assert ks["8"] == pytest.approx(1 / 5)
    assert ks["2"] == pytest.approx(
        (math.comb(5, 2) + math.comb(7, 2) + 1 + math.comb(8, 2)) / math.comb(8, 2) / 5
    )


@pytest.mark.parametrize(("counts", "n", "k"), [([1], 2, 0), ([1], 2, 3), ([3], 2, 1), ([], 2, 1)])
def test_pass_hat_k_rejects_bad_input(counts: list[int], n: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_hat_k(counts, n, k)


def test_percentiles_interpolate_linearly() -> None:
    assert percentile([], 50) is None
    assert percentile([7], 95) == 7
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10, 20, 30, 40, 50], 95) == pytest.approx(48.0)  # 40 + 0.8 * 10
    assert percentile(range(1, 101), 99) == pytest.approx(99.01)
    assert percentile([3, 1, 2], 0) == 1 and percentile([3, 1, 2], 100) == 3
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_side_effects_count_duplicates_lost_and_missing() -> None:
    a = action_key("modify_user_address", {"user_id": "u", "zip": "1"})
    b = action_key("cancel_pending_order", {"order_id": "#W1", "reason": "x"})
    assert action_key("t", {"b": 1, "a": 2}) == action_key("t", {"a": 2, "b": 1})
    expected = Counter({a: 1, b: 1})
    # a ran 3 times (2 duplicates), b never: lost only if the run said it was done
    rows = [(*a, False), (*a, False), (*a, True)]
    assert side_effects(expected, rows, reported_done=True) == {
        "executed": 3,
        "duplicates": 2,
        "lost": 1,
        "missing": 1,
    }
    assert side_effects(expected, rows, reported_done=False)["lost"] == 0
    # compensated rows are executed but not live: b compensated -> missing
    rows = [(*a, False), (*b, True)]
    assert side_effects(expected, rows, reported_done=False) == {
        "executed": 2,
        "duplicates": 0,
        "lost": 0,
        "missing": 1,
    }
    # an action that the replay wrote twice is not a duplicate when written twice
    assert side_effects(Counter({a: 2}), [(*a, False)] * 2, reported_done=True)["duplicates"] == 0


def test_call_stats_count_designed_errors_as_successes() -> None:
    calls = [
        {"ok": True, "attempts": 1, "designed": False},
        {"ok": False, "attempts": 1, "designed": True, "error_type": "RetailError"},
        # a call whose ground truth fails by design, but which failed with a fault: a failure
        {"ok": False, "attempts": 8, "designed": True, "error_type": "RetryExhaustedError"},
        {"ok": True, "attempts": 3, "designed": False},
        {"ok": False, "attempts": 8, "designed": False},
        {"ok": False, "attempts": 0, "designed": False, "ran": False},
    ]
    assert call_stats(calls) == {
        "planned": 6,
        "ran": 5,
        "succeeded": 3,
        "attempts": 21,
        "retried": 3,
        "retried_ok": 1,
    }


def _episode(task: str, success: bool, **over: object) -> dict[str, object]:
    ep: dict[str, object] = {
        "task": task,
        "success": success,
        "status": "done" if success else "failed",
        "wall_ms": 10.0,
        "calls": {
            "planned": 2,
            "ran": 2,
            "succeeded": 2,
            "attempts": 3,
            "retried": 1,
            "retried_ok": 1,
        },
        "call_latency_ms": [1.0, 2.0],
        "recovery_ms": [2.0],
        "side_effects": {
            "executed": 1,
            "duplicates": 0,
            "lost": 0,
            "missing": 0,
            "misreported": 0,
            "duplicate_effect_keys": 0,
        },
        "rollback": {"happened": False, "correct": None},
        "transitions": {"total": 10, "failed": 0},
        "checkpoint_bytes": 4000,
        "audit": None,
        "faults": {"calls": 3, "transient": 1},
        "kills": 0,
    }
    ep.update(over)
    return ep


def test_summarize_and_targets() -> None:
    eps = [
        _episode("1", True),
        _episode("1", True),
        _episode("2", True),
        _episode(
            "2",
            False,
            transitions={"total": 10, "failed": 1},
            rollback={"happened": True, "correct": True},
        ),
    ]
    m = summarize(eps, trials=2)
    assert m["pass_hat_k"] == {"1": 0.75, "2": 0.5}
    assert m["success_rate"] == 0.75
    assert m["attempts_per_call"] == 1.5
    assert m["retry_success_rate"] == 1.0
    assert m["rollback_rate"] == 0.25 and m["rollback_correct_rate"] == 1.0
    assert m["transition_success_rate"] == pytest.approx(39 / 40)
    assert m["faults_injected"] == {"calls": 12, "transient": 4}
    assert m["measured"]["tool_call_ms"]["p50"] == 1.5
    verdicts = {t["metric"]: t["pass"] for t in check_targets(m)}
    assert verdicts["pass_hat_n"] is False and verdicts["duplicates"] is True
    assert verdicts["rollback_rate"] is False  # 25 % > 5 %
    assert verdicts["log_coverage"] is None  # no audit in these episodes: n/a


def test_seeds_and_profiles() -> None:
    assert episode_seed(1, "s", "t", 0) == episode_seed(1, "s", "t", 0)
    assert episode_seed(1, "s", "t", 0) != episode_seed(1, "s", "t", 1)
    assert kill_plan(5, 4) == kill_plan(5, 4) and 1 <= kill_plan(5, 4)[0] <= 4
    assert parse_profiles("sweep") == ["none", "flaky-10", "flaky-30"]
    assert parse_profiles("flaky-30, flaky-30,outage") == ["flaky-30", "outage"]
    from agentpatterns.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="unknown fault profile"):
        parse_profiles("flaky-99")
