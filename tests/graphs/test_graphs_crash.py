"""Crash and resume: SIGKILL the process running a reference graph, resume in a new one.

A zygote (``graphs_crash_worker.py``) forks workers that run customer_service (τ² scripted
tasks) or order_processing on SQLite checkpoints, ledger and stores. Workers are killed
after seeded random delays (tool latency makes the kills land mid-run) or kill themselves
right after a write committed; a last worker resumes the thread. The final stores must equal
a fault-free run with every write applied exactly once.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import duplicate_writes

WORKER = Path(__file__).with_name("graphs_crash_worker.py")
LATENCY = {"latency": [0.03, 0.06]}


class Zygote:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.finished: dict[str, Any] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                msg = json.loads(line)
                if "finished" in msg:
                    self.finished[msg["finished"]] = msg["status"]
                else:
                    self.lines.put(msg)

    def _next(self, key: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            msg = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if key in msg:
                return msg
            if "exit" in msg:
                self.lines.put(msg)
                if key == "ready":
                    return msg

    def run(self, cmd: dict[str, Any], kill_after: float | None) -> int:
        """Run one command; SIGKILL its worker after ``kill_after`` s. Returns its status."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        (pid,) = self._next("pids")["pids"]
        if kill_after is not None:
            self._next("ready")
            time.sleep(kill_after)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return int(self._next("exit")["status"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _killed(status: int) -> bool:
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


@pytest.fixture(scope="module")
def zygote() -> Any:
    z = Zygote()
    yield z
    z.close()


def _until_done(
    zygote: Zygote, cmd: dict[str, Any], rng: random.Random, kills: int, max_delay: float
) -> int:
    """Kill up to ``kills`` runs at random points, then let one finish; count real kills."""
    killed = 0
    for _ in range(kills):
        if cmd["thread"] in zygote.finished:
            break
        status = zygote.run(cmd, kill_after=rng.uniform(0.0, max_delay))
        killed += _killed(status)
    if cmd["thread"] not in zygote.finished:
        assert zygote.run({**cmd, "faults": None}, kill_after=None) == 0
    return killed


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
    assert _killed(zygote.run(cmd, kill_after=None))
    with RetailStore(tmp_path / "retail.db") as store:
        assert len(store.write_log()) == 1  # the write committed, then the process died
    assert zygote.run({**cmd, "faults": None}, kill_after=None) == 0
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
    assert _killed(zygote.run(cmd, kill_after=None))
    assert zygote.run({**cmd, "faults": None}, kill_after=None) == 0
    assert zygote.finished["o"] == "done"
    gateway = PaymentGateway(str(tmp_path / "payments.db"))
    try:
        assert gateway.count("charges") == 1
        assert gateway.balance(DEMO_ORDER["payment_method_id"]) == 59.97
    finally:
        gateway.close()
