"""The one exception tree of agentpatterns.

Every error the library raises on purpose derives from :class:`AgentPatternsError`.
Errors raised while *building* a graph also derive from :class:`ValueError`, so code that
already catches ``ValueError`` around graph construction keeps working. Runtime errors carry
the node, the attempt count and the original cause where they have one.

LangGraph's control-flow exceptions (``GraphBubbleUp``, ``GraphInterrupt``, ...) are never
wrapped or swallowed by this library.

::

    AgentPatternsError
    ├── ConfigurationError (ValueError)         malformed URL, options, policies
    │   ├── UnsupportedURLError                 unknown scheme: names the accepted ones
    │   └── StoreUnavailableError               database unreachable, refusing or corrupt
    ├── MachineDefinitionError (ValueError)     bad state machine at build()
    ├── LayerDefinitionError (ValueError)       bad layered graph at build (cycles, keys)
    ├── AgentRuntimeError                       raised while a graph runs (node, attempt, cause)
    │   ├── IllegalTransitionError              a node asked for an undeclared transition
    │   ├── VisitLimitError                     max_visits / step budget exceeded (loops)
    │   ├── StateTooLargeError                  state over its size budget
    │   ├── StepTimeoutError                    a state or tool call ran past its timeout
    │   ├── LayerDepthError                     call chain deeper than max_depth
    │   ├── MalformedSubtaskError               decompose returned malformed subtasks
    │   └── ContextContractError                executor asked for / got undeclared context
    ├── ToolError                               tool orchestration
    │   ├── UnknownToolError                    no such tool in the registry
    │   ├── ToolPermissionError                 tool not granted to this agent
    │   ├── ToolContractError                   arguments or output break the contract
    │   └── ToolExecutionError                  the tool itself raised (cause attached)
    ├── ResilienceError                         error handling
    │   ├── RetryExhaustedError                 attempts or retry budget used up
    │   ├── CircuitOpenError                    breaker open: failing fast
    │   ├── FallbackExhaustedError              every alternative failed
    │   ├── EffectInDoubtError                  a crashed claim needs reconcile or a human
    │   ├── RollbackError                       no such checkpoint to roll back to
    │   └── CompensationError                   a compensation failed (alerted, escalated)
    ├── CheckpointError                         corrupt or unreadable checkpoint data
    └── AuditError                              audit log could not record or answer
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AgentPatternsError",
    "AgentRuntimeError",
    "AuditError",
    "CheckpointError",
    "CircuitOpenError",
    "CompensationError",
    "ConfigurationError",
    "ContextContractError",
    "EffectInDoubtError",
    "FallbackExhaustedError",
    "IllegalTransitionError",
    "LayerDefinitionError",
    "LayerDepthError",
    "MachineDefinitionError",
    "MalformedSubtaskError",
    "ResilienceError",
    "RetryExhaustedError",
    "RollbackError",
    "StateTooLargeError",
    "StepTimeoutError",
    "StoreUnavailableError",
    "ToolContractError",
    "ToolError",
    "ToolExecutionError",
    "ToolPermissionError",
    "UnknownToolError",
    "UnsupportedURLError",
    "VisitLimitError",
]


class AgentPatternsError(Exception):
    """Root of every error raised on purpose by agentpatterns.

    Args:
        message: What went wrong and, where useful, what is accepted instead.
        node: The graph node (or tool) where it happened, if any.
        attempt: The attempt number (1-based) when the error ended a retried call.
        cause: The original exception, also chained as ``__cause__`` by the raiser.
    """

    def __init__(
        self,
        message: str,
        *,
        node: str | None = None,
        attempt: int | None = None,
        cause: BaseException | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.node = node
        self.attempt = attempt
        self.cause = cause
        self.details = details

    def __str__(self) -> str:
        extra: list[str] = []
        if self.node is not None:
            extra.append(f"node={self.node}")
        if self.attempt is not None:
            extra.append(f"attempt={self.attempt}")
        if self.cause is not None:
            extra.append(f"cause={type(self.cause).__name__}: {self.cause}")
        return f"{self.message} ({', '.join(extra)})" if extra else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep keyword-only data when the error crosses a process boundary (eval workers).
        return (_rebuild, (type(self), self.message, self.node, self.attempt, self.details))


def _rebuild(
    cls: type[AgentPatternsError],
    message: str,
    node: str | None,
    attempt: int | None,
    details: dict[str, Any],
) -> AgentPatternsError:
    return cls(message, node=node, attempt=attempt, **details)


class ConfigurationError(AgentPatternsError, ValueError):
    """Malformed configuration: URL, options or policy values."""


class UnsupportedURLError(ConfigurationError):
    """A store URL with a scheme we do not support; the message lists accepted schemes."""


class StoreUnavailableError(AgentPatternsError):
    """A database could not be opened: unreachable, refusing, missing folder or corrupt."""


class MachineDefinitionError(AgentPatternsError, ValueError):
    """A state machine that cannot be built; the message names the culprit."""


class LayerDefinitionError(AgentPatternsError, ValueError):
    """A layered graph that cannot be built: unknown executor, context keys, cycles."""


class AgentRuntimeError(AgentPatternsError):
    """An error raised while a graph runs."""


class IllegalTransitionError(AgentRuntimeError):
    """A node asked for a transition that the machine does not declare."""


class VisitLimitError(AgentRuntimeError):
    """A state exceeded ``max_visits`` or the run exceeded its step budget."""


class StateTooLargeError(AgentRuntimeError):
    """The state grew past its configured size budget."""


class StepTimeoutError(AgentRuntimeError, TimeoutError):
    """A state or a tool call ran past its timeout."""


class LayerDepthError(AgentRuntimeError):
    """A layered call chain went deeper than ``max_depth``."""


class MalformedSubtaskError(AgentRuntimeError):
    """A layered orchestrator's decompose returned malformed subtasks (type, executor, id)."""


class ContextContractError(AgentRuntimeError):
    """An executor asked for, or was handed, context it did not declare."""


class ToolError(AgentPatternsError):
    """Base of tool-orchestration errors."""


class UnknownToolError(ToolError):
    """The requested tool is not in the registry."""


class ToolPermissionError(ToolError):
    """The agent is not granted the requested tool."""


class ToolContractError(ToolError):
    """Tool arguments or output break the tool's contract."""


class ToolExecutionError(ToolError):
    """The tool raised; the original exception is in ``cause``."""


class ResilienceError(AgentPatternsError):
    """Base of error-handling errors."""


class RetryExhaustedError(ResilienceError):
    """Retries used up (attempts, delay or the run's retry budget)."""


class CircuitOpenError(ResilienceError):
    """The circuit breaker is open; the call failed fast without running."""


class FallbackExhaustedError(ResilienceError):
    """Every alternative in a fallback chain failed."""


class EffectInDoubtError(ResilienceError):
    """A side effect was claimed by a run that crashed; its outcome is unknown.

    It is never re-run silently: the tool's reconcile hook decides, or a human does.
    """


class RollbackError(ResilienceError):
    """The rollback target does not exist or the thread cannot be rewound."""


class CompensationError(ResilienceError):
    """A compensation failed; an alert was raised and the run escalated."""


class CheckpointError(AgentPatternsError):
    """Checkpoint data is corrupt or cannot be read."""


class AuditError(AgentPatternsError):
    """The audit log could not record or answer a query."""
