"""pytest fixtures for OpenTelemetry: in-memory exporters wired to *injected* providers.

Nothing here touches the global providers, so tests can run in parallel and in any order.

* ``span_exporter``: an ``InMemorySpanExporter`` behind a ``SimpleSpanProcessor``.
* ``tracer_provider``: the ``TracerProvider`` that feeds it.
* ``metric_reader``: an ``InMemoryMetricReader``; ``meter_provider`` reads through it.
* ``log_exporter``: an ``InMemoryLogRecordExporter``; ``logger_provider`` feeds it.
* ``otel``: all of the above in one :class:`OTelCapture` (with helpers to read metrics).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

__all__ = [
    "OTelCapture",
    "log_exporter",
    "logger_provider",
    "meter_provider",
    "metric_reader",
    "otel",
    "span_exporter",
    "tracer_provider",
]


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    """Finished spans, in memory."""
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(span_exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    """A private tracer provider exporting synchronously to ``span_exporter``."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def metric_reader() -> InMemoryMetricReader:
    """Reads the metrics of ``meter_provider`` on demand."""
    return InMemoryMetricReader()


@pytest.fixture
def meter_provider(metric_reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    """A private meter provider read by ``metric_reader``."""
    provider = MeterProvider(metric_readers=[metric_reader])
    yield provider
    provider.shutdown()


@pytest.fixture
def log_exporter() -> InMemoryLogRecordExporter:
    """Emitted log records, in memory."""
    return InMemoryLogRecordExporter()


@pytest.fixture
def logger_provider(log_exporter: InMemoryLogRecordExporter) -> Iterator[LoggerProvider]:
    """A private logger provider exporting synchronously to ``log_exporter``."""
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    yield provider
    provider.shutdown()


@dataclass
class OTelCapture:
    """Providers to inject and what they captured."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    logs: InMemoryLogRecordExporter

    def providers(self) -> dict[str, Any]:
        """``tracer_provider=``, ``meter_provider=``, ``logger_provider=`` keyword args."""
        return {
            "tracer_provider": self.tracer_provider,
            "meter_provider": self.meter_provider,
            "logger_provider": self.logger_provider,
        }

    def metric_points(self, name: str) -> list[Any]:
        """Every data point of metric ``name`` collected now."""
        data = self.metrics.get_metrics_data()
        points: list[Any] = []
        for resource in getattr(data, "resource_metrics", None) or []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points

    def counter_total(self, name: str, **attrs: Any) -> int:
        """Sum of counter ``name`` over points whose attributes include ``attrs``."""
        return sum(
            int(p.value)
            for p in self.metric_points(name)
            if all(p.attributes.get(k) == v for k, v in attrs.items())
        )


@pytest.fixture
def otel(
    tracer_provider: TracerProvider,
    meter_provider: MeterProvider,
    logger_provider: LoggerProvider,
    span_exporter: InMemorySpanExporter,
    metric_reader: InMemoryMetricReader,
    log_exporter: InMemoryLogRecordExporter,
) -> OTelCapture:
    """All three in-memory pipelines at once."""
    return OTelCapture(
        tracer_provider, meter_provider, logger_provider, span_exporter, metric_reader, log_exporter
    )
