"""Pattern 4, observability: OpenTelemetry traces, metrics and log events for every run,
node, transition and tool call; redaction; a queryable audit log; alert rules."""

from agentpatterns.observability.alerting import ErrorRateAlert, LatencyAlert, MetricRule
from agentpatterns.observability.audit import AuditLog, AuditRecord
from agentpatterns.observability.callbacks import ObservabilityCallbackHandler
from agentpatterns.observability.core import Observability
from agentpatterns.observability.redact import BUILTIN_KINDS, DEFAULT_SECRET_KEYS, Redactor

__all__ = [
    "BUILTIN_KINDS",
    "DEFAULT_SECRET_KEYS",
    "AuditLog",
    "AuditRecord",
    "ErrorRateAlert",
    "LatencyAlert",
    "MetricRule",
    "Observability",
    "ObservabilityCallbackHandler",
    "Redactor",
]
