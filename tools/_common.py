"""Helpers shared by the tool packs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from langchain_core.runnables.config import ensure_config
from langchain_core.tools import StructuredTool
from pydantic import BaseModel

__all__ = ["current_effect_key", "pack_tool", "result_id"]


def current_effect_key() -> str | None:
    """The executor's idempotency key for the running tool call, if any.

    The tool executor puts it in ``config["configurable"]["agentpatterns_effect_key"]`` of
    the config it passes to ``tool.invoke``; LangChain makes that config current while the
    tool runs.
    """
    configurable = ensure_config().get("configurable") or {}
    key = configurable.get("agentpatterns_effect_key")
    return None if key is None else str(key)


def pack_tool(
    fn: Callable[..., Any],
    args_schema: type[BaseModel],
    description: str,
    *,
    pack: str,
    side_effect: bool,
    name: str | None = None,
    **metadata: Any,
) -> StructuredTool:
    """A ``StructuredTool`` over ``fn`` (named ``name`` or ``fn.__name__``) with pack metadata.

    ``tool.metadata`` is ``{"side_effect": ..., "pack": ..., **metadata}``.
    """
    tool = StructuredTool.from_function(
        func=fn, name=name or fn.__name__, args_schema=args_schema, description=description
    )
    tool.metadata = {"side_effect": side_effect, "pack": pack, **metadata}
    return tool


def result_id(
    result: Any,
    model: type[BaseModel],
    field: str,
    error: type[Exception],
    *,
    plain_string: bool = False,
) -> Any:
    """The id ``field`` of a tool result given to a compensation.

    ``result`` may be a ``model`` instance, a dict, or the JSON text of a dict (what a tool
    message holds). With ``plain_string`` a string that is not JSON is the id itself.

    Raises:
        error: no such id in ``result`` (``json.JSONDecodeError`` for text that is not JSON
            unless ``plain_string``).
    """
    if isinstance(result, model):
        return getattr(result, field)
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            if not plain_string:
                raise
            return result
    if isinstance(result, dict) and field in result:
        return result[field]
    label = field.replace("_", " ")
    raise error(f"cannot find a {label} in the result {result!r}")
