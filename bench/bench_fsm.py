"""FSM overhead against the same graph hand-written in raw LangGraph.

A 10-state linear graph (each state adds 1 to ``x``), built two ways:

* raw: ``StateGraph`` + ``add_edge`` chain, plus a final ``done`` node that sets
  ``status`` (what a hand-written state machine needs to record its end state);
* raw_log: the hand-written equivalent that keeps the same books (``Command`` routing and
  one ``transitions`` record per move in the same state schema);
* fsm: ``StateMachine`` with 10 states, ``s9 -> done``.

Median of many ``invoke`` calls, with no checkpointer and with ``InMemorySaver``; prints
the median times and the ratio fsm / raw. Run: ``python -m bench.bench_fsm``.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import statistics
import time
from collections.abc import Callable
from typing import Any, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from agentpatterns.fsm import AgentState, StateMachine

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


def run(repeats: int = 1000, warmup: int = 50, rounds: int = 3) -> dict[str, float]:
    """Best (lowest) median of ``rounds`` interleaved rounds, per variant and checkpointer."""
    results: dict[str, float] = {}
    for label in ("none", "memory"):
        counter = [0]

        def make_call(app: Any, label: str = label, counter: list[int] = counter) -> Any:
            def call() -> Any:
                counter[0] += 1
                cfg = {"configurable": {"thread_id": f"t{counter[0]}"}}
                return app.invoke({"x": 0}, cfg if label == "memory" else None)

            return call

        graphs = {
            "raw": raw_graph(True),
            "raw_no_final": raw_graph(False),
            "raw_log": raw_log_graph(),
            "fsm": fsm_graph(),
        }
        calls = {
            k: make_call(g.compile(checkpointer=InMemorySaver() if label == "memory" else None))
            for k, g in graphs.items()
        }
        best: dict[str, float] = {}
        for _ in range(rounds):
            for k, t in measure(calls, repeats, warmup).items():
                best[k] = min(best.get(k, float("inf")), t)
        for k, t in best.items():
            results[f"{label}.{k}_us"] = t * 1e6
        results[f"{label}.ratio"] = best["fsm"] / best["raw"]
        results[f"{label}.ratio_vs_no_final"] = best["fsm"] / best["raw_no_final"]
        results[f"{label}.ratio_vs_log"] = best["fsm"] / best["raw_log"]
        results[f"{label}.per_transition_us"] = (best["fsm"] - best["raw"]) * 1e6 / (N_STATES + 1)
    return results


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
    res = run(repeats=args.repeats, rounds=args.rounds)
    for saver in ("none", "memory"):
        r = {k.split(".", 1)[1]: v for k, v in res.items() if k.startswith(saver + ".")}
        print(
            f"checkpointer={saver:6s} raw={r['raw_us']:7.1f}us "
            f"raw_no_final={r['raw_no_final_us']:7.1f}us raw_log={r['raw_log_us']:7.1f}us "
            f"fsm={r['fsm_us']:7.1f}us | ratio fsm/raw={r['ratio']:.3f}x "
            f"fsm/raw_log={r['ratio_vs_log']:.3f}x fsm/raw_no_final={r['ratio_vs_no_final']:.3f}x"
            f" | +{r['per_transition_us']:.1f}us per transition"
        )


if __name__ == "__main__":
    main()
