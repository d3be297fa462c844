"""Notebook 04: observability (pattern 4)."""

from _common import HELPERS, code, md

CELLS = [
    md(
        """
# 04 · Observability: every input, state change, tool call and output, recorded

The guide's fourth pattern: record the input, every intermediate state, every tool call and the
output; keep metrics; alert; keep an audit trail. `agentpatterns.observability.Observability`
does it with the OpenTelemetry SDK and the GenAI semantic conventions (`invoke_workflow`,
`invoke_node`, `execute_tool` spans), a `Redactor` that runs before anything is recorded, and an
append-only `AuditLog` on SQLite (or PostgreSQL) written off the hot path.

It never sets global OpenTelemetry providers: here we inject in-memory exporters so the
notebook can show what was recorded. In production you pass your OTLP providers (or use
`Observability.from_env()`).
"""
    ),
    HELPERS,
    code(
        """
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentpatterns.observability import AuditLog, Observability, Redactor

spans = InMemorySpanExporter()
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
metric_reader = InMemoryMetricReader()
meter_provider = MeterProvider(metric_readers=[metric_reader])

audit = AuditLog(f"sqlite:///{WORKDIR / 'audit.db'}")  # append-only, background writer
obs = Observability(
    tracer_provider=tracer_provider,
    meter_provider=meter_provider,
    audit=audit,
    redactor=Redactor.default(),  # e-mails, phones, cards, API keys, secret-looking keys
    capture_content=True,  # inputs/outputs on spans too (off by default), always redacted
)
"""
    ),
    md(
        """
## 1. Instrument a real agent

The reference customer-service agent (`graphs.customer_service`: a state machine with tool
orchestration over the τ² retail store) takes an `observability=` argument; any `StateGraph`
can be instrumented the same way with `obs.instrument(builder)`, which wraps every node.
"""
    ),
    code(
        """
from agentpatterns import open_checkpointer
from graphs.customer_service import build as build_customer_service

saver_cm = open_checkpointer(f"sqlite:///{WORKDIR / 'runs.db'}")
saver = saver_cm.__enter__()
agent = build_customer_service(observability=obs).compile(
    checkpointer=saver, name="customer_service"
)
mermaid(agent.get_graph().draw_mermaid())
"""
    ),
    code(
        """
config = {"configurable": {"thread_id": "ticket-1001"}}
request = {
    "request": "Cancel order #W5918442, I no longer need it",
    "email": "sofia.rossi2645@example.com",
    "confirm": True,
}
out = agent.invoke(request, config)
print("final status:", out["status"], "|", out["answer"])
assert out["status"] == "done"
"""
    ),
    md(
        """
## 2. The trace: one tree per run

One `invoke_workflow` span per run (its conversation id is the LangGraph thread id), one
`invoke_node` child per node run, and `execute_tool` spans for tool calls under the node that
made them, with correct parents (also under `ainvoke`).
"""
    ),
    code(
        """
def span_tree(finished):
    by_id = {s.context.span_id: s for s in finished}
    children = {}
    for s in sorted(finished, key=lambda s: s.start_time):
        parent = s.parent.span_id if s.parent is not None and s.parent.span_id in by_id else None
        children.setdefault(parent, []).append(s)
    rows = []

    def walk(span, depth):
        a = span.attributes
        detail = a.get("gen_ai.tool.name") or a.get("gen_ai.conversation.id") or ""
        rows.append({
            "span": "· " * depth + span.name,
            "ms": (span.end_time - span.start_time) / 1e6,
            "status": span.status.status_code.name,
            "error.type": a.get("error.type", ""),
            "detail": detail,
            "events": len(span.events),
        })
        for child in children.get(span.context.span_id, []):
            walk(child, depth + 1)

    for root in children.get(None, []):
        walk(root, 0)
    return rows


finished = spans.get_finished_spans()
table(span_tree(finished))
print(len(finished), "spans")
assert any(s.name == "execute_tool cancel_pending_order" for s in finished)
"""
    ),
    md(
        """
State-machine transitions are span events (`agentpatterns.transition`) on the node that made
them, so a trace viewer shows *why* the agent moved, not only that it did:
"""
    ),
    code(
        """
rows = []
for s in sorted(finished, key=lambda s: s.start_time):
    for e in s.events:
        if e.name == "agentpatterns.transition":
            a = e.attributes
            moved = [a.get(f"agentpatterns.transition.{k}", "") for k in ("from", "to", "reason")]
            rows.append((s.name, *moved))
table(rows, ["span", "from", "to", "reason"])
"""
    ),
    md(
        """
## 3. Content is redacted before it is recorded anywhere

Content capture is opt-in. When on, the redactor runs first: the customer's e-mail address
never reaches the span exporter, the logs or the audit log.
"""
    ),
    code(
        """
root = next(s for s in finished if s.name.startswith("invoke_workflow"))
print("workflow input on the span:", root.attributes["agentpatterns.workflow.input"])
assert "sofia.rossi2645@example.com" not in str([s.attributes for s in finished])

r = Redactor.default()
table(
    [(text, r.redact_text(text)) for text in [
        "card 4111 1111 1111 1111, order 1234567890123",
        "call me on +1 415 555 0100",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijk",
        "key sk-proj-abcdefghijklmnopqrstuvwx",
    ]],
    ["text", "recorded as"],
    width=120,
)
"""
    ),
    md(
        """
## 4. The audit log: who did what, queryable by thread

The audit log keeps the run's input, every node's state change, every transition, every tool
call (arguments and result) and the output, redacted, in an append-only table (an `UPDATE` is
refused by a trigger). Query it by thread, run, node, tool, kind or time. This is what you read
when a customer asks "why was my order cancelled?".
"""
    ),
    code(
        """
import time

started = time.perf_counter()
records = audit.query(thread_id="ticket-1001")
query_ms = (time.perf_counter() - started) * 1000
t0 = records[0].ts
table(
    [{
        "t (ms)": (rec.ts - t0) * 1000,
        "kind": rec.kind,
        "node": rec.node or "",
        "tool": rec.tool or "",
        "status": rec.status,
        "data": rec.data,
    } for rec in records],
    width=100,
)
print(f"{len(records)} audit records for ticket-1001, retrieved in {query_ms:.1f} ms")
kinds = {rec.kind for rec in records}
assert {"input", "node", "transition", "tool", "output"} <= kinds
"""
    ),
    code(
        """
tool_calls = audit.query(thread_id="ticket-1001", kind="tool")
table(
    [(rec.node, rec.tool, rec.data["arguments"]) for rec in tool_calls],
    ["node", "tool", "arguments (redacted)"],
)
"""
    ),
    md(
        """
## 5. Metrics

`gen_ai.client.operation.duration` (a histogram, by operation and tool/workflow) plus counters
for library events: transitions, retries, breaker changes, rollbacks, escalations.
"""
    ),
    code(
        """
def metric_rows(reader):
    rows = []
    data = reader.get_metrics_data()
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for p in metric.data.data_points:
                    labels = ", ".join(
                        f"{k.removeprefix('gen_ai.').removeprefix('agentpatterns.')}={v}"
                        for k, v in p.attributes.items()
                    )
                    if hasattr(p, "count"):
                        value = f"n={p.count}, sum={p.sum * 1000:.1f} ms"
                    else:
                        value = p.value
                    rows.append((metric.name, labels, value))
    return rows


table(metric_rows(metric_reader), ["metric", "attributes", "value"], width=110)
"""
    ),
    md(
        """
## 6. Errors and alerts

A failing node marks its span and the run span `ERROR` with `error.type`, the run's `output`
record in the audit log holds the error, and the failure feeds the metric alert rules. Below, a small graph whose node fails
every time: after three failures in the window, `ErrorRateAlert` fires once through the
`Alerter` (deduplicated and rate-limited) into a callable sink; in production that would be a
webhook or your logging pipeline.
"""
    ),
    code(
        """
import contextlib
from typing import TypedDict

from langgraph.graph import START, StateGraph

from agentpatterns.alerts import Alerter, CallableSink
from agentpatterns.observability import ErrorRateAlert

received = []
alerter = Alerter([CallableSink(received.append)])
watched = Observability(
    tracer_provider=tracer_provider,
    meter_provider=meter_provider,
    audit=audit,
    alerter=alerter,
    alert_rules=[ErrorRateAlert("invoke_workflow", threshold=0.5, min_count=3)],
)


class Lookup(TypedDict, total=False):
    sku: str
    price: float


def price_lookup(state):
    raise ConnectionError("pricing service refused the connection")


b = StateGraph(Lookup)
b.add_node("price_lookup", price_lookup)
b.add_edge(START, "price_lookup")
pricing = watched.instrument(b).compile(name="pricing")

spans.clear()
for i in range(4):
    with contextlib.suppress(ConnectionError):  # the run fails: that is the point
        pricing.invoke({"sku": f"SKU-{i}"}, {"configurable": {"thread_id": f"price-{i}"}})
table(span_tree(spans.get_finished_spans())[:2])
errors = audit.query(thread_id="price-0", kind="output")
table([(rec.kind, rec.status, rec.error_type, rec.data) for rec in errors],
      ["kind", "status", "error_type", "data"], width=100)
table([(a.name, a.severity, a.message) for a in received], ["alert", "severity", "message"],
      width=120)
assert len(received) == 1
watched.close()
"""
    ),
    md(
        """
**What you see:** the failure is in the trace (status and error type), in the audit log and in
the metrics, and it raised exactly one alert although it happened four times. The guide's
"logs missing when a step failed" story cannot happen: the error path is recorded like the
happy path.
"""
    ),
    code(
        """
obs.close()
audit.close()
saver_cm.__exit__(None, None, None)
"""
    ),
    md(
        """
## Takeaways

- `Observability(...).instrument(builder)` gives spans for runs, nodes and tool calls, metrics,
  and an audit trail, with content redacted first.
- The audit log answers "what happened on this thread" with one indexed query.
- Metric rules and event rules alert through one `Alerter` (deduplicated, rate-limited).
"""
    ),
]
