"""Figure 3: happy-path overhead of resilience (retry + breaker + effect ledger).

The same 5-node graph twice, interleaved (ABBA) in one process: each node makes two tool
calls. The baseline calls the tools directly; the candidate sends every call through
``agentpatterns.resilience.guarded`` with ``Retry`` + ``CircuitBreaker`` and, for the
ledger cases, ``side_effect=True`` with an ``EffectLedger`` (a fresh idempotency key per
call, so every call claims and stores: the worst happy path). No fault is injected.

Cases:
* retry + breaker, no ledger                        (InMemorySaver on both sides)
* retry + breaker + ledger in memory  target <= 1.10x (InMemorySaver on both sides)
* retry + breaker + ledger in SQLite               (SqliteSaver on both sides, same file)

Run alone: ``python -m bench.bench_resilience [--quick]``.
"""

from __future__ import annotations

import itertools
import operator
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from bench.common import Target, compare, interleaved

FIGURE = 3
N_NODES = 5
CALLS_PER_NODE = 2


class S(TypedDict, total=False):
    out: Annotated[list[int], operator.add]


def lookup(x: int) -> int:
    """A trivial tool."""
    return x * 2


class Policy:
    """Duck-typed ToolPolicy (bench stays independent of orchestration)."""

    def __init__(self, side_effect: bool) -> None:
        from tenacity import stop_after_attempt

        from agentpatterns.resilience import CircuitBreaker, Retry

        self.retry = Retry(stop=stop_after_attempt(3))
        self.breaker = CircuitBreaker("lookup", failure_threshold=5)
        self.fallback = None
        self.side_effect = side_effect
        self.reconcile = None


def build(policy: Policy | None, ledger: Any) -> StateGraph[Any]:
    from agentpatterns.resilience import guarded

    keys = itertools.count()

    def make(i: int) -> Any:
        if policy is None:

            def node(state: S) -> dict[str, Any]:
                return {"out": [lookup(i + j) for j in range(CALLS_PER_NODE)]}

            return node

        def gnode(state: S) -> dict[str, Any]:
            out = []
            for j in range(CALLS_PER_NODE):
                n = next(keys)
                args = {"x": i + j}
                out.append(
                    guarded(
                        policy,
                        lambda a=args: lookup(**a),
                        tool="lookup",
                        call_id=f"c{n}",
                        args=args,
                        key=f"bench::c{n}",
                        ledger=ledger,
                    )
                )
            return {"out": out}

        return gnode

    builder = StateGraph(S)
    for i in range(N_NODES):
        builder.add_node(f"n{i}", make(i))
        builder.add_edge(START if i == 0 else f"n{i - 1}", f"n{i}")
    builder.add_edge(f"n{N_NODES - 1}", END)
    return builder


def _pair(base: Any, cand: Any, repeats: int, inner: int) -> Any:
    threads = itertools.count()

    def run(graph: Any) -> Any:
        return lambda: graph.invoke(
            {"out": []}, {"configurable": {"thread_id": f"t{next(threads)}"}}
        )

    return interleaved(run(base), run(cand), warmup=5, repeats=repeats, inner=inner)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows for figure 3."""
    from agentpatterns.checkpoint import open_checkpointer
    from agentpatterns.resilience import EffectLedger

    repeats, inner = (7, 5) if quick else (31, 30)
    rows: list[dict[str, Any]] = []
    saver = InMemorySaver()
    base = build(None, None).compile(checkpointer=saver)
    note = f"{N_NODES} nodes x {CALLS_PER_NODE} trivial tool calls per invoke, InMemorySaver"
    cand = build(Policy(side_effect=False), None).compile(checkpointer=saver)
    b, c = _pair(base, cand, repeats, inner)
    rows.append(compare("retry + breaker, happy path", FIGURE, b, c, unit="ms", notes=note))
    ledger = EffectLedger("memory:")
    cand = build(Policy(side_effect=True), ledger).compile(checkpointer=saver)
    b, c = _pair(base, cand, repeats, inner)
    rows.append(
        compare(
            "retry + breaker + ledger (memory), happy path",
            FIGURE,
            b,
            c,
            unit="ms",
            target=Target("<=", 1.10),
            notes=note,
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        with open_checkpointer(url) as sqlite_saver, EffectLedger(url) as sql_ledger:
            base = build(None, None).compile(checkpointer=sqlite_saver)
            cand = build(Policy(side_effect=True), sql_ledger).compile(checkpointer=sqlite_saver)
            b, c = _pair(base, cand, max(repeats // 2, 5), max(inner // 3, 3))
            rows.append(
                compare(
                    "retry + breaker + ledger (SQLite), happy path",
                    FIGURE,
                    b,
                    c,
                    unit="ms",
                    notes=f"{N_NODES} nodes x {CALLS_PER_NODE} calls; SqliteSaver on both sides, "
                    "ledger in the same file (2 writes per call: claim, result)",
                )
            )
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(
            f"{row['name']:<50} base {row['baseline']:.3f} ms  cand {row['value']:.3f} ms  "
            f"ratio {row['ratio']:.3f}x  target {row.get('target') or '-'}"
        )
