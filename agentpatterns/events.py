"""The core event hook where cross-cutting patterns meet.

``resilience`` and ``observability`` never import each other. Resilience *emits* events
(a retry, a breaker opening, a rollback, an escalation, ...); observability metrics and alert
rules *listen*. Emitting with no listener costs one truthiness check, so the hook can sit on
hot paths.

Example:
    >>> from agentpatterns.events import Event, emit, listen
    >>> seen = []
    >>> with listen(seen.append):
    ...     emit("retry", tool="lookup", attempt=2)
    >>> seen[0].kind, seen[0].attrs["attempt"]
    ('retry', 2)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["EVENT_KINDS", "Event", "Listener", "emit", "listen", "subscribe"]

_log = logging.getLogger("agentpatterns.events")

#: Event kinds the library emits. Listeners should ignore kinds they do not know.
EVENT_KINDS: Final = frozenset(
    {
        "transition",  # fsm: from, to, reason
        "node_error",  # a node raised: node, error_type
        "tool_error",  # a tool call failed: tool, error_type
        "retry",  # a retry is about to happen: target, attempt, delay, error_type
        "retry_exhausted",  # retries used up: target, attempts, error_type
        "breaker_state",  # breaker changed: name, old, new
        "fallback",  # a fallback answered: target, alternative, reason
        "rollback",  # a thread was rewound: thread_id, to, compensated
        "compensation_failed",  # a compensation raised: key, tool, error_type
        "escalation",  # a run paused for a human: thread_id, reason
        "effect_in_doubt",  # a crashed claim found: key, tool
        "handoff",  # layered: orchestrator -> executor hand-off: layer, executor, ms, bytes
    }
)


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened. ``attrs`` holds plain, already-redacted values."""

    kind: str
    attrs: dict[str, Any] = field(default_factory=dict[str, Any])
    time: float = field(default_factory=time.time)


Listener = Callable[[Event], None]

# A tuple, replaced on change: emit() iterates without a lock and never sees a partial list.
_listeners: tuple[Listener, ...] = ()


def subscribe(listener: Listener) -> Callable[[], None]:
    """Register ``listener`` for every event; returns a function that unsubscribes it."""
    global _listeners
    _listeners = (*_listeners, listener)

    def unsubscribe() -> None:
        global _listeners
        _listeners = tuple(item for item in _listeners if item is not listener)

    return unsubscribe


@contextmanager
def listen(listener: Listener) -> Iterator[None]:
    """Context manager form of :func:`subscribe`."""
    unsubscribe = subscribe(listener)
    try:
        yield
    finally:
        unsubscribe()


def emit(kind: str, **attrs: Any) -> None:
    """Deliver an event to every listener. A failing listener is logged, never raised."""
    listeners = _listeners
    if not listeners:
        return
    event = Event(kind, attrs)
    for listener in listeners:
        try:
            listener(event)
        except Exception:  # a broken sink must not break the agent
            _log.exception("event listener %r failed on %s", listener, kind)
