"""Where the τ²-bench retail data lives, and its tasks.

The data folder is ``<repo>/../shared/data/tau2-retail`` (next to the repository), or the
folder named by the environment variable ``AGENTPATTERNS_TAU2_DIR``. It is read only: stores
copy ``db.json`` into their own SQLite file.

Example:
    >>> from tools.retail.data import load_tasks, split_ids
    >>> len(load_tasks()), len(split_ids("test"))
    (114, 40)
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any, Literal

from agentpatterns.errors import ConfigurationError

__all__ = ["ENV_VAR", "Split", "data_dir", "load_tasks", "split_ids", "task_actions"]

ENV_VAR = "AGENTPATTERNS_TAU2_DIR"
Split = Literal["train", "test", "base"]
_REPO = Path(__file__).resolve().parents[2]
_FILES = ("db.json", "tasks.json", "split_tasks.json")


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The τ² retail data folder, checked.

    Args:
        override: A folder to use instead of the environment variable and the default.

    Raises:
        ConfigurationError: the folder or one of its files is missing (says where it looked).
    """
    if override is not None:
        folder, how = Path(override), "the argument"
    elif os.environ.get(ENV_VAR):
        folder, how = Path(os.environ[ENV_VAR]), f"${ENV_VAR}"
    else:
        folder, how = _REPO.parent / "shared" / "data" / "tau2-retail", "the default location"
    missing = [name for name in _FILES if not (folder / name).is_file()]
    if missing:
        raise ConfigurationError(
            f"τ²-bench retail data not found: {folder} (from {how}) lacks {', '.join(missing)}. "
            f"Put the tau2-retail folder at {_REPO.parent / 'shared' / 'data' / 'tau2-retail'} "
            f"or set {ENV_VAR} to it."
        )
    return folder


@cache
def _tasks(folder: Path) -> tuple[dict[str, Any], ...]:
    return tuple(json.loads((folder / "tasks.json").read_text(encoding="utf-8")))


@cache
def _splits(folder: Path) -> dict[str, list[str]]:
    return json.loads((folder / "split_tasks.json").read_text(encoding="utf-8"))


def split_ids(split: Split, *, data: str | os.PathLike[str] | None = None) -> list[str]:
    """Task ids of a split: ``train`` (74), ``test`` (40) or ``base`` (all 114).

    Raises:
        ConfigurationError: unknown split name.
    """
    splits = _splits(data_dir(data))
    if split not in splits:
        raise ConfigurationError(f"unknown split {split!r}; accepted: {sorted(splits)}")
    return list(splits[split])


def load_tasks(
    split: Split | None = None, *, data: str | os.PathLike[str] | None = None
) -> list[dict[str, Any]]:
    """The τ² retail tasks (dicts as in ``tasks.json``), all or those of one split.

    Each task's ``evaluation_criteria.actions`` is the ground-truth list of tool calls
    (``name``, ``arguments``, ``action_id``).
    """
    tasks = _tasks(data_dir(data))
    if split is None:
        return [dict(t) for t in tasks]
    wanted = set(split_ids(split, data=data))
    return [dict(t) for t in tasks if t["id"] in wanted]


def task_actions(task: dict[str, Any]) -> list[dict[str, Any]]:
    """The ground-truth actions of a task (possibly empty)."""
    criteria = task.get("evaluation_criteria") or {}
    return list(criteria.get("actions") or [])
