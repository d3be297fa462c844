"""Observability overhead (figure 2) and audit-log query latency (figure 7).

Overhead: the trivial 10-node graph of ``bench.common.raw_chain`` in raw LangGraph against
the same graph instrumented by ``Observability`` with full tracing (SDK ``TracerProvider``
with a ``BatchSpanProcessor`` to a discarding exporter), metrics (SDK ``MeterProvider``),
log events (SDK ``LoggerProvider``, batch processor) and an ``AuditLog`` on a SQLite file
(background writer); content capture off (the default) and on. Sync ``invoke`` and async
``ainvoke``, interleaved ABBA, medians; ratio = instrumented / raw. Also a tool graph
(agent node + ``ToolNode`` with 3 tools, 3 rounds: 7 node runs, 9 tool calls) with tool spans
from the callback handler.

Audit query: 1,000,000 records (1,000 threads x 1,000 records) bulk-inserted into SQLite
(``executemany``) and PostgreSQL (``COPY``), then ``AuditLog.query(thread_id=...)`` for
random threads (each returns 1,000 records) and ``query(thread_id=..., node=..., limit=50)``;
p50 / p99.

Run: ``python -m bench.bench_observability [--quick]``.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode

from bench.common import (
    Target,
    ainterleaved,
    astep,
    compare,
    interleaved,
    percentile,
    postgres_database,
    raw_chain,
    result,
    run_async,
    step,
    unavailable,
)

N_RECORDS = 1_000_000
N_THREADS = 1_000
CONFIG: Any = {"configurable": {"thread_id": "bench"}}


class _Discard:
    """Span/log exporter that drops everything (the cost measured is ours, not I/O)."""

    def export(self, batch: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _observability(tmp: str, *, capture: bool, logs: bool = True) -> Any:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    from agentpatterns.observability import AuditLog, Observability

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(_batch(_Discard()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    logger_provider = None
    if logs:
        logger_provider = LoggerProvider()
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(_Discard()))  # type: ignore[arg-type]
    audit = AuditLog(f"sqlite:///{tmp}/audit-{capture}-{logs}.db")
    return Observability(
        tracer_provider, meter_provider, logger_provider, audit=audit, capture_content=capture
    ), (tracer_provider, meter_provider, logger_provider, audit)


def _batch(exporter: Any) -> Any:
    """A batch span processor sized so that no span is dropped at bench rates (the default
    2,048-span queue overflows at ~4,000 spans/s: dropped spans would flatter the figure)."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return BatchSpanProcessor(
        exporter, max_queue_size=65_536, max_export_batch_size=4_096, schedule_delay_millis=500
    )


def _hand_tracer() -> tuple[Any, Any]:
    """The reference: a tracer for hand-written spans (same processor settings)."""
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    provider.add_span_processor(_batch(_Discard()))
    return provider, provider.get_tracer("hand")


def _hand_chain(tracer: Any, node: Any) -> Any:
    """``raw_chain(node)`` with a hand-written ``start_as_current_span`` around every node."""
    import inspect

    builder = raw_chain(node)
    hand = StateGraph(builder.state_schema)
    for name, spec in builder.nodes.items():
        fn = spec.runnable.afunc if inspect.iscoroutinefunction(node) else spec.runnable.func
        hand.add_node(name, _hand_wrap(tracer, name, fn))
    for a, b in builder.edges:
        hand.add_edge(a, b)
    return hand


def _hand_wrap(tracer: Any, name: str, fn: Any) -> Any:
    import inspect

    if inspect.iscoroutinefunction(fn):

        async def anode(state: Any) -> Any:
            with tracer.start_as_current_span(f"invoke_node {name}"):
                return await fn(state)

        return anode

    def node(state: Any) -> Any:
        with tracer.start_as_current_span(f"invoke_node {name}"):
            return fn(state)

    return node


def _close(parts: tuple[Any, ...]) -> None:
    for part in parts:
        if part is None:
            continue
        (
            part.close
            if hasattr(part, "close") and not hasattr(part, "shutdown")
            else part.shutdown
        )()


def _overhead(quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    repeats, inner = (5, 20) if quick else (15, 40)
    raw = raw_chain(step).compile()
    araw = raw_chain(astep).compile()
    hand_provider, tracer = _hand_tracer()
    hand = _hand_chain(tracer, step).compile()
    ahand = _hand_chain(tracer, astep).compile()
    base, cand = interleaved(
        lambda: raw.invoke({"x": 0}, CONFIG),
        lambda: hand.invoke({"x": 0}, CONFIG),
        warmup=20,
        repeats=repeats,
        inner=inner,
    )
    rows.append(
        compare(
            "reference: hand-written span per node, 10-node sync",
            2,
            base,
            cand,
            unit="us",
            notes="start_as_current_span around each node; the bar is this + 10 %",
        )
    )

    async def ahand_bench() -> tuple[Any, Any]:
        return await ainterleaved(
            lambda: araw.ainvoke({"x": 0}, CONFIG),
            lambda: ahand.ainvoke({"x": 0}, CONFIG),
            warmup=20,
            repeats=repeats,
            inner=inner,
        )

    base, cand = run_async(ahand_bench())
    rows.append(
        compare(
            "reference: hand-written span per node, 10-node async",
            2,
            base,
            cand,
            unit="us",
            notes="start_as_current_span around each node; the bar is this + 10 %",
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        for capture, logs, label in (
            (False, True, "content off"),
            (True, True, "content on"),
            (False, False, "content off, no log events"),
        ):
            obs, parts = _observability(tmp, capture=capture, logs=logs)
            graph = obs.instrument(raw_chain(step)).compile()
            agraph = obs.instrument(raw_chain(astep)).compile()
            base, cand = interleaved(
                lambda: raw.invoke({"x": 0}, CONFIG),
                lambda g=graph: g.invoke({"x": 0}, CONFIG),
                warmup=20,
                repeats=repeats,
                inner=inner,
            )
            target = Target("<=", 1.35) if not capture and logs else None
            rows.append(
                compare(
                    f"observability 10-node sync ({label})",
                    2,
                    base,
                    cand,
                    unit="us",
                    target=target,
                    notes="traces+metrics+logs+audit(SQLite), BatchSpanProcessor",
                )
            )

            async def abench(g: Any = agraph) -> tuple[Any, Any]:
                return await ainterleaved(
                    lambda: araw.ainvoke({"x": 0}, CONFIG),
                    lambda: g.ainvoke({"x": 0}, CONFIG),
                    warmup=20,
                    repeats=repeats,
                    inner=inner,
                )

            base, cand = run_async(abench())
            rows.append(
                compare(
                    f"observability 10-node async ({label})",
                    2,
                    base,
                    cand,
                    unit="us",
                    target=target,
                    notes="traces+metrics+logs+audit(SQLite), BatchSpanProcessor",
                )
            )
            if not capture and logs:  # ours against the hand-written spans, head to head
                base, cand = interleaved(
                    lambda: hand.invoke({"x": 0}, CONFIG),
                    lambda g=graph: g.invoke({"x": 0}, CONFIG),
                    warmup=20,
                    repeats=repeats,
                    inner=inner,
                )
                rows.append(
                    compare(
                        "observability 10-node sync vs hand-written spans (content off)",
                        2,
                        base,
                        cand,
                        unit="us",
                        target=Target("<=", 1.10),
                        notes="ours (traces+metrics+logs+audit) / a bare span per node",
                    )
                )
            obs.close()
            _close(parts)
        rows += _tool_graph(tmp, quick)
    hand_provider.shutdown()
    return rows


@tool
def lookup(order_id: str) -> str:
    """Look an order up."""
    return f"order {order_id}: shipped"


@tool
def price(item: str) -> float:
    """Price of an item."""
    return 9.5


@tool
def stock(item: str) -> int:
    """Stock of an item."""
    return 3


class ToolState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    rounds: int


def agent(state: ToolState) -> dict[str, Any]:
    """Three rounds of three tool calls, then done (a scripted planner)."""
    n = state.get("rounds", 0)
    if n >= 3:
        return {"messages": [AIMessage("done")], "rounds": n}
    calls = [
        {"name": name, "args": args, "id": f"c{n}{i}"}
        for i, (name, args) in enumerate(
            (("lookup", {"order_id": "1"}), ("price", {"item": "a"}), ("stock", {"item": "a"}))
        )
    ]
    return {"messages": [AIMessage("", tool_calls=calls)], "rounds": n + 1}


def route(state: ToolState) -> str:
    return "tools" if state["messages"][-1].tool_calls else END  # type: ignore[union-attr]


def _hand_tool_graph(tracer: Any) -> Any:
    """The tool graph with hand-written spans: one per node and one inside every tool."""

    def traced(name: str, fn: Any) -> Any:
        def body(**kwargs: Any) -> Any:
            with tracer.start_as_current_span(f"execute_tool {name}"):
                return fn(**kwargs)

        return tool(name, description=f"{name} (traced)", args_schema=fn_schema[name])(body)

    fn_schema = {t.name: t.args_schema for t in (lookup, price, stock)}
    tools = ToolNode([traced(t.name, t.func) for t in (lookup, price, stock)])

    def tools_node(state: ToolState, config: RunnableConfig) -> Any:
        with tracer.start_as_current_span("invoke_node tools"):
            return tools.invoke(state, config)

    b = StateGraph(ToolState)
    b.add_node("agent", _hand_wrap(tracer, "agent", agent))
    b.add_node("tools", tools_node)
    b.add_edge(START, "agent")
    b.add_conditional_edges("agent", route, ["tools", END])
    b.add_edge("tools", "agent")
    return b


def _tool_graph(tmp: str, quick: bool) -> list[dict[str, Any]]:
    def build() -> Any:
        b = StateGraph(ToolState)
        b.add_node("agent", agent)
        b.add_node("tools", ToolNode([lookup, price, stock]))
        b.add_edge(START, "agent")
        b.add_conditional_edges("agent", route, ["tools", END])
        b.add_edge("tools", "agent")
        return b

    obs, parts = _observability(tmp, capture=False)
    hand_provider, tracer = _hand_tracer()
    raw = build().compile()
    hand = _hand_tool_graph(tracer).compile()
    graph = obs.instrument(build()).compile()
    repeats, inner = (5, 5) if quick else (15, 15)
    start = {"messages": [], "rounds": 0}
    rows: list[dict[str, Any]] = []
    for label, candidate, target, notes in (
        ("reference: hand-written node and tool spans, tool graph sync", hand, None,
         "a span per node and inside every tool"),
        ("observability tool graph sync (content off)", graph, Target("<=", 1.15),
         "7 node runs + 9 tool calls (ToolNode), tool spans via callbacks"),
    ):  # fmt: skip
        base, cand = interleaved(
            lambda: raw.invoke(start),
            lambda g=candidate: g.invoke(start),
            warmup=5,
            repeats=repeats,
            inner=inner,
        )
        rows.append(compare(label, 2, base, cand, unit="us", target=target, notes=notes))
    obs.close()
    _close(parts)
    hand_provider.shutdown()
    return rows


# --- audit query --------------------------------------------------------------------------
def _rows(n: int, threads: int) -> Any:
    now = time.time() - 86400
    kinds = ("input", "node", "node", "node", "tool", "transition", "node", "output")
    for i in range(n):
        t = i % threads
        kind = kinds[i % len(kinds)]
        yield (
            now + i * 0.001,
            kind,
            f"run-{t}-{i // (threads * 50)}",
            f"thread-{t}",
            "g",
            f"n{i % 10}" if kind == "node" else None,
            "lookup" if kind == "tool" else None,
            "ok",
            i % 50,
            1,
            None,
            0.5,
            None,
            '{"keys": ["x"]}',
        )


def _bulk_sqlite(url: str, n: int, threads: int) -> None:
    from agentpatterns.observability._audit_store import _INSERT_COLUMNS, open_store

    store: Any = open_store(url, "agentpatterns_audit")
    marks = ", ".join("?" * len(_INSERT_COLUMNS))
    sql = f"INSERT INTO agentpatterns_audit ({', '.join(_INSERT_COLUMNS)}) VALUES ({marks})"
    store.conn.execute("BEGIN")
    store.conn.executemany(sql, _rows(n, threads))
    store.conn.execute("COMMIT")
    store.conn.execute("ANALYZE")
    store.close()


def _bulk_postgres(url: str, n: int, threads: int) -> None:
    from agentpatterns.observability._audit_store import _INSERT_COLUMNS, open_store

    store: Any = open_store(url, "agentpatterns_audit")
    with store.pool.connection() as conn:
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY agentpatterns_audit ({', '.join(_INSERT_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in _rows(n, threads):
                copy.write_row(row)
        conn.execute("ANALYZE agentpatterns_audit")
    store.close()


def _query_latency(name: str, url: str, quick: bool, n: int) -> list[dict[str, Any]]:
    from agentpatterns.observability import AuditLog

    rng = random.Random(7)
    rows: list[dict[str, Any]] = []
    with AuditLog(url) as log:
        for label, kwargs in (
            ("thread", {}),
            ("thread+node, limit 50", {"node": "n3", "limit": 50}),
        ):
            samples: list[float] = []
            got = 0
            for _ in range(20 if quick else 200):
                thread = f"thread-{rng.randrange(N_THREADS)}"
                start = time.perf_counter()
                got = len(log.query(thread_id=thread, **kwargs))  # type: ignore[arg-type]
                samples.append(time.perf_counter() - start)
            p50 = percentile(samples, 50) * 1000
            rows.append(
                result(
                    f"audit query one {label} among {n:,} ({name})",
                    7,
                    p50,
                    "ms",
                    target=Target("<=", 50, on="value", unit="ms"),
                    notes=f"p50 over {len(samples)} random threads; {got} records "
                    "returned per query",
                    p99_ms=percentile(samples, 99) * 1000,
                )
            )
    return rows


def _audit(quick: bool) -> list[dict[str, Any]]:
    n = 100_000 if quick else N_RECORDS
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/audit.db"
        start = time.perf_counter()
        _bulk_sqlite(url, n, N_THREADS)
        load = time.perf_counter() - start
        rows += _query_latency("SQLite", url, quick, n)
        rows[-1]["extra"]["bulk_load_s"] = load
    pg = postgres_database("audit")
    if pg is None:
        rows.append(
            unavailable(
                f"audit query one thread among {n:,} (PostgreSQL)",
                7,
                "PostgreSQL not available on this machine",
            )
        )
    else:
        start = time.perf_counter()
        _bulk_postgres(pg, n, N_THREADS)
        load = time.perf_counter() - start
        rows += _query_latency("PostgreSQL", pg, quick, n)
        rows[-1]["extra"]["bulk_load_s"] = load
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Every figure of this module (``python -m bench`` calls this)."""
    return _overhead(quick) + _audit(quick)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    only = os.environ.get("BENCH_OBS_ONLY", "")
    out = (
        _overhead(quick) if only == "overhead" else _audit(quick) if only == "audit" else run(quick)
    )
    for row in out:
        ratio = f"{row['ratio']:.2f}x" if row.get("ratio") else ""
        base = f"{row['baseline']:.1f}" if row.get("baseline") else ""
        value = f"{row['value']:.2f}" if row.get("value") is not None else "n/a"
        print(f"{row['name']:<62} {base:>9} {value:>9} {row['unit']:<3} {ratio:>6} {row['status']}")
