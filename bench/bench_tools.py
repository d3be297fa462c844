"""Tool executor against LangGraph's ``ToolNode`` on the same parallel tool calls (figure 4).

Two graphs run the same step: a stub "model" node emits one ``AIMessage`` with 5 tool calls
(5 different tools), the tools run, the graph ends.

* baseline: ``model -> ToolNode(tools) -> END`` (``langgraph.prebuilt``);
* candidate: ``model -> add_tool_orchestration(...)``, i.e. ``tools_select -> tools_execute
  -> tools_aggregate -> END`` with the same tools in a ``ToolRegistry`` (argument contracts,
  permission checks, per-call results recorded in ``tool_results``).

Measured with trivial tools (pure overhead) and with tools that sleep 1 ms (I/O-like), sync
(``invoke``) and async (``ainvoke``), interleaved ABBA, medians. A third row adds policies
(timeout + max_concurrency on every tool), which need a worker thread per call. The ratio is
candidate median / baseline median. Run: ``python -m bench.bench_tools`` (``--quick``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from agentpatterns.orchestration import (
    ToolPolicy,
    ToolRegistry,
    add_tool_orchestration,
    select_calls,
)
from bench.common import (
    Samples,
    Target,
    ainterleaved,
    compare,
    interleaved,
    measure,
    result,
    run_async,
)

N_TOOLS = 5


def make_tools(sleep: float) -> list[BaseTool]:
    tools: list[BaseTool] = []
    for i in range(N_TOOLS):

        def fn(x: int, _i: int = i) -> int:
            if sleep:
                time.sleep(sleep)
            return x + _i

        async def afn(x: int, _i: int = i) -> int:
            if sleep:
                await asyncio.sleep(sleep)
            return x + _i

        tools.append(
            StructuredTool.from_function(
                func=fn, coroutine=afn, name=f"tool_{i}", description=f"Tool number {i}."
            )
        )
    return tools


CALLS = AIMessage(
    "",
    tool_calls=[{"name": f"tool_{i}", "args": {"x": i}, "id": f"call_{i}"} for i in range(N_TOOLS)],
)


def model(state: MessagesState) -> dict[str, Any]:
    return {"messages": [CALLS]}


def baseline_graph(tools: list[BaseTool]) -> Any:
    g: Any = StateGraph(MessagesState)
    g.add_node("model", model)
    g.add_node("tools", ToolNode(tools))
    g.add_edge(START, "model")
    g.add_edge("model", "tools")
    g.add_edge("tools", END)
    return g.compile()


def candidate_graph(
    tools: list[BaseTool], policy: ToolPolicy | None = None, *, fused: bool = False
) -> Any:
    reg = ToolRegistry()
    for t in tools:
        reg.register(t, policy=policy)
    g: Any = StateGraph(MessagesState)
    g.add_node("model", model)
    g.add_edge(START, "model")
    g.add_edge("model", "tools" if fused else "tools_select")
    add_tool_orchestration(g, reg, after=None, then=END, fused=fused)
    return g.compile()


def _check(base: Any, cand: Any) -> None:
    a = base.invoke({"messages": [("user", "go")]})["messages"]
    b = cand.invoke({"messages": [("user", "go")]})["messages"]
    assert [(m.content, m.tool_call_id) for m in a[2:]] == [
        (m.content, m.tool_call_id) for m in b[2:]
    ], "the two graphs must produce the same tool messages"


def _cpu_interleaved(base: Any, cand: Any, inp: Any, *, repeats: int, inner: int) -> Any:
    def timed(g: Any) -> float:
        t = time.process_time()
        for _ in range(inner):
            g.invoke(inp)
        return (time.process_time() - t) / inner

    for _ in range(5):
        base.invoke(inp)
        cand.invoke(inp)
    b: list[float] = []
    c: list[float] = []
    for i in range(repeats):
        if i % 2 == 0:
            b.append(timed(base))
            c.append(timed(cand))
        else:
            c.append(timed(cand))
            b.append(timed(base))
    return Samples(b), Samples(c)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows for figure 4 (see the module docstring)."""
    repeats, inner = (7, 5) if quick else (21, 20)
    rows: list[dict[str, Any]] = []
    inp = {"messages": [("user", "go")]}
    for label, sleep in (("trivial tools", 0.0), ("1 ms tools", 0.001)):
        tools = make_tools(sleep)
        base = baseline_graph(tools)
        n_inner = inner if not sleep else max(inner // 4, 3)
        for fused in (False, True):
            cand = candidate_graph(tools, fused=fused)
            _check(base, cand)
            mount = "fused tool_step" if fused else "select/execute/aggregate"
            target = Target("<=", 1.15) if sleep or fused else None
            b, c = interleaved(
                lambda base=base: base.invoke(inp),
                lambda cand=cand: cand.invoke(inp),
                warmup=5,
                repeats=repeats,
                inner=n_inner,
            )
            rows.append(
                compare(
                    f"{N_TOOLS} {label}/step, sync, {mount} vs ToolNode",
                    4,
                    b,
                    c,
                    unit="ms",
                    target=target,
                    notes=(
                        "graph invoke per step: model stub + 5 parallel tool calls; "
                        + ("1 node like ToolNode" if fused else "3 nodes vs ToolNode's 1")
                    ),
                )
            )
            ab, ac = run_async(
                ainterleaved(
                    lambda base=base: base.ainvoke(inp),
                    lambda cand=cand: cand.ainvoke(inp),
                    warmup=5,
                    repeats=repeats,
                    inner=n_inner,
                )
            )
            rows.append(
                compare(
                    f"{N_TOOLS} {label}/step, async, {mount} vs ToolNode",
                    4,
                    ab,
                    ac,
                    unit="ms",
                    target=target,
                    notes="same graphs with ainvoke (asyncio.gather on both sides)",
                )
            )
    tools = make_tools(0.001)
    base = baseline_graph(tools)
    cand = candidate_graph(tools, ToolPolicy(timeout=5.0, max_concurrency=4), fused=True)
    b, c = interleaved(
        lambda: base.invoke(inp),
        lambda: cand.invoke(inp),
        warmup=5,
        repeats=repeats,
        inner=max(inner // 4, 3),
    )
    rows.append(
        compare(
            f"{N_TOOLS} 1 ms tools/step, sync, fused + timeout + max_concurrency vs ToolNode",
            4,
            b,
            c,
            unit="ms",
            notes="what the per-call timeout and concurrency limit cost (ToolNode has neither)",
        )
    )
    tools = make_tools(0.0)
    base = baseline_graph(tools)
    for fused in (False, True):
        cand = candidate_graph(tools, fused=fused)
        b_cpu, c_cpu = _cpu_interleaved(base, cand, inp, repeats=repeats, inner=inner)
        mount = "fused tool_step" if fused else "select/execute/aggregate"
        rows.append(
            compare(
                f"{N_TOOLS} trivial tools/step, sync, CPU time, {mount} vs ToolNode",
                4,
                b_cpu,
                c_cpu,
                unit="ms",
                target=Target("<=", 1.15) if fused else None,
                notes="process CPU time (all threads) per step: robust to other load on the box",
            )
        )
    reg = ToolRegistry()
    for t in tools:
        reg.register(t)
    state = {"messages": [CALLS]}
    sel = measure(
        lambda: select_calls(reg, "default", state, {}), warmup=50, repeats=repeats, inner=200
    )
    rows.append(
        result(
            "selection cost per call (existence, permission, argument contract, size)",
            4,
            sel.median / N_TOOLS * 1e6,
            "us",
            notes="select_calls on 5 calls, divided by 5",
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for row in run(args.quick):
        if row["baseline"] is None:
            print(f"{row['name']}: {row['value']:.1f} {row['unit']}")
            continue
        print(
            f"{row['name']}: ToolNode {row['baseline']:.3f} ms, ours {row['value']:.3f} ms, "
            f"ratio {row['ratio']:.2f}x"
        )
    if args.quick:
        print(json.dumps({"quick": True}))


if __name__ == "__main__":
    main()
