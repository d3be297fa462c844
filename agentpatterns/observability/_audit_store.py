"""SQL backends of the audit log: SQLite (file or memory) and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from agentpatterns._store import parse_store_url, pg_pool, sqlite_connect, sqlite_transaction

__all__ = ["COLUMNS", "AuditStore", "open_store"]

COLUMNS = (
    "id",
    "ts",
    "kind",
    "run_id",
    "thread_id",
    "graph",
    "node",
    "tool",
    "status",
    "step",
    "attempt",
    "checkpoint_id",
    "duration_ms",
    "error_type",
    "data",
)
_INSERT_COLUMNS = COLUMNS[1:]
# Partial indexes where most rows would never be looked up that way (cheaper inserts).
_INDEXES = (
    ("thread", "thread_id, ts", ""),
    ("run", "run_id, ts", ""),
    ("ts", "ts", ""),
    ("kind", "kind, ts", " WHERE kind <> 'node'"),
    ("node", "node, ts", " WHERE node IS NOT NULL"),
    ("tool", "tool, ts", " WHERE tool IS NOT NULL"),
    ("status", "status, ts", " WHERE status <> 'ok'"),
)
_PARTIAL = {"kind": "node", "status": "ok"}  # the value a partial index leaves out


class AuditStore(Protocol):
    def insert(self, rows: list[tuple[Any, ...]]) -> None: ...
    def select(
        self,
        filters: dict[str, str],
        since: float | None,
        until: float | None,
        limit: int | None,
        newest_first: bool,
    ) -> list[Any]: ...
    def count(self) -> int: ...
    def delete_before(self, ts: float) -> int: ...
    def keep_newest(self, n: int) -> int: ...
    def close(self) -> None: ...


def _where(
    filters: dict[str, str], since: float | None, until: float | None, mark: str
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for col, value in filters.items():
        if col in _PARTIAL and value != _PARTIAL[col]:
            # A quoted literal lets the planner use the partial index; a parameter would not.
            clauses.append(f"{col} = '{value.replace(chr(39), chr(39) * 2)}'")
        else:
            clauses.append(f"{col} = {mark}")
            params.append(value)
    if since is not None:
        clauses.append(f"ts >= {mark}")
        params.append(since)
    if until is not None:
        clauses.append(f"ts < {mark}")
        params.append(until)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _select_sql(
    columns: str,
    table: str,
    filters: dict[str, str],
    since: float | None,
    until: float | None,
    limit: int | None,
    newest_first: bool,
    mark: str,
) -> tuple[str, list[Any]]:
    """The query both backends run; they differ only in the columns and the placeholder."""
    where, params = _where(filters, since, until, mark)
    order = "DESC" if newest_first else "ASC"
    sql = f"SELECT {columns} FROM {table}{where} ORDER BY ts {order}, id {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, params


class SQLiteAuditStore:
    """SQLite: one connection shared by the writer and readers under a lock (WAL)."""

    def __init__(self, path: str, table: str) -> None:
        self.table = table
        self.conn = sqlite_connect(path)
        self.lock = threading.Lock()
        t = table
        with self.lock:
            self.conn.executescript(
                f"""
                CREATE TABLE IF NOT EXISTS {t} (
                    id INTEGER PRIMARY KEY, ts REAL NOT NULL, kind TEXT NOT NULL,
                    run_id TEXT NOT NULL, thread_id TEXT, graph TEXT, node TEXT, tool TEXT,
                    status TEXT NOT NULL, step INTEGER, attempt INTEGER, checkpoint_id TEXT,
                    duration_ms REAL, error_type TEXT, data TEXT);
                CREATE TRIGGER IF NOT EXISTS {t}_append_only BEFORE UPDATE ON {t}
                BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
            """
                + "".join(
                    f"CREATE INDEX IF NOT EXISTS {t}_{name} ON {t} ({cols}){where};\n"
                    for name, cols, where in _INDEXES
                )
            )

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" * len(_INSERT_COLUMNS))
        sql = f"INSERT INTO {self.table} ({', '.join(_INSERT_COLUMNS)}) VALUES ({marks})"
        with sqlite_transaction(self.conn, self.lock, immediate=False) as conn:
            conn.executemany(sql, rows)

    def select(
        self,
        filters: dict[str, str],
        since: float | None,
        until: float | None,
        limit: int | None,
        newest_first: bool,
    ) -> list[Any]:
        sql, params = _select_sql(
            ", ".join(COLUMNS), self.table, filters, since, until, limit, newest_first, "?"
        )
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def count(self) -> int:
        with self.lock:
            return int(self.conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0])

    def delete_before(self, ts: float) -> int:
        with self.lock:
            return self.conn.execute(f"DELETE FROM {self.table} WHERE ts < ?", (ts,)).rowcount

    def keep_newest(self, n: int) -> int:
        with self.lock:
            return self.conn.execute(
                f"DELETE FROM {self.table} WHERE id NOT IN "
                f"(SELECT id FROM {self.table} ORDER BY ts DESC, id DESC LIMIT ?)",
                (n,),
            ).rowcount

    def close(self) -> None:
        with self.lock:
            self.conn.close()


class PostgresAuditStore:
    """PostgreSQL through a small psycopg pool; JSONB payload."""

    def __init__(self, conninfo: str, table: str) -> None:
        self.table = t = table
        self.pool = pg_pool(conninfo, max_size=4)
        ddl = [
            f"""CREATE TABLE IF NOT EXISTS {t} (
                    id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL,
                    run_id TEXT NOT NULL, thread_id TEXT, graph TEXT, node TEXT, tool TEXT,
                    status TEXT NOT NULL, step INTEGER, attempt INTEGER, checkpoint_id TEXT,
                    duration_ms DOUBLE PRECISION, error_type TEXT, data JSONB)""",
            f"""CREATE OR REPLACE FUNCTION {t}_refuse_update() RETURNS trigger AS $$
                   BEGIN RAISE EXCEPTION 'audit log is append-only'; END; $$ LANGUAGE plpgsql""",
            f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}",
            f"""CREATE TRIGGER {t}_append_only BEFORE UPDATE ON {t}
                   FOR EACH ROW EXECUTE FUNCTION {t}_refuse_update()""",
        ]
        ddl += [
            f"CREATE INDEX IF NOT EXISTS {t}_{name} ON {t} ({cols}){where}"
            for name, cols, where in _INDEXES
        ]
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (t,))
            for statement in ddl:
                conn.execute(statement)  # pyright: ignore[reportArgumentType]

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join(["%s"] * len(_INSERT_COLUMNS))
        sql = f"INSERT INTO {self.table} ({', '.join(_INSERT_COLUMNS)}) VALUES ({marks})"
        with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(sql, rows)  # pyright: ignore[reportArgumentType]

    def select(
        self,
        filters: dict[str, str],
        since: float | None,
        until: float | None,
        limit: int | None,
        newest_first: bool,
    ) -> list[Any]:
        columns = f"{', '.join(COLUMNS[:-1])}, data::text AS data"
        sql, params = _select_sql(
            columns, self.table, filters, since, until, limit, newest_first, "%s"
        )
        with self.pool.connection() as conn:
            return conn.execute(sql, params).fetchall()  # pyright: ignore[reportArgumentType]

    def count(self) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(f"SELECT count(*) AS n FROM {self.table}").fetchone()  # pyright: ignore
            return int(row["n"]) if row else 0

    def delete_before(self, ts: float) -> int:
        with self.pool.connection() as conn:
            return conn.execute(f"DELETE FROM {self.table} WHERE ts < %s", (ts,)).rowcount  # pyright: ignore

    def keep_newest(self, n: int) -> int:
        with self.pool.connection() as conn:
            return conn.execute(  # pyright: ignore[reportArgumentType]
                f"DELETE FROM {self.table} WHERE id NOT IN "  # pyright: ignore
                f"(SELECT id FROM {self.table} ORDER BY ts DESC, id DESC LIMIT %s)",
                (n,),
            ).rowcount

    def close(self) -> None:
        self.pool.close()


def open_store(url: str, table: str) -> AuditStore:
    """The store for a ``memory:`` / ``sqlite:///`` / ``postgresql://`` URL."""
    parsed = parse_store_url(url)
    if parsed.kind == "memory":
        return SQLiteAuditStore(":memory:", table)
    if parsed.kind == "sqlite":
        return SQLiteAuditStore(parsed.path, table)
    return PostgresAuditStore(parsed.conninfo, table)
