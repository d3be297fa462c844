"""Fixtures for the tool-pack tests: τ² data (skip when absent), fresh stores, data finders."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentpatterns.errors import ConfigurationError


def effect_config(key: str) -> dict[str, Any]:
    """A run config carrying the executor's effect key, as the tool executor sets it."""
    return {"configurable": {"agentpatterns_effect_key": key}}


@pytest.fixture(scope="session")
def tau2_dir() -> Path:
    from tools.retail.data import data_dir

    try:
        return data_dir()
    except ConfigurationError as exc:
        pytest.skip(f"τ² retail data absent: {exc}")


@pytest.fixture(scope="session")
def db(tau2_dir: Path) -> dict[str, Any]:
    """db.json as loaded (read only: deep-copy before changing)."""
    return json.loads((tau2_dir / "db.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def replays(tau2_dir: Path) -> list[Any]:
    """The fault-free replay of every task (``tools.retail.replay``), computed once."""
    from tools.retail import load_tasks, replay

    return [replay(task) for task in load_tasks()]


@pytest.fixture
def store(tau2_dir: Path, tmp_path: Path) -> Iterator[Any]:
    """A fresh retail store in its own SQLite file (a copy of the session template)."""
    from tools.retail import RetailStore

    with RetailStore(tmp_path / "retail.db") as s:
        yield s


@pytest.fixture
def rtools(store: Any) -> dict[str, Any]:
    """The 16 retail tools bound to ``store``, by name."""
    from tools.retail import tools

    return {t.name: t for t in tools(store)}


class Finder:
    """Look up db.json records that satisfy a condition (first in file order)."""

    def __init__(self, db: dict[str, Any]) -> None:
        self.db = db

    def source(self, order: dict[str, Any], index: int = 0) -> str:
        user = self.db["users"][order["user_id"]]
        return user["payment_methods"][order["payment_history"][index]["payment_method_id"]][
            "source"
        ]

    def order(self, pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        for order in self.db["orders"].values():
            if pred(order):
                return json.loads(json.dumps(order))
        raise LookupError("no order matches")

    def paid_by(self, status: str, source: str, **more: Any) -> dict[str, Any]:
        extra: Callable[[dict[str, Any]], bool] = more.get("pred", lambda o: True)
        return self.order(
            lambda o: (
                o["status"] == status
                and len(o["payment_history"]) == 1
                and self.source(o) == source
                and extra(o)
            )
        )

    def user(self, order: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(self.db["users"][order["user_id"]]))

    def methods(self, order: dict[str, Any], source: str) -> list[dict[str, Any]]:
        return [m for m in self.user(order)["payment_methods"].values() if m["source"] == source]

    def product(self, product_id: str) -> dict[str, Any]:
        return self.db["products"][product_id]


@pytest.fixture(scope="session")
def find(db: dict[str, Any]) -> Finder:
    return Finder(db)
