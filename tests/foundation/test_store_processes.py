"""Several processes share one SQLite checkpoint file; the PostgreSQL test server cleans up."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from agentpatterns.checkpoint import open_checkpointer
from agentpatterns.testing.postgres import PostgresServer, postgres_available

WORKER = textwrap.dedent(
    """
    import sys
    from typing import TypedDict
    from langgraph.graph import END, START, StateGraph
    from agentpatterns.checkpoint import open_checkpointer

    class S(TypedDict):
        n: int

    builder = StateGraph(S)
    builder.add_node("inc", lambda s: {"n": s["n"] + 1})
    builder.add_edge(START, "inc")
    builder.add_edge("inc", END)
    url, worker = sys.argv[1], sys.argv[2]
    with open_checkpointer(url) as saver:
        app = builder.compile(checkpointer=saver)
        for i in range(40):
            app.invoke({"n": i}, {"configurable": {"thread_id": f"{worker}-{i}"}})
    """
)


def test_four_processes_write_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), url, f"w{k}"], stderr=subprocess.PIPE, text=True
        )
        for k in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    with open_checkpointer(url) as saver:
        threads = {c.config["configurable"]["thread_id"] for c in saver.list(None)}
    assert len(threads) == 160


def test_postgres_server_removes_its_folder() -> None:
    if not postgres_available():
        import pytest

        pytest.skip("PostgreSQL binaries not found")
    server = PostgresServer()
    with server:
        assert server.root.exists()
        with open_checkpointer(server.url) as saver:
            assert saver.get_tuple({"configurable": {"thread_id": "none"}}) is None
    assert not server.root.exists()
