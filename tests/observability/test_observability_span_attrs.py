"""Node span attributes are the same whether written directly or through the SDK's checks."""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import START, StateGraph
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

from agentpatterns.observability import Observability


class S(TypedDict, total=False):
    x: int


def _run(provider: TracerProvider) -> dict[str, Any]:
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    b = StateGraph(S)
    b.add_node("a_rather_long_node_name", lambda s: {"x": s.get("x", 0) + 1})
    b.add_edge(START, "a_rather_long_node_name")
    with Observability(provider) as obs:
        obs.instrument(b).compile().invoke({"x": 1}, {"configurable": {"thread_id": "t"}})
    (node,) = [s for s in exporter.get_finished_spans() if s.name.startswith("invoke_node")]
    return dict(node.attributes or {})


class _Seen(Sampler):
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def should_sample(
        self, parent_context: Any, trace_id: int, name: str, *a: Any, **k: Any
    ) -> Any:
        attrs = dict(k.get("attributes") or (a[1] if len(a) > 1 else None) or {})
        self.seen.append(attrs)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attrs)

    def get_description(self) -> str:
        return "seen"


def test_direct_and_checked_paths_record_the_same_attributes() -> None:
    direct = _run(TracerProvider())
    sampler = _Seen()
    checked = _run(TracerProvider(sampler=sampler))
    ckpt = "agentpatterns.node.checkpoint_id"
    assert set(direct) == set(checked) and ckpt in direct
    assert {k: v for k, v in direct.items() if k != ckpt} == {
        k: v for k, v in checked.items() if k != ckpt
    }
    assert direct["agentpatterns.node.name"] == "a_rather_long_node_name"
    assert direct["gen_ai.operation.name"] == "invoke_node"
    assert direct["agentpatterns.node.keys_changed"] == "x"
    assert {"agentpatterns.node.step", "agentpatterns.node.attempt"} <= set(direct)
    # a custom sampler still sees the node's attributes when it decides
    assert any(s.get("agentpatterns.node.name") == "a_rather_long_node_name" for s in sampler.seen)


def test_span_limits_still_apply() -> None:
    attrs = _run(TracerProvider(span_limits=SpanLimits(max_span_attribute_length=5)))
    assert attrs["agentpatterns.node.name"] == "a_rat"
    few = _run(TracerProvider(span_limits=SpanLimits(max_span_attributes=2)))
    assert len(few) == 2
