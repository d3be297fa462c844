"""Hand-off metrics: OpenTelemetry histograms fed by the layered ``handoff`` event.

Every hand-off of a layered graph emits ``events.emit("handoff", layer, executor, subtask,
ms, copy_ms, bytes)``. :func:`record_handoff_metrics` turns those events into two histograms
on the ``agentpatterns`` meter: ``agentpatterns.layer.handoff.duration`` (ms) and
``agentpatterns.layer.handoff.size`` (By), with ``agentpatterns.layer`` and
``agentpatterns.executor`` attributes. It never sets a global provider.

Example:
    >>> from opentelemetry.sdk.metrics import MeterProvider
    >>> from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    >>> from agentpatterns.layered import Executor, build_layered_graph
    >>> from agentpatterns.layered.metrics import record_handoff_metrics
    >>> reader = InMemoryMetricReader()
    >>> stop = record_handoff_metrics(MeterProvider(metric_readers=[reader]))
    >>> g = build_layered_graph(decompose=lambda s: [{"executor": "x"}],
    ...                         executors=[Executor("x", lambda sub, ctx: 1)]).compile()
    >>> _ = g.invoke({"task": 0})
    >>> stop()
    >>> names = {m.name for rm in reader.get_metrics_data().resource_metrics
    ...          for sm in rm.scope_metrics for m in sm.metrics}
    >>> sorted(names)
    ['agentpatterns.layer.handoff.duration', 'agentpatterns.layer.handoff.size']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import metrics

from agentpatterns import events

__all__ = ["HANDOFF_DURATION", "HANDOFF_SIZE", "record_handoff_metrics"]

HANDOFF_DURATION = "agentpatterns.layer.handoff.duration"
HANDOFF_SIZE = "agentpatterns.layer.handoff.size"


def record_handoff_metrics(meter_provider: Any = None) -> Callable[[], None]:
    """Record every layered hand-off as metrics; returns a function that stops recording.

    Args:
        meter_provider: Where the histograms go (``None``: the global provider).
    """
    meter = metrics.get_meter("agentpatterns", meter_provider=meter_provider)
    duration = meter.create_histogram(
        HANDOFF_DURATION, unit="ms", description="Orchestrator decision to executor start"
    )
    size = meter.create_histogram(
        HANDOFF_SIZE, unit="By", description="JSON size of the scoped context handed over"
    )

    def listener(event: events.Event) -> None:
        if event.kind != "handoff":
            return
        attrs = {
            "agentpatterns.layer": event.attrs["layer"],
            "agentpatterns.executor": event.attrs["executor"],
        }
        duration.record(event.attrs["ms"], attrs)
        size.record(event.attrs["bytes"], attrs)

    return events.subscribe(listener)
