"""Fault profiles of the eval harness, on top of ``agentpatterns.testing.faults``.

Every profile but ``process-kill`` is a named :data:`~agentpatterns.testing.faults.FAULT_PROFILES`
entry of the library's :class:`FaultInjector`. ``process-kill`` is the harness's own: the
episode runs in a forked child that SIGKILLs itself once, at a seeded tool call (before the
call, or after it committed), and the worker resumes the thread from the checkpointer and
the effect ledger. ``partial-write-crash`` (the injector SIGKILLs the process after a write
committed, 10 % of calls) also runs in a child and resumes the same way.

A :class:`ReseedableInjector` wraps the tools once per worker process and is re-seeded for
each episode, so a tool registry is built once and every episode still draws its own,
reproducible faults: the seed of an episode is a hash of (run seed, suite, task, trial) and
does not depend on the configuration, so every configuration meets the same faults.

Example:
    >>> from evals.faults import PROFILES, episode_seed, fault_rate
    >>> "process-kill" in PROFILES, fault_rate("flaky-30")
    (True, 0.3)
    >>> episode_seed(1, "tau2-retail", "7", 0) == episode_seed(1, "tau2-retail", "7", 0)
    True
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from typing import Any, Final

from agentpatterns.errors import ConfigurationError
from agentpatterns.testing.faults import FAULT_PROFILES, FaultInjector

__all__ = [
    "CRASH_PROFILES",
    "PROFILES",
    "ReseedableInjector",
    "episode_seed",
    "fault_rate",
    "kill_plan",
    "parse_profiles",
]

#: Every profile the harness accepts, in report order.
PROFILES: Final = (*FAULT_PROFILES, "process-kill")

#: Profiles whose episodes run in a child process that may be SIGKILLed, then resumed.
CRASH_PROFILES: Final = frozenset({"partial-write-crash", "process-kill"})

#: Nominal fault rate per tool call (x axis of "success against fault rate").
_RATES: Final = {
    "none": 0.0,
    "latency": 0.0,
    "flaky-10": 0.1,
    "flaky-30": 0.3,
    "lost-response": 0.3,
    "partial-write-crash": 0.1,
    "outage": 1.0,
    "rate-limit": 0.3,
    "process-kill": 0.0,
}

#: Shorthands accepted by ``--faults``.
_GROUPS: Final = {
    "all": PROFILES,
    "sweep": ("none", "flaky-10", "flaky-30"),
    "transient": ("flaky-10", "flaky-30", "rate-limit", "lost-response"),
    "crash": ("partial-write-crash", "process-kill"),
}


def fault_rate(profile: str) -> float:
    """The nominal share of tool calls a profile faults (0 for latency and process-kill)."""
    return _RATES[profile]


def parse_profiles(text: str) -> list[str]:
    """``"flaky-30,outage"`` / ``"sweep"`` / ``"all"`` -> profile names (checked, deduped).

    Raises:
        ConfigurationError: an unknown profile name.
    """
    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        names = _GROUPS.get(part, (part,))
        for name in names:
            if name not in PROFILES:
                raise ConfigurationError(
                    f"unknown fault profile {name!r}; known: {', '.join(PROFILES)} "
                    f"(or {', '.join(_GROUPS)})"
                )
            if name not in out:
                out.append(name)
    if not out:
        raise ConfigurationError("no fault profile given")
    return out


def episode_seed(seed: int, suite: str, task: str, trial: int) -> int:
    """The seed of one episode: the same for every configuration (same faults)."""
    digest = hashlib.sha256(f"{seed}|{suite}|{task}|{trial}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


def kill_plan(seed: int, calls: int) -> tuple[int, str]:
    """``process-kill``: the tool call (1-based) at which the child dies, and the point
    (``"before"`` the call or ``"after"`` it committed)."""
    rng = random.Random(f"kill|{seed}")
    return rng.randint(1, max(calls, 1)), rng.choice(("before", "after"))


class ReseedableInjector(FaultInjector):
    """A :class:`FaultInjector` that can be re-seeded and re-profiled between episodes.

    Tools are wrapped once (``wrap``); :meth:`reset` gives the wrapped tools a new seed and
    profile. It also counts tool invocations per call index (``mark(i)`` before call ``i``),
    which is how attempts are counted for configurations without the tool executor, and can
    SIGKILL the process at a given invocation (``process-kill``).
    """

    def __init__(self) -> None:
        super().__init__(0)
        self.latencies: list[float] = []
        self._t0: dict[tuple[str, int], float] = {}
        self.profile = "none"
        self.current = -1
        self.invocations: Counter[int] = Counter()
        self.kill_at: tuple[int, str] | None = None

    def reset(self, profile: str, seed: int, *, kill_at: tuple[int, str] | None = None) -> None:
        """New episode: fresh streams and counters for ``profile`` seeded by ``seed``."""
        kwargs: dict[str, Any] = dict(FAULT_PROFILES.get(profile, {}))
        if profile not in PROFILES:
            raise ConfigurationError(f"unknown fault profile {profile!r}")
        FaultInjector.__init__(self, seed, **kwargs)
        self.profile = profile
        self.current = -1
        self.invocations = Counter()
        self.kill_at = kill_at
        self.latencies = []
        self._t0 = {}

    def mark(self, index: int) -> None:
        """The next invocations belong to planned call ``index``."""
        self.current = index

    def decide(self, tool: str) -> Any:
        decision = super().decide(tool)
        self._t0[(tool, decision.index)] = time.perf_counter()
        self.invocations[self.current] += 1
        if self.kill_at is not None and self.counts["calls"] == self.kill_at[0]:
            from agentpatterns.testing.faults import _Decision

            if self.kill_at[1] == "before":
                _sigkill()
            return _Decision("crash", decision.delay, decision.index)
        return decision

    def _after(self, tool: str, d: Any) -> None:
        t0 = self._t0.pop((tool, d.index), None)
        if t0 is not None:  # the call returned: its latency (injected delay included)
            self.latencies.append((time.perf_counter() - t0) * 1000.0)
        super()._after(tool, d)


def _sigkill() -> None:  # pragma: no cover - kills the process
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
