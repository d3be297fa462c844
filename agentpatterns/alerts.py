"""Alerts: rules over library events, delivered to sinks, deduplicated and rate-limited.

The one alerting mechanism of agentpatterns. Resilience *emits* events through
:mod:`agentpatterns.events` (retries exhausted, a breaker opening, a rollback, a failed
compensation, an escalation, an effect in doubt); an :class:`Alerter` with rules listens and
sends :class:`Alert` objects to sinks (:class:`LoggingSink`, :class:`CallableSink`,
:class:`WebhookSink`). Observability may also call :meth:`Alerter.fire` directly for metric
rules. This module imports no pattern.

Example:
    >>> from agentpatterns.alerts import Alerter, CallableSink, EventRule
    >>> from agentpatterns.events import emit
    >>> got = []
    >>> alerter = Alerter([CallableSink(got.append)],
    ...                   rules=[EventRule("breaker_state", where=lambda a: a["new"] == "open",
    ...                                    severity="critical", group_by=("name",))]).attach()
    >>> emit("breaker_state", name="payments", old="closed", new="open")
    >>> emit("breaker_state", name="payments", old="closed", new="open")  # deduplicated
    >>> alerter.close()
    >>> [(a.name, a.severity) for a in got]
    [('breaker_state', 'critical')]
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from agentpatterns.events import Event, subscribe

__all__ = [
    "DEFAULT_RULES",
    "Alert",
    "AlertSink",
    "Alerter",
    "CallableSink",
    "ErrorRateRule",
    "EventRule",
    "LoggingSink",
    "Rule",
    "Severity",
    "WebhookSink",
]

_log = logging.getLogger("agentpatterns.alerts")

Severity = Literal["info", "warning", "critical"]
_LEVELS: dict[str, int] = {
    "info": logging.INFO,
    "warning": logging.WARNING,
    "critical": logging.CRITICAL,
}


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert. ``key`` (default: ``name``) is what deduplication compares."""

    name: str
    severity: Severity
    message: str
    attrs: dict[str, Any] = field(default_factory=dict[str, Any])
    time: float = field(default_factory=time.time)
    key: str | None = None

    @property
    def dedupe_key(self) -> str:
        return self.key if self.key is not None else self.name

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (attrs that are not JSON become strings)."""
        return {
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "attrs": {k: _jsonable(v) for k, v in self.attrs.items()},
            "time": self.time,
            "key": self.dedupe_key,
        }


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}  # pyright: ignore
    return str(value)


# --- sinks --------------------------------------------------------------------------------
@runtime_checkable
class AlertSink(Protocol):
    """Anything with ``send(alert)``. A sink should not raise; the Alerter logs if it does."""

    def send(self, alert: Alert) -> None: ...


class LoggingSink:
    """Log each alert on ``logger`` (default ``agentpatterns.alerts``) at its severity."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or _log

    def send(self, alert: Alert) -> None:
        self.logger.log(
            _LEVELS.get(alert.severity, logging.WARNING),
            "ALERT %s [%s] %s %s",
            alert.name,
            alert.severity,
            alert.message,
            alert.attrs,
        )


class CallableSink:
    """Call ``fn(alert)`` for each alert (a list's ``append``, a pager client, ...)."""

    def __init__(self, fn: Callable[[Alert], Any]) -> None:
        self.fn = fn

    def send(self, alert: Alert) -> None:
        self.fn(alert)


class WebhookSink:
    """POST each alert as JSON to ``url`` (stdlib ``urllib``). A failure is logged, never
    raised: an unreachable alerting endpoint must not break the agent.

    Delivery is synchronous and bounded by ``timeout`` seconds; ``sent`` and ``failed``
    count outcomes.
    """

    def __init__(
        self, url: str, timeout: float = 2.0, headers: Mapping[str, str] | None = None
    ) -> None:
        if not url.startswith(("http://", "https://")):
            from agentpatterns.errors import ConfigurationError

            raise ConfigurationError(f"webhook URL must be http(s), got {url!r}")
        self.url = url
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.sent = 0
        self.failed = 0

    def send(self, alert: Alert) -> None:
        body = json.dumps(alert.to_dict()).encode()
        request = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
            self.sent += 1
        except Exception as exc:  # network, HTTP error status, timeout: log, don't raise
            self.failed += 1
            _log.warning("webhook %s failed for alert %s: %s", self.url, alert.name, exc)


# --- rules --------------------------------------------------------------------------------
class Rule(Protocol):
    """A rule turns an event into an alert (or not)."""

    def evaluate(self, event: Event) -> Alert | None: ...


def _kinds(kinds: str | Iterable[str]) -> frozenset[str]:
    return frozenset((kinds,) if isinstance(kinds, str) else kinds)


@dataclass(frozen=True)
class EventRule:
    """Alert on every event of ``kinds`` (optionally filtered by ``where(attrs)``).

    Args:
        kinds: One event kind or several.
        name: Alert name; default the event kind.
        severity: ``info`` / ``warning`` / ``critical``.
        message: A ``str.format`` template over the event attrs (``{kind}`` too), or a
            callable ``(event) -> str``.
        where: Predicate over the event attrs; the rule ignores events it rejects.
        group_by: Attr names that make up the dedupe key (e.g. ``("name",)`` per breaker).
    """

    kinds: str | Iterable[str]
    name: str | None = None
    severity: Severity = "warning"
    message: str | Callable[[Event], str] | None = None
    where: Callable[[Mapping[str, Any]], bool] | None = None
    group_by: Sequence[str] = ()

    def evaluate(self, event: Event) -> Alert | None:
        if event.kind not in _kinds(self.kinds):
            return None
        if self.where is not None and not self.where(event.attrs):
            return None
        name = self.name or event.kind
        if callable(self.message):
            message = self.message(event)
        elif self.message is not None:
            try:
                message = self.message.format(kind=event.kind, **event.attrs)
            except (KeyError, IndexError, ValueError):
                message = self.message
        else:
            message = f"{event.kind}: " + ", ".join(f"{k}={v}" for k, v in event.attrs.items())
        key = name + "".join(f"|{k}={event.attrs.get(k)}" for k in self.group_by)
        return Alert(name, self.severity, message, dict(event.attrs), event.time, key)


class ErrorRateRule:
    """Alert when the share of error events among observed events in a sliding window
    reaches ``threshold``.

    The numerator counts events of ``kinds``; the denominator counts events of ``of``
    (default: every event the Alerter sees, e.g. transitions and tool calls) plus the errors
    themselves. The rule only judges once the window holds ``min_events`` events.

    Args:
        kinds: Error event kinds (e.g. ``("tool_error", "node_error")``).
        threshold: Fraction in (0, 1], e.g. ``0.2`` for 20 %.
        window_seconds: Sliding window length.
        min_events: Events needed in the window before the rule fires.
        of: Event kinds forming the denominator; ``None`` means all.
    """

    def __init__(
        self,
        kinds: str | Iterable[str],
        threshold: float,
        window_seconds: float = 60.0,
        min_events: int = 10,
        *,
        name: str = "error_rate",
        severity: Severity = "critical",
        of: str | Iterable[str] | None = None,
    ) -> None:
        if not 0 < threshold <= 1:
            from agentpatterns.errors import ConfigurationError

            raise ConfigurationError(f"threshold must be in (0, 1], got {threshold!r}")
        self.kinds = _kinds(kinds)
        self.of = None if of is None else _kinds(of)
        self.threshold = threshold
        self.window_seconds = window_seconds
        self.min_events = min_events
        self.name = name
        self.severity: Severity = severity
        self._window: deque[tuple[float, bool]] = deque()
        self._lock = threading.Lock()

    def evaluate(self, event: Event) -> Alert | None:
        is_error = event.kind in self.kinds
        if not is_error and self.of is not None and event.kind not in self.of:
            return None
        with self._lock:
            window = self._window
            window.append((event.time, is_error))
            horizon = event.time - self.window_seconds
            while window and window[0][0] < horizon:
                window.popleft()
            total = len(window)
            errors = sum(1 for _, err in window if err)
        if not is_error or total < self.min_events or errors / total < self.threshold:
            return None
        rate = errors / total
        return Alert(
            self.name,
            self.severity,
            f"error rate {rate:.0%} ({errors}/{total}) over {self.window_seconds:g} s "
            f">= {self.threshold:.0%}",
            {
                "rate": rate,
                "errors": errors,
                "total": total,
                "window_seconds": self.window_seconds,
                "last_kind": event.kind,
            },
            event.time,
            self.name,
        )


#: Sensible rules for the resilience events; ``Alerter(sinks, rules=DEFAULT_RULES)``.
DEFAULT_RULES: tuple[Rule, ...] = (
    EventRule("retry_exhausted", severity="warning", group_by=("target",)),
    EventRule(
        "breaker_state",
        name="breaker_open",
        severity="critical",
        where=lambda a: a.get("new") == "open",
        group_by=("name",),
        message="circuit breaker {name} opened",
    ),
    EventRule("rollback", severity="warning", group_by=("thread_id",)),
    EventRule("compensation_failed", severity="critical", group_by=("key",)),
    EventRule("escalation", severity="warning", group_by=("thread_id",)),
    EventRule("effect_in_doubt", severity="critical", group_by=("key",)),
)


# --- alerter ------------------------------------------------------------------------------
class Alerter:
    """Evaluate rules on events and send the resulting alerts to every sink.

    Identical alerts (same :attr:`Alert.dedupe_key`) within ``dedupe_seconds`` are sent
    once; at most ``max_per_minute`` alerts go out per minute overall (the rest are counted
    in ``dropped``). Thread-safe.

    Args:
        sinks: Where alerts go.
        rules: Event rules; see :data:`DEFAULT_RULES`.
        dedupe_seconds: Window in which a repeated alert is suppressed.
        max_per_minute: Overall rate limit.
        clock: Time source (tests).
    """

    def __init__(
        self,
        sinks: Iterable[AlertSink],
        rules: Iterable[Rule] = (),
        dedupe_seconds: float = 300.0,
        max_per_minute: int = 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sinks = tuple(sinks)
        self.rules = tuple(rules)
        self.dedupe_seconds = dedupe_seconds
        self.max_per_minute = max_per_minute
        self.clock = clock
        self.sent: list[Alert] = []
        self.suppressed = 0
        self.dropped = 0
        self._last: dict[str, float] = {}
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None

    def attach(self) -> Alerter:
        """Subscribe to the library's events; returns ``self``."""
        if self._unsubscribe is None:
            self._unsubscribe = subscribe(self.observe)
        return self

    def close(self) -> None:
        """Stop listening to events."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def __enter__(self) -> Alerter:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def observe(self, event: Event) -> None:
        """Run every rule on ``event`` and fire what they produce."""
        for rule in self.rules:
            alert = rule.evaluate(event)
            if alert is not None:
                self.fire(alert)

    def fire(self, alert: Alert) -> bool:
        """Send ``alert`` unless it is a duplicate or over the rate limit; True if sent."""
        now = self.clock()
        with self._lock:
            last = self._last.get(alert.dedupe_key)
            if last is not None and now - last < self.dedupe_seconds:
                self.suppressed += 1
                return False
            while self._recent and now - self._recent[0] >= 60.0:
                self._recent.popleft()
            if len(self._recent) >= self.max_per_minute:
                self.dropped += 1
                _log.warning("alert rate limit reached; dropped %s", alert.name)
                return False
            self._last[alert.dedupe_key] = now
            self._recent.append(now)
            self.sent.append(alert)
        for sink in self.sinks:
            try:
                sink.send(alert)
            except Exception:
                _log.exception("alert sink %r failed on %s", sink, alert.name)
        return True
