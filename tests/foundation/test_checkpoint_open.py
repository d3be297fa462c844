"""open_checkpointer on every backend, its bad-input errors, size and retention."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph

from agentpatterns.checkpoint import (
    acheckpoint_size,
    akeep_last,
    checkpoint_size,
    keep_last,
    open_checkpointer,
)
from agentpatterns.errors import (
    AgentPatternsError,
    ConfigurationError,
    StoreUnavailableError,
    UnsupportedURLError,
)


class Counter(TypedDict):
    n: int
    blob: str


def _graph() -> StateGraph[Counter]:
    builder = StateGraph(Counter)
    builder.add_node("a", lambda s: {"n": s["n"] + 1})
    builder.add_node("b", lambda s: {"n": s["n"] + 1, "blob": "x" * 500})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", END)
    return builder


def _cfg(thread: str) -> Any:
    return {"configurable": {"thread_id": thread}}


def test_every_backend_persists_and_resumes(checkpointer: Any) -> None:
    app = _graph().compile(checkpointer=checkpointer)
    assert app.invoke({"n": 0, "blob": ""}, _cfg("t1"))["n"] == 2
    assert app.get_state(_cfg("t1")).values["n"] == 2
    assert app.get_state(_cfg("other")).values == {}


def test_size_and_retention_on_every_backend(checkpointer: Any) -> None:
    app = _graph().compile(checkpointer=checkpointer)
    for _ in range(4):
        app.invoke({"n": 0, "blob": ""}, _cfg("t"))
    app.invoke({"n": 0, "blob": ""}, _cfg("keep-me"))
    before = len(list(checkpointer.list(_cfg("t"))))
    assert before == 16  # 4 runs x (input + a + b + start marker)
    size = checkpoint_size(checkpointer, "t")
    assert 500 < size < 5000  # the 500-byte blob is in the latest state
    assert checkpoint_size(checkpointer, "no-such-thread") == 0

    removed = keep_last(checkpointer, "t", 3)
    assert removed == before - 3
    kept = list(checkpointer.list(_cfg("t")))
    assert len(kept) == 3
    # latest state still loads in full, other threads untouched
    assert app.get_state(_cfg("t")).values["n"] == 2
    assert checkpoint_size(checkpointer, "t") == size
    assert len(list(checkpointer.list(_cfg("keep-me")))) == 4
    # the thread keeps working after pruning
    assert app.invoke({"n": 5, "blob": ""}, _cfg("t"))["n"] == 7


def test_keep_last_rejects_non_positive(checkpointer: Any) -> None:
    with pytest.raises(ConfigurationError):
        keep_last(checkpointer, "t", 0)


async def test_async_forms_on_every_backend(acheckpointer: Any) -> None:
    app = _graph().compile(checkpointer=acheckpointer)
    for _ in range(3):
        out = await app.ainvoke({"n": 1, "blob": ""}, _cfg("a"))
    assert out["n"] == 3
    assert await acheckpoint_size(acheckpointer, "a") > 500
    removed = await akeep_last(acheckpointer, "a", 2)
    assert removed == 10
    assert len([c async for c in acheckpointer.alist(_cfg("a"))]) == 2
    assert (await app.aget_state(_cfg("a"))).values["n"] == 3


def test_sqlite_is_wal_and_shared_between_connections(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    with open_checkpointer(url) as one, open_checkpointer(url) as two:
        _graph().compile(checkpointer=one).invoke({"n": 0, "blob": ""}, _cfg("x"))
        assert _graph().compile(checkpointer=two).get_state(_cfg("x")).values["n"] == 2
    mode = sqlite3.connect(tmp_path / "runs.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_sqlite_many_threads_write_concurrently(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with open_checkpointer(f"sqlite:///{tmp_path / 'c.db'}") as saver:
        app = _graph().compile(checkpointer=saver)
        with ThreadPoolExecutor(8) as pool:
            results = list(
                pool.map(lambda i: app.invoke({"n": i, "blob": ""}, _cfg(f"t{i}"))["n"], range(32))
            )
    assert results == [i + 2 for i in range(32)]


@pytest.mark.parametrize(
    ("url", "error", "words"),
    [
        ("redis://localhost", UnsupportedURLError, "accepted"),
        ("mysql://x", UnsupportedURLError, "sqlite:///"),
        ("not a url", UnsupportedURLError, "malformed"),
        ("", ConfigurationError, "empty"),
        ("sqlite://", ConfigurationError, "three slashes"),
        ("sqlite://relative.db", ConfigurationError, "three slashes"),
        ("postgresql://host:notaport/db", ConfigurationError, "malformed"),
        ("postgresql:///db", ConfigurationError, "no host"),
    ],
)
def test_bad_urls_are_typed_errors(url: str, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words) as info:
        open_checkpointer(url)
    assert isinstance(info.value, AgentPatternsError)
    assert isinstance(info.value, ValueError)  # configuration errors are ValueErrors too


def test_sqlite_missing_folder_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "runs.db"
    with (
        pytest.raises(StoreUnavailableError, match="does not exist"),
        open_checkpointer(f"sqlite:///{target}"),
    ):
        pass
    assert not (tmp_path / "missing").exists()


def test_corrupt_sqlite_file(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.db"
    bad.write_bytes(b"this is not a database at all" * 200)
    with (
        pytest.raises(StoreUnavailableError, match="not a usable SQLite"),
        open_checkpointer(f"sqlite:///{bad}"),
    ):
        pass
    with pytest.raises(StoreUnavailableError):
        asyncio.run(_aopen(f"sqlite:///{bad}"))
    assert bad.read_bytes().startswith(b"this is not")  # untouched


async def _aopen(url: str) -> None:
    async with open_checkpointer(url):
        pass


def test_sqlite_url_naming_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="folder"):
        open_checkpointer(f"sqlite:///{tmp_path}")


def test_unreachable_postgres_fails_fast() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with (
        pytest.raises(StoreUnavailableError, match="unreachable or refused"),
        open_checkpointer(f"postgresql://postgres@127.0.0.1:{port}/postgres"),
    ):
        pass
    assert time.monotonic() - started < 15


def test_postgres_refusing_wrong_database(postgres_server: Any) -> None:
    url = postgres_server.url.rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(StoreUnavailableError), open_checkpointer(url):
        pass


def test_password_not_echoed_in_errors() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        pytest.raises(StoreUnavailableError) as info,
        open_checkpointer(f"postgresql://u:hunter2@127.0.0.1:{port}/db"),
    ):
        pass
    assert "hunter2" not in str(info.value)
