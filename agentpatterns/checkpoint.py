"""``open_checkpointer(url)``: LangGraph savers for memory, SQLite and PostgreSQL.

Plus two helpers that work on all three backends: :func:`checkpoint_size` (bytes of a
thread's latest checkpoint) and :func:`keep_last` (retention: keep the newest N checkpoints
of a thread, drop the rest with their writes and orphaned blobs).

Example:
    >>> from agentpatterns.checkpoint import open_checkpointer
    >>> with open_checkpointer("memory:") as saver:
    ...     type(saver).__name__
    'InMemorySaver'
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from agentpatterns._store import (
    apg_pool,
    parse_store_url,
    pg_pool,
    sqlite_connect,
    sqlite_transaction,
)
from agentpatterns.errors import CheckpointError, ConfigurationError, StoreUnavailableError

__all__ = [
    "acheckpoint_size",
    "akeep_last",
    "checkpoint_size",
    "keep_last",
    "open_checkpointer",
]


class open_checkpointer:
    """Open a LangGraph checkpointer for ``url``; use with ``with`` or ``async with``.

    ``with`` yields a sync saver (``InMemorySaver``, ``SqliteSaver``, ``PostgresSaver``) for
    ``graph.invoke``/``stream``; ``async with`` yields the async saver of the same backend for
    ``ainvoke``/``astream``. SQLite runs in WAL mode with a busy timeout, so several threads
    and processes can share one file. PostgreSQL uses a connection pool and creates its
    tables on first use.

    Args:
        url: ``memory:``, ``sqlite:///path.db`` or ``postgresql://user@host:port/db``.
        pool_size: Largest PostgreSQL pool size.

    Raises:
        UnsupportedURLError: unknown scheme. ConfigurationError: malformed URL.
        StoreUnavailableError: missing folder, corrupt file, unreachable server.

    Example:
        >>> with open_checkpointer("sqlite:///:memory:") as saver:
        ...     type(saver).__name__
        'SqliteSaver'
    """

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.store = parse_store_url(url)  # fail fast, before any with-block
        self.pool_size = pool_size
        self._sync: Any = None
        self._async: Any = None

    # sync -----------------------------------------------------------------------------
    def __enter__(self) -> BaseCheckpointSaver[Any]:
        self._sync = self._open_sync()
        return self._sync.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._sync.__exit__(*exc)

    @contextmanager
    def _open_sync_cm(self) -> Iterator[BaseCheckpointSaver[Any]]:
        store = self.store
        if store.kind == "memory":
            yield InMemorySaver()
        elif store.kind == "sqlite":
            from langgraph.checkpoint.sqlite import SqliteSaver

            conn = sqlite_connect(store.path)
            # SqliteSaver relies on the sqlite3 module's implicit BEGIN ... COMMIT to write a
            # task's writes atomically; in autocommit mode (sqlite_connect's default) a kill
            # between two rows leaves a partial write set, and a resume then takes the task as
            # finished without its routing write: the run silently stops.
            conn.isolation_level = "DEFERRED"
            try:
                saver = SqliteSaver(conn)
                saver.setup()
                yield saver
            finally:
                conn.close()
        else:
            from langgraph.checkpoint.postgres import PostgresSaver

            pool = pg_pool(store.conninfo, max_size=self.pool_size)
            try:
                saver = PostgresSaver(pool)  # pyright: ignore[reportArgumentType]
                saver.setup()
                yield saver
            finally:
                pool.close()

    def _open_sync(self) -> Any:
        return self._open_sync_cm()

    # async ----------------------------------------------------------------------------
    async def __aenter__(self) -> BaseCheckpointSaver[Any]:
        self._async = self._open_async_cm()
        return await self._async.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        await self._async.__aexit__(*exc)

    @asynccontextmanager
    async def _open_async_cm(self) -> AsyncIterator[BaseCheckpointSaver[Any]]:
        store = self.store
        if store.kind == "memory":
            yield InMemorySaver()
        elif store.kind == "sqlite":
            import aiosqlite
            from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

            sqlite_connect(store.path).close()  # same checks and WAL set-up as the sync form
            conn = await aiosqlite.connect(store.path, timeout=30.0)
            try:
                saver = AsyncSqliteSaver(conn)
                await saver.setup()
                yield saver
            finally:
                await conn.close()
        else:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

            pool = await apg_pool(store.conninfo, max_size=self.pool_size)
            try:
                saver = AsyncPostgresSaver(pool)  # pyright: ignore[reportArgumentType]
                await saver.setup()
                yield saver
            finally:
                await pool.close()


# --- size ---------------------------------------------------------------------------------
def _thread_config(thread_id: str, checkpoint_ns: str = "") -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}}


def _size_of(saver: BaseCheckpointSaver[Any], tup: Any) -> int:
    if tup is None:
        return 0
    try:
        _, body = saver.serde.dumps_typed(tup.checkpoint)
        _, meta = saver.serde.dumps_typed(tup.metadata)
    except Exception as exc:
        raise CheckpointError(f"cannot serialise checkpoint: {exc}", cause=exc) from exc
    return len(body) + len(meta)


def checkpoint_size(saver: BaseCheckpointSaver[Any], thread_id: str) -> int:
    """Bytes of the latest checkpoint of ``thread_id`` (state + metadata), 0 if none.

    Measured on the serialised checkpoint, so the figure is the same on every backend.
    """
    return _size_of(saver, saver.get_tuple(_thread_config(thread_id)))


async def acheckpoint_size(saver: BaseCheckpointSaver[Any], thread_id: str) -> int:
    """Async form of :func:`checkpoint_size` for async savers."""
    return _size_of(saver, await saver.aget_tuple(_thread_config(thread_id)))


# --- retention ----------------------------------------------------------------------------
_SQLITE_PRUNE = (
    """DELETE FROM writes WHERE thread_id = ? AND checkpoint_id NOT IN (
         SELECT checkpoint_id FROM checkpoints c WHERE c.thread_id = ?
           AND c.checkpoint_ns = writes.checkpoint_ns
         ORDER BY checkpoint_id DESC LIMIT ?)""",
    """DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id NOT IN (
         SELECT checkpoint_id FROM checkpoints c WHERE c.thread_id = ?
           AND c.checkpoint_ns = checkpoints.checkpoint_ns
         ORDER BY checkpoint_id DESC LIMIT ?)""",
)
_PG_PRUNE = (
    """DELETE FROM checkpoint_writes w WHERE thread_id = %(t)s AND checkpoint_id NOT IN (
         SELECT checkpoint_id FROM checkpoints c WHERE c.thread_id = %(t)s
           AND c.checkpoint_ns = w.checkpoint_ns ORDER BY checkpoint_id DESC LIMIT %(n)s)""",
    """DELETE FROM checkpoints k WHERE thread_id = %(t)s AND checkpoint_id NOT IN (
         SELECT checkpoint_id FROM checkpoints c WHERE c.thread_id = %(t)s
           AND c.checkpoint_ns = k.checkpoint_ns ORDER BY checkpoint_id DESC LIMIT %(n)s)""",
    # blobs are shared between checkpoints by channel version: drop only unreferenced ones
    """DELETE FROM checkpoint_blobs b WHERE thread_id = %(t)s AND NOT EXISTS (
         SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id
           AND c.checkpoint_ns = b.checkpoint_ns
           AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)""",
)


def _check_keep(keep: int) -> None:
    if not isinstance(keep, int) or keep < 1:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ConfigurationError(f"keep must be a positive integer, got {keep!r}")


def _prune_memory(saver: InMemorySaver, thread_id: str, keep: int) -> int:
    removed = 0
    for ns, checkpoints in list(saver.storage.get(thread_id, {}).items()):
        for checkpoint_id in sorted(checkpoints, reverse=True)[keep:]:
            del checkpoints[checkpoint_id]
            saver.writes.pop((thread_id, ns, checkpoint_id), None)
            removed += 1
        live: set[tuple[str, Any]] = set()
        for saved in checkpoints.values():
            checkpoint = saver.serde.loads_typed(saved[0])
            live.update(checkpoint["channel_versions"].items())
        for key in [k for k in saver.blobs if k[0] == thread_id and k[1] == ns]:
            if (key[2], key[3]) not in live:
                del saver.blobs[key]
    return removed


def keep_last(saver: BaseCheckpointSaver[Any], thread_id: str, keep: int) -> int:
    """Keep the newest ``keep`` checkpoints of each namespace of a thread; return how many
    were removed. Works on ``InMemorySaver``, ``SqliteSaver`` and ``PostgresSaver``.

    Rolling back past the kept window is then impossible, so keep at least as many as
    your rollback predicates look back.
    """
    _check_keep(keep)
    if isinstance(saver, InMemorySaver):
        return _prune_memory(saver, thread_id, keep)
    conn = getattr(saver, "conn", None)
    if isinstance(conn, sqlite3.Connection):
        with sqlite_transaction(conn, saver.lock):  # pyright: ignore[reportAttributeAccessIssue]
            conn.execute(_SQLITE_PRUNE[0], (thread_id, thread_id, keep))
            return conn.execute(_SQLITE_PRUNE[1], (thread_id, thread_id, keep)).rowcount
    if type(saver).__name__ == "PostgresSaver":
        with saver._cursor(pipeline=False) as cur:  # pyright: ignore[reportAttributeAccessIssue]
            params = {"t": thread_id, "n": keep}
            cur.execute(_PG_PRUNE[0], params)
            cur.execute(_PG_PRUNE[1], params)
            removed = cur.rowcount
            cur.execute(_PG_PRUNE[2], params)
            return removed
    raise StoreUnavailableError(
        f"keep_last does not support {type(saver).__name__}; use the async form "
        "akeep_last for async savers"
    )


async def akeep_last(saver: BaseCheckpointSaver[Any], thread_id: str, keep: int) -> int:
    """Async form of :func:`keep_last` for ``AsyncSqliteSaver`` and ``AsyncPostgresSaver``."""
    _check_keep(keep)
    name = type(saver).__name__
    if isinstance(saver, InMemorySaver):
        return _prune_memory(saver, thread_id, keep)
    if name == "AsyncSqliteSaver":
        conn: Any = saver.conn  # pyright: ignore[reportAttributeAccessIssue]
        async with saver.lock:  # pyright: ignore[reportAttributeAccessIssue]
            await conn.execute(_SQLITE_PRUNE[0], (thread_id, thread_id, keep))
            cur = await conn.execute(_SQLITE_PRUNE[1], (thread_id, thread_id, keep))
            await conn.commit()
            return cur.rowcount
    if name == "AsyncPostgresSaver":
        async with saver._cursor(pipeline=False) as cur:  # pyright: ignore[reportAttributeAccessIssue]
            params = {"t": thread_id, "n": keep}
            await cur.execute(_PG_PRUNE[0], params)
            await cur.execute(_PG_PRUNE[1], params)
            removed = cur.rowcount
            await cur.execute(_PG_PRUNE[2], params)
            return removed
    if isinstance(saver, BaseCheckpointSaver):  # pyright: ignore[reportUnnecessaryIsInstance]
        return keep_last(saver, thread_id, keep)
    raise StoreUnavailableError(f"akeep_last does not support {name}")
