"""Error classification: transient, rate-limited or permanent.

The one classifier behind :class:`~agentpatterns.resilience.Retry`, the circuit breaker's
failure counting and the fallback trigger. It fixes LangGraph's ``default_retry_on``, which
retries an HTTP 404 and never a ``TimeoutError``:

* **transient**: ``ConnectionError``, ``TimeoutError`` (incl. ``StepTimeoutError``), any other
  ``OSError``, HTTP 5xx and 408, transport errors of httpx;
* **rate_limited**: HTTP 429, or an exception carrying ``retry_after`` (seconds) or a
  ``Retry-After`` header;
* **permanent**: everything else (``ValueError``, ``KeyError``, pydantic ``ValidationError``,
  HTTP 4xx, tool contract errors, domain errors of tools, an open breaker, exhausted retries).

An HTTP status is read from ``exc.status_code``, ``exc.status``, ``exc.code`` (urllib's
``HTTPError``) or ``exc.response.status_code``.

Example:
    >>> from agentpatterns.resilience.classify import classify_error
    >>> class HTTPError(Exception):
    ...     def __init__(self, status_code): self.status_code = status_code
    >>> [classify_error(e) for e in (TimeoutError(), HTTPError(404), HTTPError(503))]
    ['transient', 'permanent', 'transient']
"""

from __future__ import annotations

import email.utils
import sys
import time
from typing import Any, Literal

from agentpatterns.errors import (
    AgentPatternsError,
    CircuitOpenError,
    RetryExhaustedError,
    StepTimeoutError,
)

__all__ = ["ErrorClass", "classify_error", "dependency_failure", "http_status", "retry_after"]

ErrorClass = Literal["transient", "rate_limited", "permanent"]


def http_status(exc: BaseException) -> int | None:
    """The HTTP status code an exception carries, if any."""
    for attr in ("status_code", "status", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None) if response is not None else None
    if isinstance(value, int):
        return value
    return None


def _header(exc: BaseException, name: str) -> str | None:
    for holder in (exc, getattr(exc, "response", None)):
        headers: Any = getattr(holder, "headers", None)
        if headers is None:
            continue
        try:
            value = headers.get(name)
        except Exception:
            continue
        if value is not None:
            return str(value)
    return None


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait: ``exc.retry_after`` or a Retry-After header
    (delta-seconds or an HTTP date)."""
    value = getattr(exc, "retry_after", None)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0.0, float(value))
    header = _header(exc, "Retry-After")
    if header is None:
        return None
    header = header.strip()
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _is_httpx_transport(exc: BaseException) -> bool:
    httpx = sys.modules.get("httpx")
    return httpx is not None and isinstance(exc, httpx.TransportError)


def classify_error(exc: BaseException) -> ErrorClass:
    """Classify ``exc`` as ``"transient"``, ``"rate_limited"`` or ``"permanent"``."""
    if isinstance(exc, StepTimeoutError):
        return "transient"
    if isinstance(exc, AgentPatternsError):
        return "permanent"  # open breaker, exhausted retries, contracts: retrying won't help
    status = http_status(exc)
    if status is not None:
        if status == 429:
            return "rate_limited"
        if status == 408 or status >= 500:
            return "transient"
        if status >= 400:
            return "permanent"
    if retry_after(exc) is not None:
        return "rate_limited"
    if isinstance(exc, OSError):  # ConnectionError, TimeoutError and the rest of OSError
        return "transient"
    if _is_httpx_transport(exc):
        return "transient"
    return "permanent"


def dependency_failure(exc: BaseException) -> bool:
    """True when ``exc`` says the dependency failed (transient or rate-limited, retries
    exhausted on such errors, an open breaker, a timeout); False for a permanent answer."""
    if isinstance(exc, RetryExhaustedError | CircuitOpenError | StepTimeoutError):
        return True
    return classify_error(exc) != "permanent"
