"""τ²-bench retail store as LangChain tools over SQLite (see ``tools.retail.toolkit``)."""

from tools.retail.data import ENV_VAR, data_dir, load_tasks, split_ids, task_actions
from tools.retail.store import RetailError, RetailStore
from tools.retail.toolkit import (
    READ_TOOLS,
    WRITE_TOOLS,
    ReplayResult,
    compensation,
    current_effect_key,
    reconciler,
    register_retail_tools,
    replay,
    tools,
)

__all__ = [
    "ENV_VAR",
    "READ_TOOLS",
    "WRITE_TOOLS",
    "ReplayResult",
    "RetailError",
    "RetailStore",
    "compensation",
    "current_effect_key",
    "data_dir",
    "load_tasks",
    "reconciler",
    "register_retail_tools",
    "replay",
    "split_ids",
    "task_actions",
    "tools",
]
