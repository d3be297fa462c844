"""Measurement primitives shared by every ``bench/bench_*.py`` module.

Plain ``time.perf_counter`` with warm-up and repeats, medians and percentiles from the
standard ``statistics`` module, and *interleaved* A/B runs: the baseline and the candidate
alternate in the same process (ABBA order), so drift (CPU frequency, a noisy neighbour, a
growing database) hits both sides alike. A ratio is always ``candidate median / baseline
median`` of numbers measured in the same run.

Every figure a module reports is a :class:`Result` (as a plain dict in the module's
``run(quick)`` return value). Build them with :func:`compare` (A/B timing), :func:`result`
(a single value, optionally against a baseline) or :func:`unavailable` (honest placeholder:
never fabricate a number).

Example:
    >>> import time
    >>> base, cand = interleaved(lambda: time.sleep(0.001), lambda: time.sleep(0.002),
    ...                          warmup=1, repeats=5)
    >>> r = compare("sleep", 0, base, cand, target=Target("<=", 3.0))
    >>> 1.3 < r["ratio"] < 3.0
    True
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "FIGURES",
    "NO_PG_ENV",
    "N_NODES",
    "PG_ENV",
    "Result",
    "Samples",
    "Target",
    "ainterleaved",
    "ameasure",
    "astep",
    "compare",
    "fsm_chain",
    "interleaved",
    "measure",
    "percentile",
    "postgres_database",
    "postgres_server_url",
    "raw_chain",
    "result",
    "run_async",
    "step",
    "unavailable",
]

#: Figure number -> short title (issue 10's list); the summary groups rows by it.
FIGURES: dict[int, str] = {
    1: "builder overhead vs raw",
    2: "observability overhead",
    3: "resilience overhead",
    4: "tool executor vs ToolNode",
    5: "transition / hand-off latency",
    6: "checkpoint bytes per step",
    7: "audit-log query (1M records)",
    8: "resume after SIGKILL",
    9: "throughput",
    10: "eval harness (1,000 scenarios)",
}

Status = Literal["pass", "fail", "info", "n/a", "error"]


# --- samples ------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0 < q < 100) of ``values``, inclusive method; exact for
    ``q`` in 1..99. One value is its own percentile."""
    if not values:
        raise ValueError("percentile of no values")
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=1000, method="inclusive")
    index = min(max(round(q * 10) - 1, 0), len(cuts) - 1)
    return cuts[index]


@dataclass(frozen=True)
class Samples:
    """Seconds per operation, one value per repeat."""

    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def p50(self) -> float:
        return percentile(self.values, 50)

    @property
    def p99(self) -> float:
        return percentile(self.values, 99)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def min(self) -> float:
        return min(self.values)

    def __len__(self) -> int:
        return len(self.values)


def _timed(fn: Callable[[], Any], inner: int) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) / inner


async def _atimed(fn: Callable[[], Awaitable[Any]], inner: int) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        await fn()
    return (time.perf_counter() - start) / inner


def measure(
    fn: Callable[[], Any], *, warmup: int = 3, repeats: int = 15, inner: int = 1
) -> Samples:
    """Call ``fn`` ``warmup`` times untimed, then time ``repeats`` batches of ``inner`` calls;
    each sample is seconds per call (batch time / inner)."""
    for _ in range(warmup):
        fn()
    gc.collect()
    return Samples([_timed(fn, inner) for _ in range(repeats)])


async def ameasure(
    fn: Callable[[], Awaitable[Any]], *, warmup: int = 3, repeats: int = 15, inner: int = 1
) -> Samples:
    """Async form of :func:`measure` (``fn`` returns an awaitable)."""
    for _ in range(warmup):
        await fn()
    gc.collect()
    return Samples([await _atimed(fn, inner) for _ in range(repeats)])


def interleaved(
    baseline: Callable[[], Any],
    candidate: Callable[[], Any],
    *,
    warmup: int = 3,
    repeats: int = 15,
    inner: int = 1,
) -> tuple[Samples, Samples]:
    """Time ``baseline`` and ``candidate`` alternately in ABBA order (round i runs A then B
    when i is even, B then A when odd); returns (baseline samples, candidate samples)."""
    for _ in range(warmup):
        baseline()
        candidate()
    gc.collect()
    base: list[float] = []
    cand: list[float] = []
    for i in range(repeats):
        if i % 2 == 0:
            base.append(_timed(baseline, inner))
            cand.append(_timed(candidate, inner))
        else:
            cand.append(_timed(candidate, inner))
            base.append(_timed(baseline, inner))
    return Samples(base), Samples(cand)


async def ainterleaved(
    baseline: Callable[[], Awaitable[Any]],
    candidate: Callable[[], Awaitable[Any]],
    *,
    warmup: int = 3,
    repeats: int = 15,
    inner: int = 1,
) -> tuple[Samples, Samples]:
    """Async form of :func:`interleaved`."""
    for _ in range(warmup):
        await baseline()
        await candidate()
    gc.collect()
    base: list[float] = []
    cand: list[float] = []
    for i in range(repeats):
        if i % 2 == 0:
            base.append(await _atimed(baseline, inner))
            cand.append(await _atimed(candidate, inner))
        else:
            cand.append(await _atimed(candidate, inner))
            base.append(await _atimed(baseline, inner))
    return Samples(base), Samples(cand)


def run_async(coro: Awaitable[Any]) -> Any:
    """Run a coroutine to completion in a fresh event loop (modules' ``run`` are sync)."""

    async def _wrap() -> Any:
        return await coro

    return asyncio.run(_wrap())


# --- targets and results ------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A goal on the ratio (default) or on the value: ``Target("<=", 1.05)``,
    ``Target("<=", 50, on="value")``."""

    op: Literal["<=", ">="]
    limit: float
    on: Literal["ratio", "value"] = "ratio"
    unit: str = ""

    def check(self, value: float | None, ratio: float | None) -> bool | None:
        got = ratio if self.on == "ratio" else value
        if got is None:
            return None
        return got <= self.limit if self.op == "<=" else got >= self.limit

    def __str__(self) -> str:
        if self.on == "ratio":
            return f"{self.op} {self.limit:g}x"
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.op} {self.limit:g}{unit}"


@dataclass
class Result:
    """One row of the summary.

    Attributes:
        name: what was measured, unique within the run (e.g. ``"sqlite c=8 raw"``).
        figure: figure number of issue 10 (1..10), see :data:`FIGURES`.
        value: the candidate's number in ``unit`` (None when not available).
        unit: ``"ms"``, ``"us"``, ``"B"``, ``"threads/s"``, ``"s"``...
        baseline: the baseline's number in the same unit, measured in the same run.
        ratio: ``value / baseline`` (candidate median / baseline median).
        target: the goal as text (``"<= 1.05x"`` is on the ratio, ``"<= 50 ms"`` on the value).
        passed: True/False against the target, None when there is no target or no number.
        status: ``pass``, ``fail``, ``info`` (no target), ``n/a`` (not measured), ``error``.
        notes: how it was measured, sample counts, caveats.
        extra: any further numbers (p99, sample count...), JSON-serialisable.
    """

    name: str
    figure: int
    value: float | None
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    target: str | None = None
    passed: bool | None = None
    status: Status = "info"
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def result(
    name: str,
    figure: int,
    value: float | None,
    unit: str,
    *,
    baseline: float | None = None,
    ratio: float | None = None,
    target: Target | None = None,
    notes: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """A result dict; ``ratio`` defaults to ``value / baseline`` when both are numbers."""
    if ratio is None and value is not None and baseline:
        ratio = value / baseline
    passed = target.check(value, ratio) if target is not None else None
    if value is None:
        status: Status = "n/a"
    elif passed is None:
        status = "info"
    else:
        status = "pass" if passed else "fail"
    return Result(
        name=name,
        figure=figure,
        value=value,
        unit=unit,
        baseline=baseline,
        ratio=ratio,
        target=str(target) if target is not None else None,
        passed=passed,
        status=status,
        notes=notes,
        extra=extra,
    ).to_dict()


def compare(
    name: str,
    figure: int,
    base: Samples,
    cand: Samples,
    *,
    unit: str = "ms",
    target: Target | None = None,
    notes: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """A result from interleaved samples: value/baseline are medians per operation in
    ``unit`` (``s``, ``ms`` or ``us``); ratio = candidate median / baseline median."""
    scale = {"s": 1.0, "ms": 1e3, "us": 1e6}[unit]
    info = {
        "repeats": len(cand),
        "baseline_p99": base.p99 * scale,
        "candidate_p99": cand.p99 * scale,
        "baseline_min": base.min * scale,
        "candidate_min": cand.min * scale,
    }
    info.update(extra)
    return result(
        name,
        figure,
        cand.median * scale,
        unit,
        baseline=base.median * scale,
        ratio=cand.median / base.median,
        target=target,
        notes=notes,
        **info,
    )


def unavailable(
    name: str, figure: int, reason: str, *, unit: str = "", target: Target | None = None
) -> dict[str, Any]:
    """An honest placeholder row: no number, status ``n/a``, the reason in notes."""
    return result(name, figure, None, unit, target=target, notes=reason)


# --- PostgreSQL for benchmarks ------------------------------------------------------------
#: Set by ``python -m bench`` to the URL of the one server it started for the whole run.
PG_ENV = "AGENTPATTERNS_BENCH_PG_URL"
#: Set (by ``--no-postgres``) to skip every PostgreSQL measurement.
NO_PG_ENV = "AGENTPATTERNS_BENCH_NO_POSTGRES"
_own_server: Any = None


def postgres_server_url() -> str | None:
    """URL of the run's PostgreSQL server: the one ``python -m bench`` started (env
    ``AGENTPATTERNS_BENCH_PG_URL``), else one started now for this process and stopped at
    exit; None when PostgreSQL cannot run here."""
    import atexit
    import os

    global _own_server
    if os.environ.get(NO_PG_ENV):
        return None
    url = os.environ.get(PG_ENV)
    if url:
        return url
    if _own_server is None:
        from agentpatterns.testing.postgres import (
            PostgresServer,
            PostgresUnavailable,
            postgres_available,
        )

        if not postgres_available():
            return None
        server = PostgresServer()
        try:
            server.start()
        except PostgresUnavailable:
            server.stop()
            return None
        atexit.register(server.stop)
        _own_server = server
        os.environ[PG_ENV] = server.url  # subprocesses of this module share it
    return str(_own_server.url)


def postgres_database(prefix: str = "bench") -> str | None:
    """A fresh empty database on the run's PostgreSQL server; its URL, or None."""
    import uuid

    server_url = postgres_server_url()
    if server_url is None:
        return None
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server_url.rsplit("/", 1)[0] + f"/{name}"


# --- the reference trivial graph --------------------------------------------------------
N_NODES = 10


def raw_chain(node: Callable[..., Any], *, n: int = N_NODES) -> Any:
    """The trivial graph hand-written in raw LangGraph: ``n`` nodes in a line, each running
    ``node``, then a ``done`` node that records ``status`` (what a hand-written state machine
    needs to record its end), then END. Returns the uncompiled ``StateGraph``."""
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class RawState(TypedDict, total=False):
        x: int
        status: str

    graph: Any = StateGraph(RawState)
    names = [f"s{i}" for i in range(n)]
    for name in names:
        graph.add_node(name, node)
    graph.add_node("done", _done)
    graph.add_edge(START, names[0])
    for a, b in zip(names, [*names[1:], "done"], strict=True):
        graph.add_edge(a, b)
    graph.add_edge("done", END)
    return graph


def _done(state: Any) -> dict[str, Any]:
    return {"status": "done"}


def fsm_chain(node: Callable[..., Any], *, n: int = N_NODES) -> Any:
    """The same graph built with ``agentpatterns.fsm.StateMachine`` (``s0 -> ... -> done``);
    None while the FSM pattern is not importable."""
    try:
        from agentpatterns.fsm import AgentState, StateMachine
    except ImportError:
        return None

    class FsmState(AgentState, total=False):
        x: int

    machine = StateMachine(FsmState, name="chain")
    names = [f"s{i}" for i in range(n)]
    for name in names:
        machine.state(name, node)
    for a, b in zip(names, [*names[1:], "done"], strict=True):
        machine.transition(a, b)
    return machine.build()


def step(state: Any) -> dict[str, Any]:
    """A trivial node: ``x += 1``."""
    return {"x": state["x"] + 1}


async def astep(state: Any) -> dict[str, Any]:
    """Async form of :func:`step`."""
    return {"x": state["x"] + 1}
