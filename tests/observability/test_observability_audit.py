"""AuditLog on SQLite and PostgreSQL: exact query results, durability on close, retention."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import interrupt

from agentpatterns.errors import AuditError, ConfigurationError
from agentpatterns.observability import AuditLog, Observability


def seed(log: AuditLog) -> None:
    base = 1_000_000.0
    for i in range(60):
        log.record(
            "node" if i % 3 else "tool",
            run_id=f"run-{i % 4}",
            thread_id=f"th-{i % 2}",
            node=f"n{i % 5}",
            tool="lookup" if i % 3 == 0 else None,
            status="error" if i % 10 == 0 else "ok",
            step=i,
            data={"i": i},
            ts=base + i,
        )


def test_queries_return_exactly_the_right_records(durable_store_url: str) -> None:
    with AuditLog(durable_store_url) as log:
        seed(log)
        every = log.query(limit=None)
        assert [r.data["i"] for r in every] == list(range(60))

        def ids(**filters: Any) -> list[int]:
            return [r.data["i"] for r in log.query(limit=None, **filters)]

        assert ids(thread_id="th-1") == [i for i in range(60) if i % 2 == 1]
        assert ids(run_id="run-3") == [i for i in range(60) if i % 4 == 3]
        assert ids(node="n2", thread_id="th-0") == [
            i for i in range(60) if i % 5 == 2 and i % 2 == 0
        ]
        assert ids(tool="lookup") == [i for i in range(60) if i % 3 == 0]
        assert ids(kind="tool") == ids(tool="lookup")
        assert ids(status="error") == [0, 10, 20, 30, 40, 50]
        assert ids(status="ok", kind="tool") == [i for i in range(60) if i % 3 == 0 and i % 10]
        assert ids(since=1_000_010.0, until=1_000_013.0) == [10, 11, 12]
        assert [r.data["i"] for r in log.query(thread_id="th-0", limit=3)] == [0, 2, 4]
        newest = log.query(thread_id="th-0", limit=2, newest_first=True)
        assert [r.data["i"] for r in newest] == [58, 56]
        assert ids(thread_id="nope") == []
        row = log.query(run_id="run-1", limit=1)[0]
        assert (row.kind, row.thread_id, row.node, row.tool, row.step) == (
            "node",
            "th-1",
            "n1",
            None,
            1,
        )
        assert log.count() == 60


def test_graph_run_is_fully_audited(durable_store_url: str) -> None:
    class S(TypedDict, total=False):
        x: int

    def ask(state: S) -> dict[str, Any]:
        return {"x": int(interrupt("how many?"))}

    b = StateGraph(S)
    b.add_node("inc", lambda s: {"x": s["x"] + 1})
    b.add_node("ask", ask)
    b.add_edge(START, "inc")
    b.add_edge("inc", "ask")
    with AuditLog(durable_store_url) as log:
        obs = Observability(audit=log)
        graph = obs.instrument(b).compile(checkpointer=InMemorySaver(), name="g")
        cfg = {"configurable": {"thread_id": "th-audit"}}
        graph.invoke({"x": 1}, cfg)
        from langgraph.types import Command

        graph.invoke(Command(resume="5"), cfg)
        rows = log.query(thread_id="th-audit", limit=None)
        summary = [(r.kind, r.node, r.status) for r in rows]
        assert summary == [
            ("input", None, "ok"),
            ("node", "inc", "ok"),
            ("node", "ask", "interrupted"),
            ("output", None, "interrupted"),
            ("input", None, "ok"),
            ("node", "ask", "ok"),
            ("output", None, "ok"),
        ]
        assert rows[0].data == {"x": 1}
        assert rows[1].data == {"x": 2} and rows[1].step == 1 and rows[1].attempt == 1
        assert rows[-1].data == {"x": 5}
        assert len({r.run_id for r in rows[:4]}) == 1 and rows[0].run_id != rows[4].run_id
        assert all(r.error_type is None for r in rows)  # an interrupt is not an error
        obs.close()


def test_nothing_lost_on_close_and_reopen(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    log = AuditLog(url, flush_interval=5.0, batch_size=10_000)
    for i in range(5000):
        log.record("node", run_id="r", thread_id="t", data={"i": i})
    log.close()
    with pytest.raises(AuditError):
        log.record("node", run_id="r")
    with AuditLog(url) as again:
        assert again.count() == 5000


def test_nothing_lost_at_interpreter_exit(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'exit.db'}"
    code = (
        "from agentpatterns.observability import AuditLog\n"
        f"log = AuditLog({url!r}, flush_interval=30.0, batch_size=100000)\n"
        "for i in range(3000):\n"
        "    log.record('node', run_id='r', data={'i': i})\n"
    )  # never closes: the atexit hook must drain the queue
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    with AuditLog(url) as log:
        assert log.count() == 3000


def test_retention_and_append_only(durable_store_url: str) -> None:
    with AuditLog(durable_store_url) as log:
        now = time.time()
        for i in range(10):
            log.record("node", run_id="r", ts=now - (10 - i) * 86400.0, data={"i": i})
        assert log.retain(days=3.5) == 7
        assert [r.data["i"] for r in log.query(limit=None)] == [7, 8, 9]
        assert log.retain(max_records=1) == 2
        assert [r.data["i"] for r in log.query(limit=None)] == [9]
        with pytest.raises(ConfigurationError):
            log.retain()
        store: Any = log._store
        with pytest.raises(Exception, match="append-only"):
            if hasattr(store, "conn"):
                store.conn.execute(f"UPDATE {store.table} SET status = 'x'")
            else:
                with store.pool.connection() as conn:
                    conn.execute(f"UPDATE {store.table} SET status = 'x'")


def test_bad_table_name_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        AuditLog("memory:", table="x; drop table y")
