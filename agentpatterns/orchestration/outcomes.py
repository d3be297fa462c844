"""Outcome records: what a tool call ended as, in plain JSON-like dicts.

An outcome is ``{"id", "name", "ok", "content", "output", "error_type", "error", "attempts",
"elapsed_ms"}``: ``content`` is what goes into the ``ToolMessage`` (the output as text, or
``"<ErrorType>: <message>"``; a tool's own exception reads ``"ToolExecutionError: <type>:
<message>"``), ``output`` the JSON-able output for custom merges. Outcomes live in graph
state, so they hold only checkpoint-serialisable values.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from agentpatterns import events
from agentpatterns.errors import AgentPatternsError

__all__ = ["RECORD_KEYS", "error_outcome", "ok_outcome", "record"]

#: Keys of the per-call record appended to ``tool_results``.
RECORD_KEYS = ("id", "name", "ok", "error_type", "error", "attempts", "elapsed_ms")


def record(outcome: dict[str, Any]) -> dict[str, Any]:
    """The ``tool_results`` record of an outcome (no content or output)."""
    return {k: outcome[k] for k in RECORD_KEYS}


def _jsonable(output: Any) -> Any:
    if output is None or isinstance(output, str | int | float | bool | dict | list):
        return output
    if isinstance(output, BaseModel):
        return output.model_dump(mode="json")
    return str(output)


def _content(output: Any) -> Any:
    if isinstance(output, str):
        return output
    if (
        isinstance(output, list)
        and output
        and all(isinstance(x, dict) and "type" in x for x in output)
    ):
        return output
    if isinstance(output, BaseModel):
        return output.model_dump_json()
    try:
        return json.dumps(output, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(output)


def ok_outcome(
    call_id: str, name: str, output: Any, attempts: int, elapsed: float
) -> dict[str, Any]:
    """The outcome record of a successful call."""
    return {
        "id": call_id,
        "name": name,
        "ok": True,
        "content": _content(output),
        "output": _jsonable(output),
        "error_type": None,
        "error": None,
        "attempts": attempts,
        "elapsed_ms": round(elapsed * 1000.0, 3),
    }


def error_outcome(
    call_id: str,
    name: str,
    exc: BaseException | None,
    attempts: int,
    elapsed: float,
    *,
    error_type: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """The outcome record of a failed or refused call (content names the error type)."""
    if exc is not None:
        error_type = type(exc).__name__
        message = str(exc)
        if isinstance(exc, AgentPatternsError):
            content = f"{error_type}: {message}"
        else:
            content = f"ToolExecutionError: {error_type}: {message}"
    else:
        content = f"{error_type}: {message}"
    events.emit("tool_error", tool=name, error_type=error_type)
    return {
        "id": call_id,
        "name": name,
        "ok": False,
        "content": content,
        "output": None,
        "error_type": error_type,
        "error": message,
        "attempts": attempts,
        "elapsed_ms": round(elapsed * 1000.0, 3),
    }
