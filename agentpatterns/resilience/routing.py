"""Error routing: where a node goes after its retries are exhausted.

LangGraph 1.2 runs a node's ``retry_policy`` first and, when the node still fails, its
``error_handler``. :func:`error_router` builds such a handler from a table of exception
types to target nodes (a fallback state, a rollback state, an escalation state or
``failed``): it returns ``Command(goto=target, update=...)`` with the reason in state, so
the run never silently continues.

With the fsm builder::

    retry = Retry(stop=stop_after_attempt(3))
    machine.state("execute", execute, retry=retry, on_error="escalate")

and directly on a ``StateGraph``::

    builder.add_node("charge", charge, retry_policy=retry.as_retry_policy(),
                     error_handler=error_router({CircuitOpenError: "degrade",
                                                 CompensationError: "escalate"},
                                                default="failed"))

Example:
    >>> from agentpatterns.errors import CircuitOpenError
    >>> handler = error_router({CircuitOpenError: "degrade"}, default="escalate")
    >>> handler.__agentpatterns__["error_routes"]
    {'CircuitOpenError': 'degrade', '*': 'escalate'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.errors import NodeError
from langgraph.types import Command

from agentpatterns.events import emit

__all__ = ["error_router"]


def error_router(
    routes: Mapping[type[BaseException], str],
    *,
    default: str = "failed",
    reason_key: str = "escalation_reason",
    error_key: str | None = "error",
) -> Any:
    """Make a LangGraph ``error_handler`` routing by exception type (first match in order).

    State:
        Writes ``reason_key`` (``"<node>: <ErrorType>: <message>"``) and ``error_key``
        (a dict with node, type, message; None: don't write).

    Args:
        routes: ``{exception type: target node}``; checked in order with ``isinstance``
            (the error's ``__cause__`` is checked too).
        default: Target for errors no route matches.
        reason_key: State key for the human-readable reason.
        error_key: State key for the structured error.
    """
    table = tuple(routes.items())

    def route(state: Any, error: NodeError) -> Command[Any]:
        exc = error.error
        chain = [exc, exc.__cause__] if exc.__cause__ is not None else [exc]
        target = next(
            (dst for kind, dst in table if any(isinstance(e, kind) for e in chain)), default
        )
        reason = f"{error.node}: {type(exc).__name__}: {exc}"
        emit("node_error", node=error.node, error_type=type(exc).__name__, routed_to=target)
        update: dict[str, Any] = {reason_key: reason}
        if error_key:
            update[error_key] = {
                "node": error.node,
                "type": type(exc).__name__,
                "message": str(exc),
            }
        return Command(goto=target, update=update)

    route.__agentpatterns__ = {  # type: ignore[attr-defined]
        "error_routes": {**{k.__name__: v for k, v in table}, "*": default}
    }
    return route
