"""Figure 9: throughput, threads completed per second, on SQLite and PostgreSQL.

The trivial 10-node graph (``bench.common.raw_chain``, async nodes) runs as many threads as
it can for a fixed window with ``C`` asyncio tasks in flight (C = 1, 8, 64), each thread a
fresh ``thread_id`` and a full ``ainvoke`` (12 checkpoints written, default "async"
durability). Baseline: the graph hand-written in raw LangGraph. Candidate: the same graph
built with ``agentpatterns.fsm.StateMachine``, and that graph with the full observability
stack (``Observability``: traces, metrics, and an ``AuditLog`` in the same database). All
run on the same saver
(``open_checkpointer``: SQLite file in WAL mode / a PostgreSQL pool sized for C), windows
interleaved (ABBA) and the median of each variant is reported.
Ratio = candidate / baseline threads per second (higher is better; the target mirrors
the builder's <= 1.05x time overhead).

Multi-process: two worker processes sharing one PostgreSQL database, each with C=8, against
one worker process with C=16 (same total concurrency), started on a common wall-clock
instant; ratio = 2 processes / 1 process.

Run alone: ``python -m bench --only throughput`` (or ``--quick``).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import (
    Target,
    astep,
    fsm_chain,
    postgres_database,
    raw_chain,
    result,
    run_async,
    unavailable,
)

FIGURE = 9
CONCURRENCY = (1, 8, 64)
BUILDER_TARGET = Target(">=", 0.95)  # threads/s ratio; = time overhead <= 1.05x
FULL_STACK_TARGET = Target(">=", 0.74)  # = full tracing + metrics + audit <= 1.35x
ROOT = Path(__file__).resolve().parent.parent


def graphs() -> dict[str, Any]:
    """``{"raw": StateGraph, "fsm": StateGraph}`` (fsm missing while the pattern is absent)."""
    out = {"raw": raw_chain(astep)}
    fsm = fsm_chain(astep)
    if fsm is not None:
        out["fsm"] = fsm
    return out


class _Discard:
    """Span exporter that drops everything (the cost measured is ours, not an exporter's)."""

    def export(self, batch: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def full_stack(url: str) -> tuple[Any, Any] | None:
    """The StateMachine graph instrumented by ``Observability``: traces (SDK, batch
    processor, discarding exporter), metrics (SDK, in-memory reader) and an ``AuditLog`` in
    the checkpointer's own database; returns (graph, close) or None while unavailable."""
    graph = fsm_chain(astep)
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from agentpatterns.observability import AuditLog, Observability
    except ImportError:
        return None
    if graph is None:
        return None
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(_Discard()))  # type: ignore[arg-type]
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    audit = AuditLog(url)
    obs = Observability(tracer_provider, meter_provider, audit=audit)

    def close() -> None:
        obs.close()
        audit.close()
        tracer_provider.shutdown()
        meter_provider.shutdown()

    return obs.instrument(graph), close


async def window(app: Any, concurrency: int, seconds: float) -> float:
    """Threads completed per second by ``concurrency`` tasks during ``seconds``."""
    count, elapsed = await counted_window(app, concurrency, seconds)
    return count / elapsed


async def counted_window(app: Any, concurrency: int, seconds: float) -> tuple[int, float]:
    """(threads completed, seconds elapsed) of ``concurrency`` tasks started now, each
    starting new threads until ``seconds`` have passed (the last ones finish after)."""
    deadline = time.perf_counter() + seconds
    done = 0

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            out = await app.ainvoke({"x": 0}, {"configurable": {"thread_id": uuid.uuid4().hex}})
            assert out["x"] == 10, out
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, time.perf_counter() - start


async def measure_backend(
    url: str, seconds: float, repeats: int
) -> dict[tuple[str, int], list[float]]:
    """``{(graph, concurrency): [threads/s per window]}`` on the store at ``url``."""
    from agentpatterns.checkpoint import open_checkpointer

    samples: dict[tuple[str, int], list[float]] = {}
    stack = full_stack(url)
    async with open_checkpointer(url, pool_size=max(CONCURRENCY)) as saver:
        apps = {name: g.compile(checkpointer=saver) for name, g in graphs().items()}
        if stack is not None:
            apps["fsm+obs"] = stack[0].compile(checkpointer=saver)
        for app in apps.values():  # warm-up: tables, caches, pool connections
            await window(app, 8, min(seconds, 0.3))
        for c in CONCURRENCY:
            order = list(apps)
            for i in range(repeats):
                for name in order if i % 2 == 0 else reversed(order):
                    samples.setdefault((name, c), []).append(await window(apps[name], c, seconds))
    if stack is not None:
        stack[1]()
    return samples


def backend_rows(
    backend: str, samples: dict[tuple[str, int], list[float]], seconds: float
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for c in CONCURRENCY:
        raw = statistics.median(samples[("raw", c)])
        n = len(samples[("raw", c)])
        how = f"median of {n} windows of {seconds:g} s, interleaved; async savers"
        if ("fsm", c) in samples:
            fsm = statistics.median(samples[("fsm", c)])
            rows.append(
                result(
                    f"{backend} C={c}: StateMachine vs raw",
                    FIGURE,
                    fsm,
                    "threads/s",
                    baseline=raw,
                    target=BUILDER_TARGET,
                    notes=how,
                    samples=samples[("fsm", c)],
                    baseline_samples=samples[("raw", c)],
                )
            )
        if ("fsm+obs", c) in samples:
            full = statistics.median(samples[("fsm+obs", c)])
            rows.append(
                result(
                    f"{backend} C={c}: StateMachine + traces, metrics, audit log vs raw",
                    FIGURE,
                    full,
                    "threads/s",
                    baseline=raw,
                    target=FULL_STACK_TARGET,
                    notes=how + "; audit log in the same database as the checkpoints",
                    samples=samples[("fsm+obs", c)],
                    baseline_samples=samples[("raw", c)],
                )
            )
        if ("fsm", c) not in samples:
            rows.append(
                result(
                    f"{backend} C={c}: raw LangGraph",
                    FIGURE,
                    raw,
                    "threads/s",
                    notes=how + "; StateMachine not available yet",
                    samples=samples[("raw", c)],
                )
            )
    return rows


# --- multi-process ------------------------------------------------------------------------
def _spawn(url: str, graph: str, concurrency: int, seconds: float) -> Any:
    spec = {"url": url, "graph": graph, "c": concurrency, "seconds": seconds}
    cmd = [sys.executable, "-m", "bench.bench_throughput", json.dumps(spec)]
    return subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def processes_run(url: str, graph: str, procs: int, per_proc: int, seconds: float) -> float:
    """Threads/s of ``procs`` worker processes with ``per_proc`` tasks each, all measuring
    the same wall-clock window: each worker warms up and says ``ready``; when all are, the
    parent sends them one start instant."""
    workers = [_spawn(url, graph, per_proc, seconds) for _ in range(procs)]
    for proc in workers:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"throughput worker exited with {proc.wait()}")
    start_at = time.time() + 0.2
    reports = []
    for proc in workers:
        out, _ = proc.communicate(f"{start_at}\n", timeout=seconds + 60)
        if proc.returncode != 0:
            raise RuntimeError(f"throughput worker exited with {proc.returncode}")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return sum(r["count"] for r in reports) / max(r["elapsed"] for r in reports)


def multiprocess_rows(url: str, seconds: float, repeats: int) -> list[dict[str, Any]]:
    graph = "fsm" if "fsm" in graphs() else "raw"
    one: list[float] = []
    two: list[float] = []
    for i in range(repeats):
        pair = [(one, 1, 16), (two, 2, 8)]
        for bucket, procs, per in pair if i % 2 == 0 else reversed(pair):
            bucket.append(processes_run(url, graph, procs, per, seconds))
    return [
        result(
            f"postgres 2 processes x C=8 vs 1 process x C=16 ({graph} graph)",
            FIGURE,
            statistics.median(two),
            "threads/s",
            baseline=statistics.median(one),
            notes=(
                f"same database, same total concurrency, common {seconds:g} s window; "
                f"median of {repeats}; ratio = 2 processes / 1 process (the server runs on "
                f"the same {os.cpu_count()} CPUs)"
            ),
            samples=two,
            baseline_samples=one,
        )
    ]


async def _worker_main(spec: dict[str, Any]) -> dict[str, Any]:
    from agentpatterns.checkpoint import open_checkpointer

    async with open_checkpointer(spec["url"], pool_size=spec["c"]) as saver:
        app = graphs()[spec["graph"]].compile(checkpointer=saver)
        await window(app, spec["c"], 0.2)  # warm-up
        print("ready", flush=True)
        start_at = float(await asyncio.to_thread(sys.stdin.readline))
        late = time.time() - start_at
        if late < 0:
            await asyncio.sleep(-late)
        count, elapsed = await counted_window(app, spec["c"], spec["seconds"])
    return {"count": count, "elapsed": elapsed, "late_s": max(late, 0.0)}


# --- entry --------------------------------------------------------------------------------
def run(quick: bool) -> list[dict[str, Any]]:
    seconds, repeats = (0.15, 1) if quick else (1.0, 3)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-tp-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'tp.db'}"
        rows += backend_rows("sqlite", run_async(measure_backend(url, seconds, repeats)), seconds)
    pg = postgres_database("tp")
    if pg is None:
        rows.append(unavailable("postgres throughput", FIGURE, "PostgreSQL not available here"))
        return rows
    rows += backend_rows("postgres", run_async(measure_backend(pg, seconds, repeats)), seconds)
    mp_url = postgres_database("tpmp")
    assert mp_url is not None
    rows += multiprocess_rows(mp_url, 1.0 if quick else 3.0, 1 if quick else 2)
    return rows


if __name__ == "__main__":
    print(json.dumps(run_async(_worker_main(json.loads(sys.argv[1])))))
