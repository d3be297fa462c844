"""Helpers shared by the reference graphs: resilience defaults, error kinds, resources.

Every reference graph's ``build(...)`` records what the CLI and the eval harness need to
roll a thread back (the effect ledger and the compensations of its side-effecting tools) in
``builder.__agentpatterns__["resources"]`` (see :func:`attach_resources`), so that
``agentpatterns rollback`` works on any of them without importing the graph's internals.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenacity import stop_after_attempt, wait_exponential_jitter

from agentpatterns.resilience import CircuitBreaker, EffectLedger, Retry, RetryBudget

__all__ = [
    "DOMAIN_ERRORS",
    "Resources",
    "attach_resources",
    "default_breaker",
    "default_retry",
    "is_domain_error",
    "marked",
    "open_ledger",
    "resources_of",
]

#: Error types that mean "the tool answered no" (business rule, contract, permission): the
#: call changed nothing and retrying cannot help. Anything else failing a call is a fault of
#: the infrastructure (retries used up, breaker open, effect in doubt, timeout ...).
DOMAIN_ERRORS = frozenset(
    {
        "RetailError",
        "PaymentError",
        "IdempotencyConflictError",
        "NotificationError",
        "InventoryError",
        "ToolContractError",
        "ToolPermissionError",
        "UnknownToolError",
        "ValidationError",
        "PermanentFault",
    }
)


def marked(fn: Callable[..., Any], **marker: Any) -> Callable[..., Any]:
    """``fn`` (e.g. a bound method) as a plain function carrying ``__agentpatterns__``
    markers (registry, agent, ledger ...), so readiness checks can see what a state node
    uses; the signature is kept (the state machine looks for a ``config`` parameter)."""

    @functools.wraps(fn)
    def node(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    node.__agentpatterns__ = {**getattr(fn, "__agentpatterns__", {}), **marker}  # type: ignore[attr-defined]
    return node


def is_domain_error(outcome: Mapping[str, Any]) -> bool:
    """True when a failed tool outcome is a domain error (not a fault)."""
    return not outcome.get("ok") and outcome.get("error_type") in DOMAIN_ERRORS


def default_retry(attempts: int = 8, *, budget: int = 60) -> Retry:
    """Classified retry with short exponential waits (10 ms .. 200 ms), for local tools.

    Eight attempts make a call fail under 30 % transient faults with probability 0.3**8
    (7e-5); the per-run budget still bounds the total (``budget`` retries, 60 s).
    """
    return Retry(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential_jitter(multiplier=0.01, max=0.2, jitter=0.01),
        budget=RetryBudget(max_retries=budget, max_seconds=60.0),
    )


def default_breaker(
    name: str, *, threshold: int = 3, reset_timeout: float = 30.0
) -> CircuitBreaker:
    """A breaker that opens after ``threshold`` calls whose retries were all used up."""
    return CircuitBreaker(name, failure_threshold=threshold, reset_timeout=reset_timeout)


def open_ledger(ledger: EffectLedger | str | None, state_dir: str | Path | None) -> EffectLedger:
    """An :class:`EffectLedger` from an instance, a URL, or a file in ``state_dir``."""
    if isinstance(ledger, EffectLedger):
        return ledger
    if ledger is not None:
        return EffectLedger(ledger)
    if state_dir is not None:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        return EffectLedger(f"sqlite:///{Path(state_dir) / 'effects.db'}")
    return EffectLedger("memory:")


@dataclass
class Resources:
    """What a built reference graph owns: its ledger, compensations and closers."""

    ledger: EffectLedger | None = None
    compensations: dict[str, Callable[[dict[str, Any], Any], Any]] = field(
        default_factory=dict[str, Callable[[dict[str, Any], Any], Any]]
    )
    closers: list[Callable[[], Any]] = field(default_factory=list[Callable[[], Any]])
    extra: dict[str, Any] = field(default_factory=dict[str, Any])

    def close(self) -> None:
        """Close what the graph opened (stores, ledger), newest first; errors ignored."""
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):  # best effort at shutdown
                close()
        self.closers.clear()


def attach_resources(builder: Any, resources: Resources, **markers: Any) -> Any:
    """Merge ``{"resources": resources, **markers}`` into ``builder.__agentpatterns__``."""
    current = dict(getattr(builder, "__agentpatterns__", None) or {})
    current.update(markers)
    current["resources"] = resources
    builder.__agentpatterns__ = current
    return builder


def resources_of(graph: Any) -> Resources | None:
    """The :class:`Resources` of a reference graph (builder or compiled), if any."""
    builder = getattr(graph, "builder", graph)
    found = (getattr(builder, "__agentpatterns__", None) or {}).get("resources")
    return found if isinstance(found, Resources) else None


def compensations_from(registry: Any, names: Iterable[str]) -> dict[str, Any]:
    """``{tool: policy.compensate}`` for the named tools that have one."""
    out: dict[str, Any] = {}
    for name in names:
        comp = registry.policy(name).compensate
        if comp is not None:
            out[name] = comp
    return out
