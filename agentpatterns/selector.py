"""The guide's decision tree for choosing patterns: ``recommend(WorkloadProfile(...))``.

The tree, exactly as the guide draws it::

    Q1 Does the agent need several tools?
       no  -> simple single agent + basic error handling + observability  (stop)
       yes -> Q2
    Q2 More than 5 tools?          yes -> layered architecture + tool orchestration
    Q3 Is the order predictable?   yes -> state-machine driven
    Q4 High risk?                  yes -> full observability (audit) + human in the loop
    Q5 High availability needed?   yes -> full error handling (retry, breaker, fallback,
                                          rollback)

Whatever the path, a production agent gets the basics of observability (inputs, outputs and
tool calls logged, metrics) and of error handling (retry transient faults, a failed route),
so every recommendation carries them.

Example:
    >>> from agentpatterns.selector import WorkloadProfile, recommend
    >>> rec = recommend(WorkloadProfile(tools=8, predictable_order=True))
    >>> rec.names()
    ('layered', 'tool_orchestration', 'state_machine', 'observability', 'error_handling')
    >>> [step.answer for step in rec.path]
    ['yes', 'yes', 'yes', 'no', 'no']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["PATTERN_API", "PatternChoice", "Recommendation", "Step", "WorkloadProfile", "recommend"]

Level = Literal["basic", "full"]

#: Where each pattern lives in this library.
PATTERN_API: dict[str, str] = {
    "layered": "agentpatterns.layered.build_layered_graph",
    "state_machine": "agentpatterns.fsm.StateMachine / build_agent_graph",
    "tool_orchestration": "agentpatterns.orchestration.ToolRegistry / add_tool_orchestration",
    "observability": "agentpatterns.observability.Observability (+ AuditLog)",
    "error_handling": "agentpatterns.resilience (Retry, CircuitBreaker, Fallback, rollback, "
    "escalate_to_human)",
}

_BASIC_OBS = ("input/output logging", "tool-call logging", "metrics")
_FULL_OBS = ("every intermediate state recorded", "audit log", "alerts")
_BASIC_ERR = ("retry transient faults", "errors routed to a failed state")
_HUMAN = ("human-in-the-loop escalation",)
_FULL_ERR = (
    "retry with exponential backoff",
    "circuit breaker",
    "fallback / degradation",
    "rollback with compensation",
)


@dataclass(frozen=True, slots=True)
class WorkloadProfile:
    """What the agent has to do.

    Args:
        tools: Number of tools the agent calls (0 or 1 means "not several").
        predictable_order: The steps follow a known order (a process), not free exploration.
        high_risk: Mistakes are costly (money, data, compliance).
        high_availability: The agent must keep serving when dependencies fail.
    """

    tools: int
    predictable_order: bool = False
    high_risk: bool = False
    high_availability: bool = False

    def __post_init__(self) -> None:
        if self.tools < 0:
            raise ValueError("tools must be >= 0")


@dataclass(frozen=True, slots=True)
class Step:
    """One question of the tree on the path taken."""

    question: str
    answer: Literal["yes", "no"]
    outcome: str


@dataclass(frozen=True, slots=True)
class PatternChoice:
    """A recommended pattern, how much of it, and why."""

    pattern: str
    level: Level
    reason: str
    features: tuple[str, ...] = ()
    api: str = ""


@dataclass(frozen=True, slots=True)
class Recommendation:
    """The result of :func:`recommend`: patterns with reasons and the path through the tree."""

    profile: WorkloadProfile
    architecture: Literal["single_agent", "multi_tool_agent"]
    patterns: tuple[PatternChoice, ...]
    path: tuple[Step, ...] = field(default=())

    def names(self) -> tuple[str, ...]:
        """Pattern ids in recommendation order."""
        return tuple(p.pattern for p in self.patterns)

    def get(self, pattern: str) -> PatternChoice | None:
        """The choice for ``pattern``, if recommended."""
        return next((p for p in self.patterns if p.pattern == pattern), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return asdict(self)

    def render(self) -> Any:
        """A rich renderable (path and pattern table)."""
        from rich.console import Group
        from rich.table import Table

        path = Table(title="decision path", show_lines=False)
        for col in ("question", "answer", "outcome"):
            path.add_column(col)
        for step in self.path:
            path.add_row(step.question, step.answer, step.outcome)
        table = Table(title=f"recommended patterns ({self.architecture})")
        for col in ("pattern", "level", "reason", "features", "api"):
            table.add_column(col, overflow="fold")
        for p in self.patterns:
            table.add_row(p.pattern, p.level, p.reason, ", ".join(p.features), p.api)
        return Group(path, table)


def _choice(pattern: str, level: Level, reason: str, features: tuple[str, ...]) -> PatternChoice:
    return PatternChoice(pattern, level, reason, features, PATTERN_API[pattern])


def recommend(profile: WorkloadProfile) -> Recommendation:
    """Walk the guide's decision tree for ``profile``.

    Args:
        profile: The workload.

    Returns:
        A :class:`Recommendation`; observability and error handling are always included
        (``basic`` unless a question upgrades them to ``full``).

    Example:
        >>> recommend(WorkloadProfile(tools=1)).names()
        ('observability', 'error_handling')
    """
    path: list[Step] = []
    several = profile.tools >= 2
    if not several:
        path.append(Step("Q1 several tools?", "no", "simple single agent; stop"))
        return Recommendation(
            profile,
            "single_agent",
            (
                _choice("observability", "basic", "production baseline for any agent", _BASIC_OBS),
                _choice("error_handling", "basic", "production baseline for any agent", _BASIC_ERR),
            ),
            tuple(path),
        )
    path.append(Step("Q1 several tools?", "yes", "go on to Q2"))
    chosen: list[PatternChoice] = []
    if profile.tools > 5:
        path.append(Step("Q2 more than 5 tools?", "yes", "layered + tool orchestration"))
        why = f"{profile.tools} tools (> 5)"
        chosen.append(
            _choice(
                "layered",
                "full",
                f"{why}: separate coordination from execution so new tools never touch the core",
                (),
            )
        )
        chosen.append(
            _choice(
                "tool_orchestration",
                "full",
                f"{why}: manage tools through a registry with contracts, timeouts and reuse",
                (),
            )
        )
    else:
        path.append(Step("Q2 more than 5 tools?", "no", "the agent manages its few tools itself"))
    if profile.predictable_order:
        path.append(Step("Q3 predictable order?", "yes", "state machine"))
        chosen.append(
            _choice(
                "state_machine",
                "full",
                "the steps follow a known order: make states and allowed transitions explicit",
                (),
            )
        )
    else:
        path.append(Step("Q3 predictable order?", "no", "no state machine"))
    obs: Level = "basic"
    obs_reason = "production baseline for any agent"
    obs_features = _BASIC_OBS
    err_features = _BASIC_ERR
    err: Level = "basic"
    err_reasons = ["production baseline for any agent"]
    if profile.high_risk:
        path.append(Step("Q4 high risk?", "yes", "full observability + human in the loop"))
        obs, obs_reason = "full", "high risk: record every step and keep an audit trail"
        obs_features = _BASIC_OBS + _FULL_OBS
        err_features = err_features + _HUMAN
        err_reasons.append("high risk: always a path to a human")
    else:
        path.append(Step("Q4 high risk?", "no", "basic observability"))
    if profile.high_availability:
        path.append(Step("Q5 high availability?", "yes", "full error handling"))
        err = "full"
        err_features = err_features + _FULL_ERR
        err_reasons.append("high availability: retry, break, fall back and roll back")
    else:
        path.append(Step("Q5 high availability?", "no", "basic error handling"))
    chosen.append(_choice("observability", obs, obs_reason, obs_features))
    chosen.append(_choice("error_handling", err, "; ".join(err_reasons), err_features))
    return Recommendation(profile, "multi_tool_agent", tuple(chosen), tuple(path))
