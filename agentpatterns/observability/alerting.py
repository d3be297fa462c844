"""Alert rules over the operation metrics, fired through :class:`agentpatterns.alerts.Alerter`.

The rules see every operation :class:`Observability` measures (the same observations that
feed ``gen_ai.client.operation.duration``): ``(operation, name, seconds, error_type)``. They
keep a sliding window in memory and return an :class:`~agentpatterns.alerts.Alert` when
their condition holds; the Alerter deduplicates and rate-limits (one alerting mechanism).

Example:
    >>> from agentpatterns.alerts import Alerter, CallableSink
    >>> got = []
    >>> rule = ErrorRateAlert("execute_tool", threshold=0.5, window_seconds=60, min_count=4)
    >>> alerts = [rule.observe("execute_tool", "lookup", 0.01, err, now=100.0 + i)
    ...           for i, err in enumerate([None, "TimeoutError", None, "TimeoutError"])]
    >>> alerts[-1].name, alerts[-1].attrs["errors"]
    ('error_rate:execute_tool', 2)
"""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import Protocol

from agentpatterns.alerts import Alert, Severity
from agentpatterns.errors import ConfigurationError

__all__ = ["ErrorRateAlert", "LatencyAlert", "MetricRule"]


class MetricRule(Protocol):
    """Sees each measured operation; may return an alert."""

    def observe(
        self, operation: str, name: str | None, seconds: float, error: str | None, now: float
    ) -> Alert | None: ...


class _Window:
    def __init__(
        self, operation: str, name: str | None, window_seconds: float, min_count: int
    ) -> None:
        if window_seconds <= 0 or min_count < 1:
            raise ConfigurationError("window_seconds must be > 0 and min_count >= 1")
        self.operation = operation
        self.name = name
        self.window_seconds = window_seconds
        self.min_count = min_count
        self._items: deque[tuple[float, float, bool]] = deque()
        self._lock = threading.Lock()

    def _add(
        self, operation: str, name: str | None, seconds: float, error: str | None, now: float
    ) -> list[tuple[float, float, bool]] | None:
        if operation != self.operation or (self.name is not None and name != self.name):
            return None
        with self._lock:
            items = self._items
            items.append((now, seconds, error is not None))
            horizon = now - self.window_seconds
            while items and items[0][0] < horizon:
                items.popleft()
            return list(items) if len(items) >= self.min_count else None


class ErrorRateAlert(_Window):
    """Alert when the share of failed ``operation`` calls in the window reaches ``threshold``.

    Args:
        operation: ``invoke_workflow``, ``invoke_node``, ``execute_tool`` or ``chat``.
        threshold: Fraction in (0, 1].
        window_seconds: Sliding window.
        min_count: Calls needed in the window before judging.
        name: Only this node / tool / model (default: all).
        severity: Alert severity.
    """

    def __init__(
        self,
        operation: str,
        threshold: float,
        window_seconds: float = 60.0,
        min_count: int = 10,
        *,
        name: str | None = None,
        severity: Severity = "critical",
    ) -> None:
        super().__init__(operation, name, window_seconds, min_count)
        if not 0 < threshold <= 1:
            raise ConfigurationError(f"threshold must be in (0, 1], got {threshold!r}")
        self.threshold = threshold
        self.severity: Severity = severity

    def observe(
        self, operation: str, name: str | None, seconds: float, error: str | None, now: float
    ) -> Alert | None:
        items = self._add(operation, name, seconds, error, now)
        if items is None or error is None:
            return None
        errors = sum(1 for _, _, failed in items if failed)
        rate = errors / len(items)
        if rate < self.threshold:
            return None
        target = self.name or operation
        return Alert(
            f"error_rate:{target}",
            self.severity,
            f"{target}: {rate:.0%} of {len(items)} calls failed in {self.window_seconds:g} s "
            f"(threshold {self.threshold:.0%}); last error {error}",
            {
                "operation": operation,
                "name": name,
                "rate": rate,
                "errors": errors,
                "total": len(items),
                "window_seconds": self.window_seconds,
            },
            now,
        )


class LatencyAlert(_Window):
    """Alert when the p95 duration of ``operation`` in the window exceeds ``p95_seconds``.

    Args:
        operation: Which operation to watch.
        p95_seconds: Threshold on the window's 95th percentile.
        window_seconds: Sliding window.
        min_count: Calls needed in the window before judging.
        name: Only this node / tool / model (default: all).
        severity: Alert severity.
    """

    def __init__(
        self,
        operation: str,
        p95_seconds: float,
        window_seconds: float = 60.0,
        min_count: int = 20,
        *,
        name: str | None = None,
        severity: Severity = "warning",
    ) -> None:
        super().__init__(operation, name, window_seconds, min_count)
        self.p95_seconds = p95_seconds
        self.severity: Severity = severity

    def observe(
        self, operation: str, name: str | None, seconds: float, error: str | None, now: float
    ) -> Alert | None:
        if seconds <= self.p95_seconds:  # only a slow call can push the p95 over
            self._add(operation, name, seconds, error, now)
            return None
        items = self._add(operation, name, seconds, error, now)
        if items is None:
            return None
        durations = sorted(d for _, d, _ in items)
        p95 = durations[min(len(durations) - 1, math.ceil(0.95 * len(durations)) - 1)]
        if p95 <= self.p95_seconds:
            return None
        target = self.name or operation
        return Alert(
            f"latency_p95:{target}",
            self.severity,
            f"{target}: p95 {p95 * 1000:.0f} ms over {len(items)} calls in "
            f"{self.window_seconds:g} s > {self.p95_seconds * 1000:.0f} ms",
            {
                "operation": operation,
                "name": name,
                "p95_seconds": p95,
                "total": len(items),
                "threshold_seconds": self.p95_seconds,
            },
            now,
        )
