"""Providers from the standard ``OTEL_*`` environment variables (``Observability.from_env``).

Honoured:

* ``OTEL_SDK_DISABLED=true``: no providers at all (everything is a no-op).
* ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``: the resource (read by the SDK's
  ``Resource.create``).
* ``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER``, ``OTEL_LOGS_EXPORTER``: comma lists of
  ``console``, ``otlp``, ``none``. Unset means ``otlp`` when an OTLP endpoint variable is set
  (``OTEL_EXPORTER_OTLP_ENDPOINT`` or the per-signal one), else ``none`` (the spec's default is
  ``otlp``; we do not send to localhost:4318 unless asked).
* ``OTEL_EXPORTER_OTLP_PROTOCOL``: only ``http/protobuf`` (the ``otlp`` extra); ``grpc`` is
  refused with a clear error. Endpoint, headers, timeouts: read by the OTLP exporters.
* ``OTEL_BSP_*``, ``OTEL_BLRP_*``, ``OTEL_METRIC_EXPORT_INTERVAL``: read by the SDK processors.
* ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``: ``true`` turns content capture on.
* ``AGENTPATTERNS_AUDIT_URL``: open an :class:`AuditLog` there (closed by ``close()``).
"""

from __future__ import annotations

import os
from typing import Any

from agentpatterns.errors import ConfigurationError

__all__ = ["env_capture_content", "exporters_for", "from_env_kwargs"]

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
AUDIT_ENV = "AGENTPATTERNS_AUDIT_URL"
_TRUE = ("1", "true", "yes", "on")


def env_capture_content() -> bool:
    """The content-capture switch from the environment (default off)."""
    return os.environ.get(CAPTURE_ENV, "").strip().lower() in _TRUE


def exporters_for(signal: str) -> list[str]:
    """Exporter names for ``traces``/``metrics``/``logs`` per the rules above."""
    raw = os.environ.get(f"OTEL_{signal.upper()}_EXPORTER")
    if raw is None:
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
            f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT"
        )
        return ["otlp"] if endpoint else []
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in ("console", "otlp", "none")]
    if unknown:
        raise ConfigurationError(
            f"OTEL_{signal.upper()}_EXPORTER={raw!r}: unsupported {unknown}; "
            "use console, otlp or none"
        )
    return [n for n in names if n != "none"]


def _otlp(signal: str) -> Any:
    protocol = os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol.strip() != "http/protobuf":
        raise ConfigurationError(f"OTLP protocol {protocol!r} is not supported; use http/protobuf")
    try:
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter()
        if signal == "metrics":
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )

            return OTLPMetricExporter()
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        return OTLPLogExporter()
    except ImportError as exc:
        raise ConfigurationError(
            "OTLP export needs the 'otlp' extra: pip install 'agentpatterns[otlp]'", cause=exc
        ) from exc


def from_env_kwargs() -> dict[str, Any]:
    """Keyword arguments for ``Observability`` built from the environment; ``_owned`` lists
    the objects ``close()`` must shut down."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, ConsoleLogRecordExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        ConsoleMetricExporter,
        PeriodicExportingMetricReader,
    )
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    owned: list[Any] = []
    kwargs: dict[str, Any] = {"capture_content": env_capture_content(), "_owned": owned}
    audit_url = os.environ.get(AUDIT_ENV)
    if audit_url:
        from agentpatterns.observability.audit import AuditLog

        kwargs["audit"] = audit = AuditLog(audit_url)
        owned.append(_Closer(audit))
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        from opentelemetry.metrics import NoOpMeterProvider
        from opentelemetry.trace import NoOpTracerProvider

        kwargs.update(tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider())
        return kwargs
    resource = Resource.create()
    tracer_provider = TracerProvider(resource=resource)
    for name in exporters_for("traces"):
        exporter = ConsoleSpanExporter() if name == "console" else _otlp("traces")
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    readers = [
        PeriodicExportingMetricReader(
            ConsoleMetricExporter() if name == "console" else _otlp("metrics")
        )
        for name in exporters_for("metrics")
    ]
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    kwargs.update(tracer_provider=tracer_provider, meter_provider=meter_provider)
    owned += [tracer_provider, meter_provider]
    log_exporters = exporters_for("logs")
    if log_exporters:
        logger_provider = LoggerProvider(resource=resource)
        for name in log_exporters:
            exporter = ConsoleLogRecordExporter() if name == "console" else _otlp("logs")
            logger_provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
        kwargs["logger_provider"] = logger_provider
        owned.append(logger_provider)
    return kwargs


class _Closer:
    """Adapts ``close()`` to the ``shutdown()`` that ``Observability.close`` calls."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def shutdown(self) -> None:
        self.target.close()
