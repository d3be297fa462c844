"""Helpers shared by the tool packs."""

from __future__ import annotations

from langchain_core.runnables.config import ensure_config

__all__ = ["current_effect_key"]


def current_effect_key() -> str | None:
    """The executor's idempotency key for the running tool call, if any.

    The tool executor puts it in ``config["configurable"]["agentpatterns_effect_key"]`` of
    the config it passes to ``tool.invoke``; LangChain makes that config current while the
    tool runs.
    """
    configurable = ensure_config().get("configurable") or {}
    key = configurable.get("agentpatterns_effect_key")
    return None if key is None else str(key)
