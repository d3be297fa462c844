"""Transition conditions and explicit routing requests for state machines.

A condition is a small predicate over the state. Conditions compose with ``&``, ``|`` and
``~`` and carry a readable name that ends up in the transition's ``reason``. A node can also
ask for its next state explicitly with :func:`goto` (or by returning a LangGraph
``Command(goto=...)``); the machine still checks that the transition was declared.

Example:
    >>> from agentpatterns.fsm import when
    >>> valid = when(lambda s: s.get("valid", False), name="valid")
    >>> retry = ~valid & when(lambda s: s.get("tries", 0) < 3, name="tries<3")
    >>> retry.name, retry({"valid": False, "tries": 1})
    ('(~valid & tries<3)', True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Condition", "Goto", "goto", "key", "when"]

StatePredicate = Callable[[Mapping[str, Any]], Any]


class Condition:
    """A named predicate over the state; combine with ``&``, ``|``, ``~``.

    Args:
        fn: Called with the state (the node's update laid over the state it received);
            its result is taken as a bool.
        name: Shown in transition reasons and diagrams; defaults to the function name.
    """

    __slots__ = ("fn", "name")

    def __init__(self, fn: StatePredicate, name: str | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"a condition needs a callable, got {fn!r}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__

    def __call__(self, state: Mapping[str, Any]) -> bool:
        return bool(self.fn(state))

    def __and__(self, other: Condition | StatePredicate) -> Condition:
        a, b = self, as_condition(other)
        return Condition(lambda s: a.fn(s) and b.fn(s), f"({a.name} & {b.name})")

    def __or__(self, other: Condition | StatePredicate) -> Condition:
        a, b = self, as_condition(other)
        return Condition(lambda s: a.fn(s) or b.fn(s), f"({a.name} | {b.name})")

    def __invert__(self) -> Condition:
        a = self
        return Condition(lambda s: not a.fn(s), f"~{a.name}")

    def __repr__(self) -> str:
        return f"Condition({self.name})"


def when(fn: StatePredicate, *, name: str | None = None) -> Condition:
    """Wrap a predicate over the state as a composable :class:`Condition`."""
    return Condition(fn, name)


def key(name: str) -> Condition:
    """A condition that is true when state key ``name`` is truthy (missing -> false)."""
    return Condition(lambda s: s.get(name), name)


def as_condition(value: Condition | StatePredicate | str) -> Condition:
    """Coerce a condition, a callable or a state key name into a :class:`Condition`."""
    if isinstance(value, Condition):
        return value
    if isinstance(value, str):
        return key(value)
    return Condition(value)


@dataclass(frozen=True, slots=True)
class Goto:
    """An explicit request, returned by a node, to move to state ``to``.

    Build it with :func:`goto`. The machine checks that ``to`` is a declared transition of
    the current state; if not, the run goes to ``failed`` with an IllegalTransitionError.
    """

    to: str
    reason: str | None = None
    update: dict[str, Any] = field(default_factory=dict[str, Any])


def goto(to: str, *, reason: str | None = None, update: Mapping[str, Any] | None = None) -> Goto:
    """Ask the machine to move to ``to``, applying ``update`` to the state.

    Example:
        >>> goto("validate", reason="plan ready", update={"plan": []}).to
        'validate'
    """
    return Goto(to, reason, dict(update) if update else {})
