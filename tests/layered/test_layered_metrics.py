"""Hand-off metrics from the layered handoff event, and the module doctests."""

from __future__ import annotations

import doctest
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from agentpatterns.layered import Executor, build_layered_graph, record_handoff_metrics


def _points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    out: dict[str, list[Any]] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                out[m.name] = list(m.data.data_points)
    return out


def test_handoff_histograms_per_layer_and_executor() -> None:
    reader = InMemoryMetricReader()
    stop = record_handoff_metrics(MeterProvider(metric_readers=[reader]))
    try:
        g = build_layered_graph(
            decompose=lambda s: [{"executor": "x"}, {"executor": "x"}, {"executor": "y"}],
            executors=[Executor("x", lambda s, c: 1), Executor("y", lambda s, c: 2)],
        ).compile()
        g.invoke({"task": 0})
    finally:
        stop()
    points = _points(reader)
    size = {
        p.attributes["agentpatterns.executor"]: p.count
        for p in points["agentpatterns.layer.handoff.size"]
    }
    assert size == {"x": 2, "y": 1}
    dur = points["agentpatterns.layer.handoff.duration"]
    assert all(p.attributes["agentpatterns.layer"] == 1 for p in dur)
    g.invoke({"task": 0})  # stopped: nothing more recorded
    assert sum(p.count for p in _points(reader)["agentpatterns.layer.handoff.duration"]) == 3


def test_doctests_of_public_modules() -> None:
    import agentpatterns.layered.builder as builder
    import agentpatterns.layered.metrics as metrics
    import agentpatterns.readiness as readiness
    import agentpatterns.selector as selector

    for mod in (builder, metrics, readiness, selector):
        result = doctest.testmod(mod)
        assert result.failed == 0 and result.attempted > 0, mod.__name__
