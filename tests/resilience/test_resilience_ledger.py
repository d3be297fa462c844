"""EffectLedger on memory, SQLite and PostgreSQL: once per key, in-doubt claims, reconcile."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from pydantic import BaseModel

from agentpatterns.errors import EffectInDoubtError
from agentpatterns.events import Event, listen
from agentpatterns.resilience import EffectLedger
from agentpatterns.resilience._ledger_store import EffectRecord


@pytest.fixture
def ledger(store_url: str) -> Any:
    with EffectLedger(store_url, stale_after=1.0, wait_timeout=10) as led:
        yield led


def test_runs_once_and_returns_stored_result(ledger: EffectLedger) -> None:
    ran: list[int] = []

    def charge() -> dict[str, Any]:
        ran.append(1)
        return {"charge_id": "c1", "amount": 30}

    results = [
        ledger.run_once("t1::call_1", charge, tool="charge", args={"amount": 30}, thread_id="t1")
        for _ in range(3)
    ]
    assert ran == [1] and results == [{"charge_id": "c1", "amount": 30}] * 3
    effect = ledger.get("t1::call_1")
    assert effect is not None and effect.status == "done" and effect.args == {"amount": 30}
    assert [e.key for e in ledger.effects("t1")] == ["t1::call_1"]


def test_failure_releases_claim_for_a_rerun(ledger: EffectLedger) -> None:
    def boom() -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        ledger.run_once("k", boom, tool="t", args={})
    rec = ledger.get("k")
    assert rec is not None and rec.status == "failed"
    assert ledger.run_once("k", lambda: 5, tool="t", args={}) == 5
    assert ledger.run_once("k", lambda: 6, tool="t", args={}) == 5


def test_results_serialise_models_and_messages(ledger: EffectLedger) -> None:
    class Receipt(BaseModel):
        id: str
        total: float

    assert ledger.run_once("m", lambda: Receipt(id="r", total=1.5), tool="t", args={}) == Receipt(
        id="r", total=1.5
    )
    assert ledger.run_once("m", lambda: None, tool="t", args={}) == {"id": "r", "total": 1.5}
    msg = ToolMessage("sent", tool_call_id="c9")
    ledger.run_once("msg", lambda: msg, tool="t", args={})
    again = ledger.run_once("msg", lambda: None, tool="t", args={})
    assert isinstance(again, ToolMessage) and again.content == "sent"


def test_concurrent_threads_run_once(ledger: EffectLedger) -> None:
    ran: list[int] = []
    barrier = threading.Barrier(8)
    out: list[Any] = []

    def effect() -> str:
        ran.append(1)
        time.sleep(0.05)
        return "done"

    def worker() -> None:
        barrier.wait()
        out.append(ledger.run_once("race", effect, tool="t", args={}))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ran == [1] and out == ["done"] * 8


def _plant_crashed_claim(ledger: EffectLedger, key: str) -> None:
    """A claim left by a process that no longer exists."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(proc.stdout)
    import socket

    now = time.time()
    owner = f"{socket.gethostname()}|{dead_pid}|deadbeef"
    ledger._store.claim(
        EffectRecord(
            key,
            0,
            "t9",
            "ship",
            '{"order": 1}',
            "claimed",
            None,
            owner,
            now,
            now,
            None,
            None,
            False,
        )
    )


def test_crashed_claim_without_reconcile_is_in_doubt(ledger: EffectLedger) -> None:
    if ledger.url == "memory:":
        pytest.skip("a memory ledger dies with its process")
    _plant_crashed_claim(ledger, "crashed")
    events: list[Event] = []
    ran: list[int] = []
    with listen(events.append):
        for _ in range(2):  # never silently re-run, also not the second time
            with pytest.raises(EffectInDoubtError):
                ledger.run_once("crashed", lambda: ran.append(1), tool="ship", args={"order": 1})
    assert ran == [] and [e.kind for e in events] == ["effect_in_doubt"] * 2
    ledger.resolve("crashed", result={"shipped": True})
    assert ledger.run_once("crashed", lambda: ran.append(1), tool="ship", args={"order": 1}) == {
        "shipped": True
    }


@pytest.mark.parametrize("happened", [True, False])
def test_crashed_claim_resolved_by_reconcile(ledger: EffectLedger, happened: bool) -> None:
    if ledger.url == "memory:":
        pytest.skip("a memory ledger dies with its process")
    _plant_crashed_claim(ledger, "crashed")
    seen: list[dict[str, Any]] = []

    def reconcile(args: dict[str, Any]) -> Any:
        seen.append(args)
        return {"shipped": "earlier"} if happened else None

    result = ledger.run_once(
        "crashed", lambda: {"shipped": "now"}, tool="ship", args={"order": 1}, reconcile=reconcile
    )
    assert seen == [{"order": 1}]
    assert result == {"shipped": "earlier" if happened else "now"}
    assert ledger.get("crashed").status == "done"  # type: ignore[union-attr]


def test_stale_heartbeat_from_other_host_is_in_doubt(ledger: EffectLedger) -> None:
    if ledger.url == "memory:":
        pytest.skip("a memory ledger dies with its process")
    old = time.time() - 60
    ledger._store.claim(
        EffectRecord(
            "remote",
            0,
            None,
            "t",
            "{}",
            "claimed",
            None,
            "otherhost|1|x",
            old,
            old,
            None,
            None,
            False,
        )
    )
    with pytest.raises(EffectInDoubtError):
        ledger.run_once("remote", lambda: 1, tool="t", args={})


async def test_arun_once_does_not_block_and_runs_once(ledger: EffectLedger) -> None:
    ran: list[int] = []

    async def effect() -> str:
        ran.append(1)
        await asyncio.sleep(0.02)
        return "ok"

    results = await asyncio.gather(
        *(ledger.arun_once("a", effect, tool="t", args={}) for _ in range(5))
    )
    assert results == ["ok"] * 5 and ran == [1]


def test_compensated_effect_may_run_again(ledger: EffectLedger) -> None:
    ledger.run_once("c", lambda: 1, tool="t", args={}, thread_id="th")
    ledger.mark_compensated("c")
    assert ledger.get("c").compensated  # type: ignore[union-attr]
    assert ledger.run_once("c", lambda: 2, tool="t", args={}, thread_id="th") == 2
    assert os.getpid() > 0


def test_failed_call_that_took_effect_is_reconciled_not_rerun(ledger: EffectLedger) -> None:
    writes: list[int] = []

    def write_then_lose_response() -> None:
        writes.append(1)
        raise ConnectionError("reset after commit")

    with pytest.raises(ConnectionError):
        ledger.run_once("w", write_then_lose_response, tool="t", args={"n": 1})
    result = ledger.run_once(
        "w",
        lambda: writes.append(2),
        tool="t",
        args={"n": 1},
        reconcile=lambda args: {"found": len(writes)} if writes else None,
    )
    assert writes == [1] and result == {"found": 1}
    assert ledger.get("w").status == "done"  # type: ignore[union-attr]
