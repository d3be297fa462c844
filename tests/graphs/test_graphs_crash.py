"""Crash and resume: SIGKILL the process running a reference graph, resume in a new one.

A zygote (``graphs_crash_worker.py``) forks workers that run customer_service (τ² scripted
tasks) or order_processing on SQLite checkpoints, ledger and stores. Workers are killed
after seeded random delays (tool latency makes the kills land mid-run) or kill themselves
right after a write committed; a last worker resumes the thread. The final stores must equal
a fault-free run with every write applied exactly once.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from .._crash import Zygote, killed
from .conftest import duplicate_writes

WORKER = Path(__file__).with_name("graphs_crash_worker.py")
LATENCY = {"latency": [0.03, 0.06]}


@pytest.fixture(scope="module")
def zygote() -> Any:
    z = Zygote(WORKER)
    yield z
    z.close()


def _until_done(
    zygote: Zygote, cmd: dict[str, Any], rng: random.Random, kills: int, max_delay: float
) -> int:
    """Kill up to ``kills`` runs at random points, then let one finish; count real kills."""
    kills_done = 0
    for _ in range(kills):
        if cmd["thread"] in zygote.finished:
            break
        (status,) = zygote.run(cmd, kill_after=rng.uniform(0.0, max_delay))
        kills_done += killed(status)
    if cmd["thread"] not in zygote.finished:
        assert zygote.run({**cmd, "faults": None}, kill_after=None) == [0]
    return kills_done


@pytest.mark.usefixtures("tau2")
def test_customer_service_survives_sigkill(zygote: Zygote, tmp_path: Path) -> None:
    from tools.retail import WRITE_TOOLS, RetailStore, load_tasks, replay

    rng = random.Random(7)
    tasks = [
        t
        for t in load_tasks()
        if sum(a["name"] in WRITE_TOOLS for a in t["evaluation_criteria"]["actions"]) >= 2
    ]
    total_kills = 0
    for n, task in enumerate(rng.sample(tasks, 3)):
        folder = tmp_path / f"cs{n}"
        folder.mkdir()
        cmd = {
            "graph": "customer_service",
            "dir": str(folder),
            "thread": f"task-{task['id']}",
            "input": {"tau2_task": task["id"]},
            "faults": LATENCY,
        }
        total_kills += _until_done(zygote, cmd, rng, kills=3, max_delay=0.3)
        assert zygote.finished[cmd["thread"]] == "done"
        with RetailStore(folder / "retail.db") as store:
            assert store.state_hash() == replay(task).state_hash, task["id"]
            assert duplicate_writes(store.write_log()) == 0
    assert total_kills >= 5


@pytest.mark.usefixtures("tau2")
def test_customer_service_kill_right_after_a_write_committed(
    zygote: Zygote, tmp_path: Path
) -> None:
    from tools.retail import WRITE_TOOLS, RetailStore, load_tasks, replay

    task = next(t for t in load_tasks() if t["id"] == "0")
    write = next(
        a["name"] for a in task["evaluation_criteria"]["actions"] if a["name"] in WRITE_TOOLS
    )
    cmd = {
        "graph": "customer_service",
        "dir": str(tmp_path),
        "thread": "t0",
        "input": {"tau2_task": "0"},
        "faults": {"crash_rate": 1.0, "crash_point": "after", "tools": [write]},
    }
    (status,) = zygote.run(cmd, kill_after=None)
    assert killed(status)
    with RetailStore(tmp_path / "retail.db") as store:
        assert len(store.write_log()) == 1  # the write committed, then the process died
    assert zygote.run({**cmd, "faults": None}, kill_after=None) == [0]
    with RetailStore(tmp_path / "retail.db") as store:
        assert len(store.write_log()) == 1  # resumed: reconciled, not written again
        assert store.state_hash() == replay(task).state_hash


def test_order_processing_survives_sigkill(zygote: Zygote, tmp_path: Path) -> None:
    from graphs.order_processing import DEMO_ORDER, Inventory
    from tools.notifications import Outbox
    from tools.payments import PaymentGateway

    rng = random.Random(11)
    kills = 0
    for n in range(3):
        folder = tmp_path / f"op{n}"
        folder.mkdir()
        order = {**DEMO_ORDER, "order_id": f"O-{n}"}
        cmd = {
            "graph": "order_processing",
            "dir": str(folder),
            "thread": f"order-{n}",
            "input": {"order": order},
            "faults": {"latency": [0.08, 0.12]},
        }
        kills += _until_done(zygote, cmd, rng, kills=3, max_delay=0.3)
        assert zygote.finished[cmd["thread"]] == "done"
        gateway = PaymentGateway(str(folder / "payments.db"))
        inventory = Inventory(str(folder / "inventory.db"))
        outbox = Outbox(str(folder / "outbox.db"))
        try:
            assert gateway.count("charges") == 1 and gateway.count("write_log") == 1
            assert inventory.count("active") == 1 and inventory.count() == 1
            assert outbox.count() == 1
        finally:
            gateway.close()
            inventory.close()
            outbox.close()
    assert kills >= 5


def test_order_processing_kill_right_after_the_charge(zygote: Zygote, tmp_path: Path) -> None:
    from graphs.order_processing import DEMO_ORDER
    from tools.payments import PaymentGateway

    cmd = {
        "graph": "order_processing",
        "dir": str(tmp_path),
        "thread": "o",
        "input": {"order": DEMO_ORDER},
        "faults": {"crash_rate": 1.0, "crash_point": "after", "tools": ["charge_payment"]},
    }
    (status,) = zygote.run(cmd, kill_after=None)
    assert killed(status)
    assert zygote.run({**cmd, "faults": None}, kill_after=None) == [0]
    assert zygote.finished["o"] == "done"
    gateway = PaymentGateway(str(tmp_path / "payments.db"))
    try:
        assert gateway.count("charges") == 1
        assert gateway.balance(DEMO_ORDER["payment_method_id"]) == 59.97
    finally:
        gateway.close()
