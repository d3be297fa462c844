"""Running a suite: episodes over (configuration, fault profile, task, trial) in processes.

Every episode gets a seed derived from (run seed, suite, task, trial) — the same for every
configuration and profile — and runs in a worker process (``ProcessPoolExecutor``, fork
start) that owns its own copy of the store and its own SQLite files in
``<run folder>/work/w<pid>``. Work is handed out in batches (all trials of one
configuration, profile and task); results are sorted by key, so the output does not depend
on scheduling. ``workers=0`` runs everything in this process (tests, debugging).

Example:
    >>> from evals.runner import EvalOptions
    >>> EvalOptions(suite="tau2-retail").trials
    8
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evals.faults import episode_seed

__all__ = ["EvalOptions", "run_batch", "run_eval"]

_HARNESSES: dict[str, Any] = {}


@dataclass
class EvalOptions:
    """What to run (the CLI's options)."""

    suite: str = "tau2-retail"
    split: str = "test"
    profiles: list[str] = field(default_factory=lambda: ["flaky-30"])
    configs: list[str] = field(default_factory=lambda: ["full"])
    trials: int = 8
    seed: int = 0
    workers: int = 2
    limit: int | None = None
    tasks: list[str] | None = None
    out: Path | None = None
    full_hash: bool = False
    keep_work: bool = False

    def describe(self) -> dict[str, Any]:
        d = asdict(self)
        d["out"] = str(self.out) if self.out else None
        return d


def _suite(name: str) -> Any:
    if name == "tau2-retail":
        from evals import tau2

        return tau2
    from evals import scenarios

    return scenarios.suite(name)


def _harness(suite: str, folder: str, full_hash: bool) -> Any:
    key = f"{suite}|{folder}|{os.getpid()}"
    h = _HARNESSES.get(key)
    if h is None:
        for old in [k for k in _HARNESSES if not k.endswith(f"|{os.getpid()}")]:
            del _HARNESSES[old]  # inherited through fork: not ours
        work = Path(folder) / f"w{os.getpid()}"
        if suite == "tau2-retail":
            from evals.tau2 import Tau2Harness

            h = Tau2Harness(work, full_hash=full_hash)
        else:
            h = _suite(suite).Harness(work)
        _HARNESSES[key] = h
    return h


def run_batch(
    suite: str, folder: str, full_hash: bool, items: list[tuple[str, str, str, int, int]]
) -> list[dict[str, Any]]:
    """Run episodes ``(config, profile, task, trial, seed)`` in this process."""
    h = _harness(suite, folder, full_hash)
    return [h.run_episode(c, p, t, n, s) for c, p, t, n, s in items]


def _batches(opts: EvalOptions, tasks: list[str]) -> Iterator[list[tuple[str, str, str, int, int]]]:
    for task in tasks:
        for profile in opts.profiles:
            for config in opts.configs:
                yield [
                    (config, profile, task, trial, episode_seed(opts.seed, opts.suite, task, trial))
                    for trial in range(opts.trials)
                ]


def suite_tasks(opts: EvalOptions) -> list[str]:
    """The task (or scenario) ids the options select."""
    if opts.tasks:
        return list(opts.tasks)
    suite = _suite(opts.suite)
    return suite.task_ids(opts.split, limit=opts.limit)


def run_eval(
    opts: EvalOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run every episode of ``opts``; returns (episodes sorted by key, run info).

    ``progress(done, total)`` is called after each batch.
    """
    tasks = suite_tasks(opts)
    batches = list(_batches(opts, tasks))
    total = sum(len(b) for b in batches)
    folder = (opts.out or Path("evals/reports/tmp")) / "work"
    folder.mkdir(parents=True, exist_ok=True)
    started = time.time()
    t0 = time.perf_counter()
    episodes: list[dict[str, Any]] = []
    done = 0
    if progress:
        progress(0, total)
    try:
        if opts.workers <= 0:
            for batch in batches:
                episodes.extend(run_batch(opts.suite, str(folder), opts.full_hash, batch))
                done += len(batch)
                if progress:
                    progress(done, total)
        else:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(opts.workers, mp_context=ctx) as pool:
                futures: dict[Future[list[dict[str, Any]]], int] = {
                    pool.submit(run_batch, opts.suite, str(folder), opts.full_hash, b): len(b)
                    for b in batches
                }
                for fut in as_completed(futures):
                    episodes.extend(fut.result())
                    done += futures[fut]
                    if progress:
                        progress(done, total)
    finally:
        for key in [k for k in _HARNESSES if k.endswith(f"|{os.getpid()}")]:
            h = _HARNESSES.pop(key)
            h.close()
        if not opts.keep_work:
            shutil.rmtree(folder, ignore_errors=True)
    elapsed = time.perf_counter() - t0
    episodes.sort(key=lambda e: (e["config"], e["profile"], e["task"], e["trial"]))
    info = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "elapsed_s": round(elapsed, 3),
        "episodes": total,
        "tasks": tasks,
        "workers": opts.workers,
        "cpus": os.cpu_count(),
    }
    return episodes, info
