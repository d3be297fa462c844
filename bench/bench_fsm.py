"""FSM overhead against the same graph hand-written in raw LangGraph.

A 10-state linear graph (each state adds 1 to ``x``), built two ways:

* raw: ``StateGraph`` + ``add_edge`` chain, plus a final ``done`` node that sets
  ``status`` (what a hand-written state machine needs to record its end state);
* raw_log: the hand-written equivalent that keeps the same books (``Command`` routing and
  one ``transitions`` record per move in the same state schema);
* fsm: ``StateMachine`` with 10 states, ``s9 -> done``.

Median of many interleaved ``invoke`` calls with no checkpointer, ``InMemorySaver`` and
``SqliteSaver`` (a temporary file, via ``open_checkpointer``); prints the median times and
the ratios fsm / raw and fsm / raw_log, then the latency of one transition (time between
consecutive ``stream_mode="updates"`` chunks with ``InMemorySaver``: node, routing, log
record and checkpoint), p50 and p99. Run: ``python -m bench.bench_fsm [--cpu]``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from agentpatterns.checkpoint import open_checkpointer
from agentpatterns.fsm import AgentState, StateMachine
from bench.common import Target, result

N_STATES = 10


class RawState(TypedDict, total=False):
    x: int
    status: str


class FsmState(AgentState, total=False):
    x: int


def step(state: Any) -> dict[str, Any]:
    return {"x": state["x"] + 1}


def raw_graph(final_node: bool = True) -> StateGraph[Any]:
    g: StateGraph[Any] = StateGraph(RawState)
    names = [f"s{i}" for i in range(N_STATES)]
    for n in names:
        g.add_node(n, step)
    g.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        g.add_edge(a, b)
    if final_node:
        g.add_node("done", lambda s: {"status": "done"})
        g.add_edge(names[-1], "done")
        g.add_edge("done", END)
    else:
        g.add_edge(names[-1], END)
    return g


def raw_log_graph() -> StateGraph[Any]:
    """Hand-written equivalent that keeps the same books: Command routing and one
    ``transitions`` record per move in the same state schema, a final status node."""
    g: StateGraph[Any] = StateGraph(FsmState)
    names = [f"s{i}" for i in range(N_STATES)]
    for i, (a, b) in enumerate(itertools.pairwise([*names, "done"])):

        def node(state: Any, a: str = a, b: str = b, i: int = i) -> Command[Any]:
            t0 = time.perf_counter()
            update = step(state)
            rec = {
                "from": a,
                "to": b,
                "step": i + 1,
                "reason": "default",
                "elapsed_ms": (time.perf_counter() - t0) * 1000.0,
            }
            return Command(goto=b, update={**update, "transitions": [rec]})

        g.add_node(a, node, destinations=(b,))
    g.add_node("done", lambda s: {"status": "done"})
    g.add_edge(START, names[0])
    g.add_edge("done", END)
    return g


def fsm_graph() -> StateGraph[Any]:
    m = StateMachine(FsmState, name="linear")
    names = [f"s{i}" for i in range(N_STATES)]
    for n in names:
        m.state(n, step)
    for a, b in zip(names, [*names[1:], "done"], strict=False):
        m.transition(a, b)
    return m.build()


CLOCK: Callable[[], float] = time.perf_counter


def measure(calls: dict[str, Callable[[], Any]], repeats: int, warmup: int) -> dict[str, float]:
    """Median seconds per call of each variant, calls interleaved so noise hits all alike."""
    for fn in calls.values():
        for _ in range(warmup):
            fn()
    gc.collect()
    samples: dict[str, list[float]] = {k: [] for k in calls}
    items = list(calls.items())
    for i in range(repeats):
        for k, fn in items if i % 2 else reversed(items):
            t0 = CLOCK()
            fn()
            samples[k].append(CLOCK() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}


SAVERS = ("none", "memory", "sqlite")


def measure_all(
    repeats: int = 1000, warmup: int = 50, rounds: int = 3, savers: tuple[str, ...] = SAVERS
) -> dict[str, float]:
    """Best (lowest) median of ``rounds`` interleaved rounds, per variant and checkpointer."""
    results: dict[str, float] = {}
    for label in savers:
        counter = [0]

        def make_call(app: Any, label: str = label, counter: list[int] = counter) -> Any:
            def call() -> Any:
                counter[0] += 1
                cfg = {"configurable": {"thread_id": f"t{counter[0]}"}}
                return app.invoke({"x": 0}, cfg if label != "none" else None)

            return call

        graphs = {
            "raw": raw_graph(True),
            "raw_no_final": raw_graph(False),
            "raw_log": raw_log_graph(),
            "fsm": fsm_graph(),
        }
        with contextlib.ExitStack() as stack:
            saver: Any = None
            if label == "memory":
                saver = InMemorySaver()
            elif label == "sqlite":
                tmp = stack.enter_context(tempfile.TemporaryDirectory())
                saver = stack.enter_context(open_checkpointer(f"sqlite:///{Path(tmp) / 'b.db'}"))
            calls = {k: make_call(g.compile(checkpointer=saver)) for k, g in graphs.items()}
            n = repeats if label != "sqlite" else max(repeats // 5, 20)
            best: dict[str, float] = {}
            for _ in range(rounds):
                for k, t in measure(calls, n, warmup).items():
                    best[k] = min(best.get(k, float("inf")), t)
        for k, t in best.items():
            results[f"{label}.{k}_us"] = t * 1e6
        results[f"{label}.ratio"] = best["fsm"] / best["raw"]
        results[f"{label}.ratio_vs_no_final"] = best["fsm"] / best["raw_no_final"]
        results[f"{label}.ratio_vs_log"] = best["fsm"] / best["raw_log"]
        results[f"{label}.per_transition_us"] = (best["fsm"] - best["raw"]) * 1e6 / (N_STATES + 1)
    return results


def transition_latency(runs: int = 300) -> dict[str, float]:
    """p50 / p99 of one transition (gap between consecutive ``updates`` chunks: the next
    state's task, routing, log record and checkpoint), ``InMemorySaver``.

    Measured for the FSM and for the raw graph, interleaved run by run, in wall time (what
    a caller sees, including preemption on a busy host) and process CPU time.
    """
    apps = {"fsm": fsm_graph().compile(), "raw": raw_graph(True).compile()}
    gaps: dict[str, list[float]] = {f"{k}.{c}": [] for k in apps for c in ("wall", "cpu")}
    for i in range(runs + 20):
        for k, app in apps.items():
            # a fresh saver per run: one that kept every run would grow the heap, and the
            # p99 would measure Python's full garbage collections of it, not the machine
            app = app.copy(update={"checkpointer": InMemorySaver()})
            cfg: Any = {"configurable": {"thread_id": f"lat{i}"}}
            wall, cpu = gaps[f"{k}.wall"], gaps[f"{k}.cpu"]
            last_w, last_c = time.perf_counter(), time.process_time()
            for j, _ in enumerate(app.stream({"x": 0}, cfg, stream_mode="updates")):
                now_w, now_c = time.perf_counter(), time.process_time()
                # the first gap is the run's start-up (config, channels, input step), not a
                # transition; warm-up runs are not counted
                if i >= 20 and j > 0:
                    wall.append(now_w - last_w)
                    cpu.append(now_c - last_c)
                last_w, last_c = now_w, now_c
    out: dict[str, float] = {}
    for k, v in gaps.items():
        q = statistics.quantiles(v, n=100)
        out[f"{k}.p50_us"], out[f"{k}.p99_us"] = q[49] * 1e6, q[98] * 1e6
    return out


def run(quick: bool) -> list[dict[str, Any]]:
    """Rows for ``python -m bench`` (figures 1 and 5), timed with process CPU time."""
    global CLOCK
    CLOCK = time.process_time
    res = measure_all(repeats=40 if quick else 300, warmup=10 if quick else 50, rounds=2)
    rows: list[dict[str, Any]] = []
    for saver in SAVERS:
        r = {k.split(".", 1)[1]: v for k, v in res.items() if k.startswith(saver + ".")}
        for base, label, target in (
            ("raw", "plain graph", Target("<=", 1.05)),
            ("raw_log", "hand-written graph keeping the same transition log", None),
        ):
            rows.append(
                result(
                    f"fsm 10 states, checkpointer={saver} vs {label}",
                    1,
                    r["fsm_us"],
                    "us",
                    baseline=r[f"{base}_us"],
                    target=target,
                    notes="CPU-time medians, interleaved, best of 2 rounds",
                )
            )
    lat = transition_latency(30 if quick else 300)
    for q in ("p50", "p99"):
        rows.append(
            result(
                f"fsm transition {q} (memory saver, CPU time)",
                5,
                lat[f"fsm.cpu.{q}_us"],
                "us",
                baseline=lat[f"raw.cpu.{q}_us"],
                target=Target("<=", 1000, on="value", unit="us") if q == "p99" else None,
                notes="gap between consecutive updates chunks; baseline: plain graph",
                wall_us=lat[f"fsm.wall.{q}_us"],
                baseline_wall_us=lat[f"raw.wall.{q}_us"],
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time with process CPU time instead of perf_counter (steadier on a busy host)",
    )
    args = parser.parse_args()
    global CLOCK
    if args.cpu:
        CLOCK = time.process_time
    res = measure_all(repeats=args.repeats, rounds=args.rounds)
    for saver in SAVERS:
        r = {k.split(".", 1)[1]: v for k, v in res.items() if k.startswith(saver + ".")}
        print(
            f"checkpointer={saver:6s} raw={r['raw_us']:7.1f}us "
            f"raw_no_final={r['raw_no_final_us']:7.1f}us raw_log={r['raw_log_us']:7.1f}us "
            f"fsm={r['fsm_us']:7.1f}us | ratio fsm/raw={r['ratio']:.3f}x "
            f"fsm/raw_log={r['ratio_vs_log']:.3f}x fsm/raw_no_final={r['ratio_vs_no_final']:.3f}x"
            f" | +{r['per_transition_us']:.1f}us per transition"
        )
    lat = transition_latency()
    for clock in ("wall", "cpu"):
        print(
            f"transition latency (memory, {clock:4s}): "
            f"fsm p50={lat[f'fsm.{clock}.p50_us']:.0f}us p99={lat[f'fsm.{clock}.p99_us']:.0f}us"
            f" | raw p50={lat[f'raw.{clock}.p50_us']:.0f}us "
            f"p99={lat[f'raw.{clock}.p99_us']:.0f}us"
        )


if __name__ == "__main__":
    main()
