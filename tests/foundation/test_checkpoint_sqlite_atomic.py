"""open_checkpointer's SQLite saver writes a task's writes in one transaction.

Found by bench_recovery (figure 8): with the connection in autocommit mode, SIGKILL between
the rows of one ``put_writes`` left e.g. ``x`` and ``transitions`` without the task's
``branch:to:...`` write; the resumed run took the task as finished and stopped with status
"running".
"""

from __future__ import annotations

from pathlib import Path

from agentpatterns.checkpoint import keep_last, open_checkpointer


def test_put_writes_is_one_transaction(tmp_path: Path) -> None:
    with open_checkpointer(f"sqlite:///{tmp_path / 'c.db'}") as saver:
        conn = saver.conn  # type: ignore[attr-defined]
        statements: list[str] = []
        conn.set_trace_callback(lambda q: statements.append(q.split()[0].upper()))
        config = {"configurable": {"thread_id": "t", "checkpoint_ns": "", "checkpoint_id": "1"}}
        saver.put_writes(config, [("x", 1), ("log", [1]), ("branch:to:b", None)], "task-1")
        conn.set_trace_callback(None)
        assert statements == ["BEGIN", "INSERT", "INSERT", "INSERT", "COMMIT"]
        assert len(list(saver.list({"configurable": {"thread_id": "t"}}))) == 0
        assert keep_last(saver, "t", 1) == 0  # explicit BEGIN IMMEDIATE still works
