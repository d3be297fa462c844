"""Audit durability: a failing step's records are on disk before its error propagates, and
``AuditLog(durable=True)`` writes every node end, so a SIGKILL loses neither.

Every log here has ``flush_interval=60``: the background writer never runs during a test,
so whatever is in the database was written synchronously.
"""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.graph import START, StateGraph

from agentpatterns.observability import AuditLog, Observability


class S(TypedDict, total=False):
    x: int


def rows(db: Path) -> list[tuple[Any, ...]]:
    """(kind, node, tool, status) of every record, read with a separate connection."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT kind, node, tool, status FROM agentpatterns_audit ORDER BY ts, id"
        ).fetchall()
    finally:
        conn.close()


def stored(url: str) -> list[tuple[Any, ...]]:
    """Same as :func:`rows`, through a second log on the same database (any backend)."""
    with AuditLog(url) as reader:
        return [(r.kind, r.node, r.tool, r.status) for r in reader.query(limit=None)]


def lazy_log(url: str, **kwargs: Any) -> AuditLog:
    return AuditLog(url, flush_interval=60.0, **kwargs)


@tool
def charge(amount: int) -> str:
    """Charge the card."""
    raise ConnectionError("gateway down")


def test_node_error_is_written_before_it_leaves_the_node(durable_store_url: str) -> None:
    log = lazy_log(durable_store_url)
    obs = Observability(audit=log)
    seen: list[list[tuple[Any, ...]]] = []

    def boom(state: S) -> S:
        raise ValueError("bad input")

    sub = StateGraph(S)
    sub.add_node("ok", lambda s: {"x": 1})
    sub.add_node("boom", boom)
    sub.add_edge(START, "ok")
    sub.add_edge("ok", "boom")
    inner = obs.instrument(sub).compile(name="inner")

    def outer(state: S) -> S:
        try:
            inner.invoke(state)
        except ValueError:  # the run goes on: only the failing node's flush can have written
            seen.append(stored(durable_store_url))
        return {"x": 2}

    b = StateGraph(S)
    b.add_node("outer", outer)
    b.add_edge(START, "outer")
    obs.instrument(b).compile(name="g").invoke({"x": 0})
    assert seen == [
        [("input", None, None, "ok"), ("node", "ok", None, "ok"), ("node", "boom", None, "error")]
    ]
    log.close()


def test_tool_error_is_written_before_it_leaves_the_tool(durable_store_url: str) -> None:
    log = lazy_log(durable_store_url)
    seen: list[list[tuple[Any, ...]]] = []

    def pay(state: S, config: RunnableConfig) -> S:
        try:
            charge.invoke({"amount": 3}, config)
        except ConnectionError:
            seen.append(stored(durable_store_url))
        return {"x": 1}

    b = StateGraph(S)
    b.add_node("pay", pay)
    b.add_edge(START, "pay")
    Observability(audit=log).instrument(b).compile(name="g").invoke({"x": 0})
    assert seen == [[("input", None, None, "ok"), ("tool", "pay", "charge", "error")]]
    log.close()


async def test_async_run_error_is_written_before_it_propagates(durable_store_url: str) -> None:
    log = lazy_log(durable_store_url)

    async def boom(state: S) -> S:
        raise RuntimeError("model crashed")

    b = StateGraph(S)
    b.add_node("first", lambda s: {"x": 1})
    b.add_node("boom", boom)
    b.add_edge(START, "first")
    b.add_edge("first", "boom")
    graph = Observability(audit=log).instrument(b).compile(name="g")
    with pytest.raises(RuntimeError):
        await graph.ainvoke({"x": 0})
    assert stored(durable_store_url) == [
        ("input", None, None, "ok"),
        ("node", "first", None, "ok"),
        ("node", "boom", None, "error"),
        ("output", None, None, "error"),
    ]
    log.close()


def test_default_mode_keeps_successful_steps_off_the_hot_path(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    log = lazy_log(f"sqlite:///{db}")
    b = StateGraph(S)
    b.add_node("a", lambda s: {"x": 1})
    b.add_edge(START, "a")
    Observability(audit=log).instrument(b).compile(name="g").invoke({"x": 0})
    assert rows(db) == []  # queued only: the background writer will write them
    log.flush()
    assert [r[0] for r in rows(db)] == ["input", "node", "output"]
    log.close()


def test_write_now_waits_for_the_batch_the_writer_holds(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    log = AuditLog(f"sqlite:///{db}", flush_interval=0.0005, batch_size=7)
    for i in range(1, 1501):
        log.record("event", run_id="r", data={"i": i})
        if i % 100 == 0:
            log.write_now()  # the background writer is busy too: no row may be in flight
            assert len(rows(db)) >= i
    log.close()
    assert len(rows(db)) == 1500 and log.failed_batches == 0


# --- SIGKILL in a real subprocess -----------------------------------------------------------
CHILD = """
import sys, time
from typing import TypedDict
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.graph import START, StateGraph
from agentpatterns.observability import AuditLog, Observability

MODE, DB = sys.argv[1], sys.argv[2]
log = AuditLog("sqlite:///" + DB, flush_interval=60.0, durable=MODE == "durable")
obs = Observability(audit=log)

class S(TypedDict, total=False):
    x: int

@tool
def lookup(order: int) -> str:
    "Look an order up."
    return "pending"

def ready(state):
    print("READY", flush=True)
    time.sleep(600)  # killed here
    return {}

def read(state: S, config: RunnableConfig) -> S:
    lookup.invoke({"order": 7}, config)
    return {"x": 2}

def boom(state: S) -> S:
    raise ValueError("order 7 not found")

b = StateGraph(S)
b.add_node("a", lambda s: {"x": 1})
b.add_node("read", read)
b.add_edge(START, "a")
b.add_edge("a", "read")
if MODE == "fail":  # the failing step is a subgraph's node; the run is still going
    sub = StateGraph(S)
    sub.add_node("boom", boom)
    sub.add_edge(START, "boom")
    inner = obs.instrument(sub).compile(name="inner")
    def step(state: S) -> S:
        try:
            inner.invoke(state)
        except ValueError:
            ready(state)
        return {}
    b.add_node("step", step)
else:
    b.add_node("step", ready)
b.add_edge("read", "step")
obs.instrument(b).compile(name="g").invoke({"x": 0})
"""


def _run_and_kill(tmp_path: Path, mode: str) -> list[tuple[Any, ...]]:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    db = tmp_path / f"{mode}.db"
    child = subprocess.Popen(
        [sys.executable, str(script), mode, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + 90
        line = ""
        while time.monotonic() < deadline and child.poll() is None:
            if select.select([child.stdout], [], [], 0.5)[0]:
                line = child.stdout.readline()
                break
        assert line.strip() == "READY", (line, child.stderr.read() if child.stderr else "")
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    return rows(db)


def test_sigkill_right_after_a_node_failed_keeps_its_records(tmp_path: Path) -> None:
    assert _run_and_kill(tmp_path, "fail") == [
        ("input", None, None, "ok"),
        ("node", "a", None, "ok"),
        ("tool", "read", "lookup", "ok"),
        ("node", "read", None, "ok"),
        ("node", "boom", None, "error"),
    ]


def test_sigkill_in_durable_mode_keeps_every_finished_step(tmp_path: Path) -> None:
    assert _run_and_kill(tmp_path, "durable") == [
        ("input", None, None, "ok"),
        ("node", "a", None, "ok"),
        ("tool", "read", "lookup", "ok"),
        ("node", "read", None, "ok"),
    ]


def test_sigkill_in_default_mode_loses_the_queued_successful_steps(tmp_path: Path) -> None:
    # The documented trade-off of the default (what durable=True is for).
    assert _run_and_kill(tmp_path, "default") == []
