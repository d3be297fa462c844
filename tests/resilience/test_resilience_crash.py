"""Crash recovery: SIGKILL workers at seeded random points, resume, check exactly-once.

A zygote process (``resilience_crash_worker.py``) forks workers that run an order graph
(4 side effects per thread) on SqliteSaver / PostgresSaver plus an EffectLedger. The test
kills workers with SIGKILL after a seeded random delay, at least 50 times per backend, then
lets a final worker finish. Every thread must complete, and the tools' own write log must
show every effect exactly once, matching the ledger.
"""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

import pytest

from agentpatterns.checkpoint import open_checkpointer
from agentpatterns.resilience import EffectLedger

from .._crash import Zygote, killed

WORKER = Path(__file__).with_name("resilience_crash_worker.py")
TOOLS = ("reserve", "charge", "ship", "notify")
KILLS = 50


def _check(url: str, log_path: Path, threads: list[str]) -> None:
    conn = sqlite3.connect(log_path)
    rows = conn.execute("SELECT key, COUNT(*), MIN(id) FROM writes GROUP BY key").fetchall()
    counts = {key: n for key, n, _ in rows}
    expected = {f"{t}:{tool}" for t in threads for tool in TOOLS}
    assert set(counts) == expected, "an effect was lost or invented"
    duplicates = {k: n for k, n in counts.items() if n != 1}
    assert not duplicates, f"effects ran more than once: {duplicates}"
    first_id = {key: first for key, _, first in rows}
    with EffectLedger(url) as ledger:
        for key in expected:
            effect = ledger.get(key)
            assert effect is not None and effect.status == "done", (key, effect)
            assert effect.result["write_id"] == first_id[key]
    with open_checkpointer(url) as saver:
        for t in threads:
            tup = saver.get_tuple({"configurable": {"thread_id": t}})
            assert tup is not None
            done = tup.checkpoint["channel_values"]["done"]
            assert sorted(done) == sorted(TOOLS), (t, done)


def _crash_cycle(url: str, tmp_path: Path, seed: int, n_threads: int, max_delay: float) -> None:
    rng = random.Random(seed)
    log_path = tmp_path / "writes.db"
    threads = [f"order-{i}" for i in range(n_threads)]
    base = {"checkpoint_url": url, "ledger_url": url, "write_log": str(log_path)}
    zygote = Zygote(WORKER)
    started = time.monotonic()
    try:
        kills = rounds = 0
        while kills < KILLS:
            rounds += 1
            todo = [t for t in threads if t not in zygote.finished]  # finished: reported
            if not todo:  # a fast machine finished every thread first: add more to kill
                threads += [f"order-{len(threads) + i}" for i in range(n_threads)]
                todo = threads[-n_threads:]
            statuses = zygote.run({**base, "threads": todo}, kill_after=rng.uniform(0.0, max_delay))
            kills += sum(killed(s) for s in statuses)
            assert all(killed(s) or s == 0 for s in statuses), statuses
            assert rounds < 6 * KILLS, "workers finish before they can be killed"
        # the final resume goes over every thread, finished or not, and completes
        assert zygote.run({**base, "threads": threads}, kill_after=None) == [0]
    finally:
        zygote.close()
    _check(url, log_path, threads)
    # kills landed inside effects (claim taken, result unknown) and were reconciled
    assert len(zygote.reconciles) >= 5, zygote.reconciles
    assert any(r["found"] for r in zygote.reconciles)
    assert time.monotonic() - started < 90


def test_sigkill_resume_exactly_once_sqlite(tmp_path: Path) -> None:
    _crash_cycle(
        f"sqlite:///{tmp_path / 'runs.db'}", tmp_path, seed=5, n_threads=150, max_delay=0.08
    )


def test_sigkill_resume_exactly_once_postgres(postgres_url: str, tmp_path: Path) -> None:
    _crash_cycle(postgres_url, tmp_path, seed=7, n_threads=60, max_delay=0.2)


@pytest.mark.parametrize("seed", [11])
def test_two_workers_resume_same_threads_postgres(
    postgres_url: str, tmp_path: Path, seed: int
) -> None:
    """Two processes resume the same (crashed) threads at the same time: still once."""
    rng = random.Random(seed)
    log_path = tmp_path / "writes.db"
    threads = [f"order-{i}" for i in range(40)]
    cmd = {
        "checkpoint_url": postgres_url,
        "ledger_url": postgres_url,
        "write_log": str(log_path),
        "threads": threads,
    }
    zygote = Zygote(WORKER)
    try:
        for _ in range(5):
            zygote.run(cmd, kill_after=rng.uniform(0.02, 0.1))
        assert zygote.run({**cmd, "copies": 2}, kill_after=None) == [0, 0]
    finally:
        zygote.close()
    _check(postgres_url, log_path, threads)
