"""The SQLite plumbing shared by the tool packs' small stores (outbox, gateway, inventory).

:class:`SQLiteStore` opens one connection (``memory:``, a path or ``sqlite:///file.db``; a
PostgreSQL URL is refused), creates the schema, and gives subclasses ``_tx()``: one
``BEGIN IMMEDIATE`` transaction under a re-entrant lock, rolled back on any exception.

Example:
    >>> class Notes(SQLiteStore):
    ...     def __init__(self, url: str = "memory:") -> None:
    ...         super().__init__(url, "CREATE TABLE IF NOT EXISTS notes (text TEXT);")
    >>> notes = Notes()
    >>> with notes._tx() as conn:
    ...     _ = conn.execute("INSERT INTO notes VALUES ('hi')")
    >>> notes._conn.execute("SELECT count(*) FROM notes").fetchone()[0]
    1
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from agentpatterns._store import parse_store_url, sqlite_connect, sqlite_transaction
from agentpatterns.errors import ConfigurationError

__all__ = ["SQLiteStore", "sqlite_target"]


def sqlite_target(path_or_url: str, owner: str) -> str:
    """The SQLite path for ``memory:``, ``sqlite:///...`` or a plain path.

    Raises:
        ConfigurationError: a PostgreSQL URL (``owner`` runs on SQLite only).
    """
    target = str(path_or_url)
    if target.startswith(("sqlite:", "memory:", "postgres")):
        url = parse_store_url(target)
        if url.kind == "postgres":
            raise ConfigurationError(f"{owner} runs on SQLite only; got a PostgreSQL URL")
        target = ":memory:" if url.kind == "memory" else url.path
    return target


class SQLiteStore:
    """Base of a store on one SQLite connection: ``_conn``, ``_lock``, ``_tx()``, ``close()``."""

    def __init__(self, path_or_url: str, schema: str) -> None:
        self._conn: sqlite3.Connection = sqlite_connect(
            sqlite_target(path_or_url, type(self).__name__)
        )
        self._conn.executescript(schema)
        self._lock = threading.RLock()

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with sqlite_transaction(self._conn, self._lock) as conn:
            yield conn
