"""Seeded fault injection for LangChain tools.

:class:`FaultInjector` wraps any tool with faults drawn from a seeded random stream per tool,
so a given seed and call order always injects the same faults:

- latency (constant seconds or a ``(low, high)`` range),
- a transient error before the call (:class:`TransientFault`, a ``ConnectionError``),
- a timeout before the call (:class:`InjectedTimeout`, a ``TimeoutError``),
- a lost response: the call ran and committed, then the reply is lost
  (:class:`LostResponseFault`, a ``ConnectionError`` raised *after* the underlying call),
- a crash half-way through a write: the process SIGKILLs itself before or after the
  underlying call commits (``crash_point``), for subprocess crash tests,
- a permanent error (:class:`PermanentFault`, a ``ValueError``),
- a rate limit (:class:`RateLimitFault`, status 429 with ``retry_after``),
- an outage (``outage=True``: every call fails transiently — the dependency is down).

The eval harness uses named profiles through :func:`fault_profile`.

Example:
    >>> from langchain_core.tools import tool
    >>> from agentpatterns.testing.faults import FaultInjector, TransientFault
    >>> @tool
    ... def echo(text: str) -> str:
    ...     '''Echo the text.'''
    ...     return text
    >>> def run(seed):
    ...     faulty = FaultInjector(seed, transient_rate=0.5).wrap(echo)
    ...     out = []
    ...     for _ in range(8):
    ...         try:
    ...             out.append(faulty.invoke({"text": "hi"}))
    ...         except TransientFault:
    ...             out.append("fault")
    ...     return out
    >>> run(7) == run(7), "fault" in run(7), "hi" in run(7)
    (True, True, True)
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool

from agentpatterns.errors import ConfigurationError

__all__ = [
    "FAULT_PROFILES",
    "FaultInjector",
    "InjectedTimeout",
    "LostResponseFault",
    "PermanentFault",
    "RateLimitFault",
    "TransientFault",
    "fault_profile",
]


class TransientFault(ConnectionError):
    """Injected transient failure before the call (the call did not run)."""


class InjectedTimeout(TimeoutError):
    """Injected timeout before the call (the call did not run)."""


class LostResponseFault(ConnectionError):
    """The call ran and committed; its response was lost on the way back."""


class PermanentFault(ValueError):
    """Injected permanent failure (retrying cannot help)."""


class RateLimitFault(Exception):
    """Injected HTTP 429 with a Retry-After of ``retry_after`` seconds."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


#: Fault kinds in the order their rates partition [0, 1).
_KINDS: Final = ("transient", "timeout", "lost_response", "crash", "permanent", "rate_limit")

#: Named profiles used by the eval harness: name -> FaultInjector keyword arguments.
FAULT_PROFILES: Final[dict[str, dict[str, Any]]] = {
    "none": {},
    "latency": {"latency": (0.0005, 0.005)},
    "flaky-10": {"transient_rate": 0.05, "timeout_rate": 0.05},
    "flaky-30": {"transient_rate": 0.15, "timeout_rate": 0.15},
    "lost-response": {"lost_response_rate": 0.3},
    "partial-write-crash": {"crash_rate": 0.1, "crash_point": "after"},
    "outage": {"outage": True},
    "rate-limit": {"rate_limit_rate": 0.3, "retry_after": 0.01},
}


def fault_profile(name: str, seed: int, **overrides: Any) -> FaultInjector:
    """The :class:`FaultInjector` of a named profile (see ``FAULT_PROFILES``).

    Example:
        >>> fault_profile("flaky-30", seed=1).rates["transient"]
        0.15
    """
    try:
        kwargs = FAULT_PROFILES[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown fault profile {name!r}; known: {', '.join(FAULT_PROFILES)}"
        ) from None
    return FaultInjector(seed, **{**kwargs, **overrides})


def _latency_range(latency: Any) -> tuple[float, float]:
    """``(low, high)`` seconds from a number or any 2-sequence (a tuple, a JSON list)."""
    if isinstance(latency, Sequence) and not isinstance(latency, str | bytes):
        items: list[Any] = list(latency)  # pyright: ignore[reportUnknownArgumentType]
    else:
        items = [latency, latency]
    if len(items) != 2 or not all(
        isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in items
    ):
        raise ConfigurationError(
            f"latency must be seconds (a number) or a (low, high) pair of numbers, got {latency!r}"
        )
    low, high = float(items[0]), float(items[1])
    if low < 0 or high < low:
        raise ConfigurationError(
            f"latency must be >= 0 and a range must have low <= high, got {latency!r}"
        )
    return low, high


@dataclass(frozen=True, slots=True)
class _Decision:
    kind: str | None
    delay: float
    index: int


class FaultInjector:
    """Wraps tools with seeded faults; counts what it injected.

    Args:
        seed: Seed; each wrapped tool draws from its own stream seeded by ``(seed, name)``.
        latency: Seconds added to every call, or a ``(low, high)`` uniform range (any
            2-sequence, e.g. a JSON list ``[low, high]``).
        transient_rate, timeout_rate, lost_response_rate, crash_rate, permanent_rate,
        rate_limit_rate: Probability of each fault per call (their sum must be <= 1).
        crash_point: ``"after"`` (SIGKILL after the underlying call committed) or
            ``"before"``.
        retry_after: Seconds announced by :class:`RateLimitFault`.
        outage: Every call fails with :class:`TransientFault`.
        tools: Only tools with these names get faults (default: all wrapped tools).

    Attributes:
        counts: ``Counter`` of injected faults by kind, plus ``"calls"``.
        by_tool: ``{tool name: Counter}`` with the same keys.
    """

    def __init__(
        self,
        seed: int,
        *,
        latency: float | Sequence[float] = 0.0,
        transient_rate: float = 0.0,
        timeout_rate: float = 0.0,
        lost_response_rate: float = 0.0,
        crash_rate: float = 0.0,
        permanent_rate: float = 0.0,
        rate_limit_rate: float = 0.0,
        crash_point: Literal["after", "before"] = "after",
        retry_after: float = 1.0,
        outage: bool = False,
        tools: Iterable[str] | None = None,
    ) -> None:
        self.seed = seed
        self.rates = {
            "transient": transient_rate,
            "timeout": timeout_rate,
            "lost_response": lost_response_rate,
            "crash": crash_rate,
            "permanent": permanent_rate,
            "rate_limit": rate_limit_rate,
        }
        for kind, rate in self.rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ConfigurationError(f"{kind}_rate must be within [0, 1], got {rate!r}")
        if sum(self.rates.values()) > 1.0 + 1e-9:
            raise ConfigurationError("the fault rates add up to more than 1")
        low, high = _latency_range(latency)
        if crash_point not in ("after", "before"):
            raise ConfigurationError(f"crash_point must be 'after' or 'before', got {crash_point}")
        if retry_after < 0:
            raise ConfigurationError(f"retry_after must be >= 0, got {retry_after}")
        self.latency = (low, high)
        self.crash_point = crash_point
        self.retry_after = retry_after
        self.outage = outage
        self.only = None if tools is None else frozenset(tools)
        self.counts: Counter[str] = Counter()
        self.by_tool: dict[str, Counter[str]] = {}
        self._streams: dict[str, tuple[random.Random, list[int]]] = {}
        self._lock = threading.Lock()

    def decide(self, tool: str) -> _Decision:
        """Draw the next call's fault for ``tool`` and count it (used by wrapped tools)."""
        with self._lock:
            stream = self._streams.get(tool)
            if stream is None:
                stream = self._streams[tool] = (random.Random(f"{self.seed}:{tool}"), [0])
            rng, counter = stream
            counter[0] += 1
            index = counter[0]
            u, v = rng.random(), rng.random()  # always two draws: a stable sequence
            kind: str | None = None
            if self.only is None or tool in self.only:
                if self.outage:
                    kind = "transient"
                else:
                    edge = 0.0
                    for name in _KINDS:
                        edge += self.rates[name]
                        if u < edge:
                            kind = name
                            break
            low, high = self.latency
            delay = low + (high - low) * v if high > 0 else 0.0
            tally = self.by_tool.setdefault(tool, Counter())
            for c in (self.counts, tally):
                c["calls"] += 1
                if kind:
                    c[kind] += 1
                if delay:
                    c["latency"] += 1
        return _Decision(kind, delay, index)

    def _before(self, tool: str, d: _Decision) -> None:
        where = f"call {d.index} of tool '{tool}'"
        if d.kind == "transient":
            reason = "outage" if self.outage else "transient fault"
            raise TransientFault(f"injected {reason} ({where})")
        if d.kind == "timeout":
            raise InjectedTimeout(f"injected timeout ({where})")
        if d.kind == "permanent":
            raise PermanentFault(f"injected permanent fault ({where})")
        if d.kind == "rate_limit":
            raise RateLimitFault(
                f"injected rate limit, retry after {self.retry_after} s ({where})",
                retry_after=self.retry_after,
            )
        if d.kind == "crash" and self.crash_point == "before":
            _crash()

    def _after(self, tool: str, d: _Decision) -> None:
        if d.kind == "lost_response":
            raise LostResponseFault(
                f"injected lost response after the call committed (call {d.index} of '{tool}')"
            )
        if d.kind == "crash":
            _crash()

    def wrap(self, tool: BaseTool) -> BaseTool:
        """A tool with the same name, description and schema that injects faults."""
        name = tool.name

        def run(config: RunnableConfig, **kwargs: Any) -> Any:
            d = self.decide(name)
            if d.delay:
                time.sleep(d.delay)
            self._before(name, d)
            result = tool.invoke(kwargs, _quiet(config))
            self._after(name, d)
            return result

        async def arun(config: RunnableConfig, **kwargs: Any) -> Any:
            d = self.decide(name)
            if d.delay:
                await asyncio.sleep(d.delay)
            self._before(name, d)
            result = await tool.ainvoke(kwargs, _quiet(config))
            self._after(name, d)
            return result

        return StructuredTool(
            name=name,
            description=tool.description,
            args_schema=tool.args_schema or tool.get_input_schema(),
            func=run,
            coroutine=arun,
            return_direct=tool.return_direct,
            response_format=tool.response_format,
            metadata={**(tool.metadata or {}), "fault_injected": True},
        )

    def wrap_all(self, tools: Iterable[BaseTool]) -> list[BaseTool]:
        """:meth:`wrap` each tool."""
        return [self.wrap(t) for t in tools]

    def __repr__(self) -> str:
        active = {k: v for k, v in self.rates.items() if v}
        return f"FaultInjector(seed={self.seed}, {active}, outage={self.outage})"


def _quiet(config: RunnableConfig) -> RunnableConfig:
    """The wrapper's config without callbacks: the inner call is not a second tool run.

    An empty list, not None: ``ensure_config`` ignores None values and would bring back the
    wrapper's own callback manager from the context variable.
    """
    inner = RunnableConfig(**config)
    inner["callbacks"] = []
    return inner


def _crash() -> None:  # pragma: no cover - kills the process
    os.kill(os.getpid(), signal.SIGKILL)
