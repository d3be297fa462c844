"""Per-tool policy: timeout, resilience, side effects, concurrency and output contract.

A :class:`ToolPolicy` is attached to a tool when it is registered
(``ToolRegistry.register(tool, policy=ToolPolicy(...))``) and is read by the tool executor
on every call. The resilience fields (``retry``, ``breaker``, ``fallback``) hold objects from
:mod:`agentpatterns.resilience`; when any of them, or ``side_effect``, is set the executor
hands the call to ``agentpatterns.resilience.guard`` so the wrapping order stays in one place.

Example:
    >>> from agentpatterns.orchestration import ToolPolicy
    >>> ToolPolicy(timeout=2.0, max_concurrency=4).guarded
    False
    >>> ToolPolicy(side_effect=True).guarded
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from agentpatterns.errors import ConfigurationError

if TYPE_CHECKING:
    from agentpatterns.resilience import CircuitBreaker, Fallback, Retry

__all__ = ["ToolPolicy"]


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    """How the executor runs one tool.

    Args:
        timeout: Seconds one attempt may run (``None``: no limit). Works for sync tools too:
            the call runs in a worker thread and the executor stops waiting for it. A Python
            thread cannot be killed, so a timed-out sync call keeps running in the background
            until it returns; its result is discarded.
        retry: A ``resilience.Retry`` for transient and rate-limited errors.
        breaker: A ``resilience.CircuitBreaker`` for the tool's dependency.
        fallback: A ``resilience.Fallback`` serving a degraded answer.
        side_effect: The tool changes the world (a write, a payment, a message). The executor
            passes an idempotency key in ``config["configurable"]["agentpatterns_effect_key"]``
            and records the effect in the registry's ledger so it runs at most once.
        compensate: ``compensate(args, result)`` undoes a committed side effect (rollback).
        reconcile: ``reconcile(args)`` finds out whether an in-doubt effect happened.
        idempotency_key: ``idempotency_key(args) -> str`` replaces the default key
            ``"{thread_id}:{checkpoint_ns}:{tool_call_id}"``.
        max_concurrency: At most this many calls of the tool run at once (per process for
            sync callers, per event loop for async callers).
        fail_fast: A failed call makes the executor node raise ``ToolExecutionError`` (after
            the other calls of the step settle) instead of returning an error result.
        output_model: A pydantic model the tool's output must validate against.

    Raises:
        ConfigurationError: A value out of range (negative timeout, ``max_concurrency`` < 1,
            a non-callable hook, an ``output_model`` that is not a pydantic model).
    """

    timeout: float | None = None
    retry: Retry | None = None
    breaker: CircuitBreaker | None = None
    fallback: Fallback | None = None
    side_effect: bool = False
    compensate: Callable[[dict[str, Any], Any], Any] | None = None
    reconcile: Callable[[dict[str, Any]], Any] | None = None
    idempotency_key: Callable[[dict[str, Any]], str] | None = None
    max_concurrency: int | None = None
    fail_fast: bool = False
    output_model: type[BaseModel] | None = None

    def __post_init__(self) -> None:
        if self.timeout is not None:
            if isinstance(self.timeout, bool) or not isinstance(self.timeout, int | float):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ConfigurationError(
                    f"ToolPolicy.timeout must be a number of seconds or None, got {self.timeout!r}"
                )
            if not math.isfinite(self.timeout) or self.timeout <= 0:
                raise ConfigurationError(
                    f"ToolPolicy.timeout must be a positive finite number, got {self.timeout!r}"
                )
        if self.max_concurrency is not None and (
            isinstance(self.max_concurrency, bool)
            or not isinstance(self.max_concurrency, int)  # pyright: ignore[reportUnnecessaryIsInstance]
            or self.max_concurrency < 1
        ):
            raise ConfigurationError(
                f"ToolPolicy.max_concurrency must be an int >= 1 or None, "
                f"got {self.max_concurrency!r}"
            )
        for name in ("compensate", "reconcile", "idempotency_key"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise ConfigurationError(f"ToolPolicy.{name} must be callable, got {value!r}")
        if self.output_model is not None and not (
            isinstance(self.output_model, type) and issubclass(self.output_model, BaseModel)  # pyright: ignore[reportUnnecessaryIsInstance]
        ):
            raise ConfigurationError(
                f"ToolPolicy.output_model must be a pydantic BaseModel subclass, "
                f"got {self.output_model!r}"
            )
        if not isinstance(self.side_effect, bool) or not isinstance(self.fail_fast, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError("ToolPolicy.side_effect and fail_fast must be booleans")
        if (self.compensate is not None or self.reconcile is not None) and not self.side_effect:
            raise ConfigurationError(
                "ToolPolicy.compensate / reconcile only make sense with side_effect=True"
            )

    @property
    def guarded(self) -> bool:
        """True when calls go through ``agentpatterns.resilience.guard``."""
        return (
            self.retry is not None
            or self.breaker is not None
            or self.fallback is not None
            or self.side_effect
        )
