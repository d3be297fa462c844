"""Fixtures for the reference-graph tests: τ² data (skip when absent), thread configs."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest

from agentpatterns.errors import ConfigurationError

_ids = itertools.count()

#: A customer of the τ² store with three pending orders and one delivered order.
SOFIA = {
    "email": "sofia.rossi2645@example.com",
    "user_id": "sofia_rossi_8776",
    "pending": ("#W5918442", "#W5500815", "#W2818151"),
    "delivered": "#W8535951",
}


@pytest.fixture(scope="session")
def tau2() -> None:
    from tools.retail.data import data_dir

    try:
        data_dir()
    except ConfigurationError as exc:
        pytest.skip(f"τ² retail data absent: {exc}")


@pytest.fixture
def cfg() -> dict[str, Any]:
    """A fresh thread config."""
    return {"configurable": {"thread_id": f"t{next(_ids)}"}}


def duplicate_writes(rows: list[dict[str, Any]]) -> int:
    """Live (not compensated) write-log rows sharing an effect key, beyond the first."""
    keys = Counter(r["effect_key"] for r in rows if not r["compensated"] and r["effect_key"])
    return sum(n - 1 for n in keys.values())
