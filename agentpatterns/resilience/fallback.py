"""``Fallback``: an ordered chain of alternatives when a dependency fails.

Alternatives are tried in order after the primary call fails with a *dependency* failure
(a transient or rate-limited error, exhausted retries, an open breaker, a timeout); a
permanent error such as "order not found" is the real answer and is raised unchanged. Each
alternative is one of:

* any callable, called with the primary's arguments (another tool, another provider);
* :class:`LastGood`: the last successful answer for the same arguments (a cache);
* :class:`Degraded`: a constant degraded answer;
* :class:`Escalate`: returns an :class:`Escalation` marker so the agent routes to a human.

Every answer from an alternative emits a ``fallback`` event with the alternative's name and
the reason (the primary's error). If every alternative fails, :class:`FallbackExhaustedError`
carries the errors.

Example:
    >>> from agentpatterns.resilience import Fallback, Degraded
    >>> def quote(sku):
    ...     raise ConnectionError("pricing service down")
    >>> Fallback(Degraded({"price": None, "note": "pricing unavailable"})).call(quote, "A1")
    {'price': None, 'note': 'pricing unavailable'}
"""

from __future__ import annotations

import inspect
import json
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from langgraph.errors import GraphBubbleUp

from agentpatterns.errors import FallbackExhaustedError
from agentpatterns.events import emit
from agentpatterns.resilience.classify import dependency_failure

__all__ = ["Degraded", "Escalate", "Escalation", "Fallback", "LastGood", "dependency_failure"]


@dataclass(frozen=True)
class Degraded:
    """A constant degraded answer."""

    value: Any
    name: str = "degraded"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.value


@dataclass(frozen=True)
class Escalation:
    """Marker answer: a human must take over. ``reason`` says why."""

    reason: str
    target: str = ""


@dataclass(frozen=True)
class Escalate:
    """Alternative that answers with an :class:`Escalation` marker."""

    reason: str = "dependency unavailable"
    name: str = "escalate"

    def __call__(self, *args: Any, **kwargs: Any) -> Escalation:
        return Escalation(self.reason)


class LastGood:
    """Remembers the primary's last successful answer per arguments (LRU of ``size``) and
    serves it as an alternative; raises ``KeyError`` when it has none."""

    name = "last_good"

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        return json.dumps([args, kwargs], sort_keys=True, default=repr)

    def remember(self, args: tuple[Any, ...], kwargs: dict[str, Any], value: Any) -> None:
        key = self._key(args, kwargs)
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            if len(self._data) > self.size:
                self._data.popitem(last=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._data[self._key(args, kwargs)]


def _name(alt: Any) -> str:
    return str(getattr(alt, "name", None) or getattr(alt, "__name__", None) or type(alt).__name__)


class Fallback:
    """Ordered alternatives for a failing call. Thread-safe; sync and async.

    Args:
        *alternatives: Callables or :class:`Degraded` / :class:`LastGood` /
            :class:`Escalate`, tried in order.
        on: ``exc -> bool``: which primary failures trigger the chain (default:
            :func:`dependency_failure`).
        name: Label for events (default: the primary's name).
    """

    def __init__(
        self,
        *alternatives: Any,
        on: Callable[[BaseException], bool] | None = None,
        name: str | None = None,
    ) -> None:
        self.alternatives = alternatives
        self.on = on or dependency_failure
        self.name = name
        self._caches = [a for a in alternatives if isinstance(a, LastGood)]

    def __repr__(self) -> str:
        return f"Fallback({', '.join(_name(a) for a in self.alternatives)})"

    def _remember(self, args: tuple[Any, ...], kwargs: dict[str, Any], value: Any) -> None:
        for cache in self._caches:
            cache.remember(args, kwargs, value)

    def _exhausted(self, target: str, errors: list[tuple[str, BaseException]]) -> Exception:
        first = errors[0][1]
        summary = "; ".join(f"{n}: {type(e).__name__}: {e}" for n, e in errors)
        return FallbackExhaustedError(
            f"{target}: every alternative failed ({summary})",
            node=target,
            cause=first,
            errors=[(n, repr(e)) for n, e in errors],
        )

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn``; on a dependency failure try the alternatives in order."""
        try:
            value = fn(*args, **kwargs)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            if not self.on(exc):
                raise
            return self._chain(fn, exc, args, kwargs)
        if self._caches:
            self._remember(args, kwargs, value)
        return value

    def _chain(
        self, fn: Callable[..., Any], exc: Exception, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        target = self.name or _name(fn)
        errors: list[tuple[str, BaseException]] = [(target, exc)]
        for alt in self.alternatives:
            try:
                value = alt(*args, **kwargs)
                if inspect.isawaitable(value):
                    raise TypeError("async alternative used from a sync call; use acall")
            except GraphBubbleUp:
                raise
            except Exception as alt_exc:
                errors.append((_name(alt), alt_exc))
                continue
            self._answered(target, alt, exc, value)
            return value
        raise self._exhausted(target, errors) from exc

    def _answered(self, target: str, alt: Any, exc: BaseException, value: Any) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        if isinstance(value, Escalation) and not value.target:
            object.__setattr__(value, "target", target)
        emit("fallback", target=target, alternative=_name(alt), reason=reason)

    async def acall(self, afn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        """Await ``afn``; alternatives may be sync or async callables."""
        try:
            value = await afn(*args, **kwargs)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            if not self.on(exc):
                raise
            target = self.name or _name(afn)
            errors: list[tuple[str, BaseException]] = [(target, exc)]
            for alt in self.alternatives:
                try:
                    value = alt(*args, **kwargs)
                    if inspect.isawaitable(value):
                        value = await value
                except GraphBubbleUp:
                    raise
                except Exception as alt_exc:
                    errors.append((_name(alt), alt_exc))
                    continue
                self._answered(target, alt, exc, value)
                return value
            raise self._exhausted(target, errors) from exc
        if self._caches:
            self._remember(args, kwargs, value)
        return value
