"""Store URLs and database connections shared by the checkpointer, ledger and audit log.

One URL names one database; the checkpointer, the effect ledger, the audit log and shared
breaker state can all live in it:

* ``memory:``                         in-process, gone at exit (tests, notebooks)
* ``sqlite:///relative.db``           a SQLite file (WAL), ``sqlite:////abs/path.db`` absolute
* ``postgresql://user@host:port/db``  PostgreSQL (``postgres://`` also accepted)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from agentpatterns.errors import ConfigurationError, StoreUnavailableError, UnsupportedURLError

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool, ConnectionPool

__all__ = [
    "ACCEPTED_URLS",
    "StoreURL",
    "parse_store_url",
    "pg_pool",
    "sqlite_connect",
    "sqlite_transaction",
]

ACCEPTED_URLS = "'memory:', 'sqlite:///path/to/file.db' or 'postgresql://user@host:port/dbname'"
#: Seconds to wait for PostgreSQL before giving up with StoreUnavailableError.
CONNECT_TIMEOUT_S = 5.0
#: Seconds a SQLite writer waits for another process's lock before failing.
SQLITE_BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class StoreURL:
    """A parsed store URL: ``kind`` plus the SQLite ``path`` or PostgreSQL ``conninfo``."""

    kind: Literal["memory", "sqlite", "postgres"]
    url: str
    path: str = ""
    conninfo: str = ""


def parse_store_url(url: str) -> StoreURL:
    """Parse and check a store URL without touching any database.

    Raises:
        UnsupportedURLError: unknown scheme.
        ConfigurationError: malformed URL (empty path, no host, ...).
    """
    if not isinstance(url, str) or not url.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ConfigurationError(f"empty store URL; accepted: {ACCEPTED_URLS}")
    url = url.strip()
    if url in ("memory:", "memory://", ":memory:"):
        return StoreURL("memory", url)
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise UnsupportedURLError(f"malformed store URL {url!r}; accepted: {ACCEPTED_URLS}")
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise ConfigurationError(
                f"malformed SQLite URL {url!r}: use three slashes for a relative path "
                "('sqlite:///runs.db') and four for an absolute one ('sqlite:////tmp/runs.db')"
            )
        path = rest[1:]
        if path == ":memory:":
            return StoreURL("sqlite", url, path=path)
        if Path(path).is_dir():
            raise ConfigurationError(f"SQLite URL {url!r} names a folder, not a file")
        return StoreURL("sqlite", url, path=path)
    if scheme in ("postgresql", "postgres"):
        parts = urlsplit(url)
        try:
            _ = parts.port  # raises ValueError on a non-numeric port
        except ValueError as exc:
            raise ConfigurationError(f"malformed PostgreSQL URL {url!r}: {exc}") from exc
        if not parts.hostname and "host=" not in (parts.query or ""):
            raise ConfigurationError(f"PostgreSQL URL {url!r} has no host")
        return StoreURL("postgres", url, conninfo=url)
    raise UnsupportedURLError(
        f"unsupported store URL scheme {scheme!r} in {url!r}; accepted: {ACCEPTED_URLS}"
    )


def sqlite_connect(path: str) -> sqlite3.Connection:
    """Open a SQLite file for many threads and processes: WAL, busy timeout, checked.

    Raises:
        StoreUnavailableError: the folder is missing, or the file is not a SQLite database.
    """
    if path != ":memory:":
        folder = Path(path).expanduser().resolve().parent
        if not folder.is_dir():
            raise StoreUnavailableError(
                f"cannot open SQLite database {path!r}: folder {str(folder)!r} does not exist"
            )
    try:
        conn = sqlite3.connect(
            path, check_same_thread=False, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None
        )
    except sqlite3.Error as exc:
        raise StoreUnavailableError(
            f"cannot open SQLite database {path!r}: {exc}", cause=exc
        ) from exc
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA schema_version").fetchone()  # fails now on a corrupt file
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreUnavailableError(
            f"{path!r} is not a usable SQLite database ({exc}); point the URL at a new file "
            "or restore the database",
            cause=exc,
        ) from exc
    return conn


@contextmanager
def sqlite_transaction(
    conn: sqlite3.Connection,
    lock: AbstractContextManager[Any] | None = None,
    *,
    immediate: bool = True,
) -> Iterator[sqlite3.Connection]:
    """One explicit transaction on an autocommit connection from :func:`sqlite_connect`.

    Holds ``lock`` (the connection is shared between threads) for the whole transaction;
    ``immediate`` takes the write lock up front so two processes never deadlock on upgrade.
    Rolled back on any exception, committed otherwise.
    """
    with lock if lock is not None else nullcontext():
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _pg_kwargs() -> dict[str, Any]:
    from psycopg.rows import dict_row

    return {
        "autocommit": True,
        "prepare_threshold": 0,
        "row_factory": dict_row,
        "connect_timeout": int(CONNECT_TIMEOUT_S),
    }


def _missing_postgres_extra(exc: ImportError) -> ConfigurationError:
    return ConfigurationError(
        "PostgreSQL support needs the 'postgres' extra: pip install 'agentpatterns[postgres]'",
        cause=exc,
    )


def pg_pool(conninfo: str, *, max_size: int = 10) -> ConnectionPool[Any]:
    """Open a checked psycopg connection pool (dict rows, autocommit).

    Raises:
        StoreUnavailableError: the server is unreachable or refuses within a few seconds.
    """
    try:
        from psycopg_pool import ConnectionPool, PoolTimeout
    except ImportError as exc:
        raise _missing_postgres_extra(exc) from exc
    pool: ConnectionPool[Any] = ConnectionPool(
        conninfo, min_size=1, max_size=max_size, kwargs=_pg_kwargs(), open=False
    )
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
    except PoolTimeout as exc:
        pool.close()
        raise _unreachable(conninfo, exc) from exc
    return pool


async def apg_pool(conninfo: str, *, max_size: int = 10) -> AsyncConnectionPool[Any]:
    """Async form of :func:`pg_pool`."""
    try:
        from psycopg_pool import AsyncConnectionPool, PoolTimeout
    except ImportError as exc:
        raise _missing_postgres_extra(exc) from exc
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        conninfo, min_size=1, max_size=max_size, kwargs=_pg_kwargs(), open=False
    )
    try:
        await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
    except PoolTimeout as exc:
        await pool.close()
        raise _unreachable(conninfo, exc) from exc
    return pool


def _unreachable(conninfo: str, exc: BaseException) -> StoreUnavailableError:
    """The error for a pool that could not connect in time (password left out)."""
    return StoreUnavailableError(
        f"PostgreSQL at {_safe(conninfo)} is unreachable or refused the connection "
        f"within {CONNECT_TIMEOUT_S:.0f} s",
        cause=exc,
    )


def _safe(conninfo: str) -> str:
    """The URL without its password, for error messages."""
    parts = urlsplit(conninfo)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return conninfo
