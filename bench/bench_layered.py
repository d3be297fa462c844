"""Layered pattern: hand-off cost per layer and builder overhead against a raw ``Send`` graph.

* Hand-off per layer: a three-layer graph (top -> 2 mid layers -> 3 leaf executors each,
  ~1 KB of scoped context per hand-off). Every hand-off is recorded in ``handoffs``
  (``{layer, ms, bytes}``); we report the median and p99 ms and the median bytes per layer,
  against the guide's bound (< 50 ms per layer), and the share of the run spent handing off
  (guide: state copying < 10 % of run time).
* Overhead: one layer fanning 4 subtasks out to trivial executors, built with
  ``build_layered_graph`` and hand-written with ``Send`` (orchestrator node, conditional edge
  of ``Send``s carrying the same filtered context, worker node, merge node, dict reducer).
  Interleaved medians, ratio layered / raw; with and without ``measure_bytes``.

Run: ``python -m bench.bench_layered`` (prints the rows) or through ``python -m bench``.
"""

from __future__ import annotations

import operator
import statistics
import sys
import time
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from agentpatterns.layered import Executor, Subtask, build_layered_graph, merge_dicts
from bench.common import Target, compare, interleaved, percentile, result

FIG_HANDOFF = 5
FIG_OVERHEAD = 1
CONTEXT = {"profile": {"name": "Ada", "tier": "gold", "notes": "x" * 900}, "locale": "en-GB"}
N_SUB = 4


def _work(sub: Subtask, ctx: Any) -> int:
    return len(ctx["profile"]["notes"]) + sub.inputs["n"]


def _plan(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": f"s{i}", "executor": "work", "inputs": {"n": i}} for i in range(N_SUB)]


def layered_graph(measure_bytes: bool = True) -> Any:
    return build_layered_graph(
        decompose=_plan,
        executors=[Executor("work", _work, context_keys=("profile",))],
        context_keys=("profile", "locale"),
        measure_bytes=measure_bytes,
    ).compile()


class RawState(TypedDict, total=False):
    task: Any
    profile: Any
    locale: Any
    subtasks: list[dict[str, Any]]
    results: Annotated[dict[str, Any], merge_dicts]
    handoffs: Annotated[list[dict[str, Any]], operator.add]
    status: str
    reason: str | None
    layer_depth: int


def raw_send_graph(record: bool = False) -> Any:
    """The same layer written by hand: plan, Send with filtered context, work, merge.

    ``record=True`` also writes what the layered graph records (hand-off records, layer
    depth), so the ratio against it isolates the builder's own cost.
    """

    def orchestrator(state: RawState) -> dict[str, Any]:
        update: dict[str, Any] = {"subtasks": _plan(dict(state))}
        if record:
            update["layer_depth"] = 1
        return update

    def fan_out(state: RawState) -> list[Send]:
        ctx = {"profile": state["profile"]}
        t0 = time.perf_counter()
        return [Send("work", {"sub": s, "ctx": ctx, "t0": t0}) for s in state["subtasks"]]

    def work(payload: dict[str, Any]) -> dict[str, Any]:
        sub = payload["sub"]
        n = len(payload["ctx"]["profile"]["notes"]) + sub["inputs"]["n"]
        update: dict[str, Any] = {"results": {sub["id"]: n}}
        if record:
            ms = (time.perf_counter() - payload["t0"]) * 1000
            update["handoffs"] = [{"layer": 1, "executor": "work", "subtask": sub["id"], "ms": ms}]
        return update

    def merge(state: RawState) -> dict[str, Any]:
        return {"status": "done"}

    b = StateGraph(RawState)
    b.add_node("orchestrator", orchestrator)
    b.add_node("work", work)
    b.add_node("merge", merge)
    b.add_edge(START, "orchestrator")
    b.add_conditional_edges("orchestrator", fan_out, ["work"])
    b.add_edge("work", "merge")
    b.add_edge("merge", END)
    return b.compile()


def three_layers() -> Any:
    leaf = build_layered_graph(
        decompose=lambda s: [{"executor": "leaf", "inputs": {"n": i}} for i in range(3)],
        executors=[Executor("leaf", _work, context_keys=("profile",))],
        context_keys=("profile",),
        name="leaf",
    )
    mid = build_layered_graph(
        decompose=lambda s: [{"executor": "leafs", "inputs": {"task": "x"}}],
        executors=[Executor("leafs", leaf, context_keys=("profile",))],
        context_keys=("profile",),
        name="mid",
    )
    return build_layered_graph(
        decompose=lambda s: [{"executor": "mid", "inputs": {"task": i}} for i in range(2)],
        executors=[Executor("mid", mid, context_keys=("profile",))],
        context_keys=("profile", "locale"),
        name="top",
    ).compile()


def handoff_rows(repeats: int) -> list[dict[str, Any]]:
    graph = three_layers()
    per_layer: dict[int, list[float]] = {}
    sizes: dict[int, list[int]] = {}
    shares: list[float] = []
    for i in range(repeats + 5):
        t0 = time.perf_counter()
        out = graph.invoke({"task": "t", **CONTEXT})
        total_ms = (time.perf_counter() - t0) * 1000
        assert out["status"] == "done", out.get("reason")
        if i < 5:
            continue  # warm-up
        # hand-offs of one layer run in parallel: the critical path holds one per layer
        copy_ms = sum(
            max(h["copy_ms"] for h in out["handoffs"] if h["layer"] == layer) for layer in (1, 2, 3)
        )
        shares.append(copy_ms / total_ms)
        assert len([h for h in out["handoffs"] if h["layer"] == 1]) == 2
        for h in out["handoffs"]:
            per_layer.setdefault(h["layer"], []).append(h["ms"])
            sizes.setdefault(h["layer"], []).append(h["bytes"])
    rows = []
    for layer in sorted(per_layer):
        ms = per_layer[layer]
        rows.append(
            result(
                f"layered hand-off, layer {layer} (p50)",
                FIG_HANDOFF,
                statistics.median(ms),
                "ms",
                target=Target("<=", 50.0, on="value", unit="ms"),
                notes="guide: < 50 ms per layer; orchestrator decides -> executor starts",
                p99_ms=percentile(ms, 99),
                bytes_median=statistics.median(sizes[layer]),
                samples=len(ms),
            )
        )
    rows.append(_dispatch_row(repeats))
    rows.append(
        result(
            "layered scoped-context copy share of run time (3 layers)",
            FIG_HANDOFF,
            100 * statistics.median(shares),
            "%",
            target=Target("<=", 10.0, on="value", unit="%"),
            notes="guide: state copying < 10 % of run time (copy_ms on the critical path)",
        )
    )
    return rows


def _dispatch_row(repeats: int) -> dict[str, Any]:
    """Hand-off latency of one layer (4 parallel subtasks) against raw ``Send`` dispatch."""
    inp = {"task": "t", **CONTEXT}
    lay, raw = layered_graph(), raw_send_graph(True)
    lay_ms: list[float] = []
    raw_ms: list[float] = []
    for i in range(repeats + 5):
        a = [h["ms"] for h in lay.invoke(inp)["handoffs"]]
        b = [h["ms"] for h in raw.invoke(inp)["handoffs"]]
        if i >= 5:
            lay_ms += a
            raw_ms += b
    base, cand = statistics.median(raw_ms), statistics.median(lay_ms)
    return result(
        f"layered hand-off, one layer of {N_SUB} parallel subtasks (p50)",
        FIG_HANDOFF,
        cand,
        "ms",
        baseline=base,
        ratio=cand / base,
        target=Target("<=", 50.0, on="value", unit="ms"),
        notes="baseline: the same Send dispatch measured in a hand-written graph",
        p99_ms=percentile(lay_ms, 99),
        baseline_p99_ms=percentile(raw_ms, 99),
    )


def overhead_rows(repeats: int) -> list[dict[str, Any]]:
    rows = []
    inp = {"task": "t", **CONTEXT}
    cases = [
        ("minimal raw Send graph", raw_send_graph(False), True),
        ("minimal raw Send graph", raw_send_graph(False), False),
        ("raw Send graph recording the same keys", raw_send_graph(True), False),
    ]
    for label, raw, measure_bytes in cases:
        lay = layered_graph(measure_bytes)
        assert lay.invoke(inp)["results"] == raw.invoke(inp)["results"]
        base, cand = interleaved(
            lambda raw=raw: raw.invoke(inp),
            lambda lay=lay: lay.invoke(inp),
            warmup=20,
            repeats=repeats,
        )
        rows.append(
            compare(
                f"layered ({N_SUB} subtasks, measure_bytes={measure_bytes}) vs {label}",
                FIG_OVERHEAD,
                base,
                cand,
                unit="us",
                target=Target("<=", 1.05),
                notes="layered adds scoped context, failure isolation, hand-off records",
            )
        )
    return rows


def run(quick: bool) -> list[dict[str, Any]]:
    repeats = 10 if quick else 200
    return handoff_rows(repeats) + overhead_rows(repeats)


def main() -> None:
    quick = "--quick" in sys.argv
    for row in run(quick):
        ratio = f"  ratio {row['ratio']:.3f}" if row.get("ratio") else ""
        base = f"  raw {row['baseline']:.1f}" if row.get("baseline") else ""
        extra = row.get("extra") or {}
        size = f"  {extra['bytes_median']:.0f} B" if "bytes_median" in extra else ""
        p99 = f"  p99 {extra['p99_ms']:.3f} ms" if "p99_ms" in extra else ""
        print(
            f"{row['name']:<70} {row['value']:.3f} {row['unit']}{p99}{size}{base}{ratio}"
            f"  [{row['status']}]"
        )


if __name__ == "__main__":
    main()
