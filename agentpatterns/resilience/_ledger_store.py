"""Storage of the effect ledger: memory, SQLite and PostgreSQL behind one small interface.

Every operation is a single atomic statement (or a locked dict operation), so two processes
racing on one key can never both own it.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from agentpatterns._store import parse_store_url, pg_pool, sqlite_connect

__all__ = ["EffectRecord", "LedgerStore", "open_ledger_store"]


@dataclass(frozen=True)
class EffectRecord:
    """One side effect in the ledger.

    ``status``: ``claimed`` (running or crashed), ``done`` (result stored), ``failed`` (the
    call raised; may run again), ``in_doubt`` (a crashed claim nobody could reconcile),
    ``compensated`` (undone by a rollback; may run again).
    """

    key: str
    seq: int
    thread_id: str | None
    tool: str
    args: str
    status: str
    result: str | None
    owner: str
    claimed_at: float
    heartbeat_at: float
    finished_at: float | None
    error: str | None
    compensated: bool


_COLUMNS = (
    "key, seq, thread_id, tool, args, status, result, owner, claimed_at, "
    "heartbeat_at, finished_at, error, compensated"
)


class LedgerStore(ABC):
    """Interface; see the memory and SQL implementations."""

    @abstractmethod
    def claim(self, rec: EffectRecord) -> bool: ...

    @abstractmethod
    def get(self, key: str) -> EffectRecord | None: ...

    @abstractmethod
    def take_over(self, key: str, old_owner: str, old_status: str, owner: str) -> bool: ...

    @abstractmethod
    def set_status(
        self,
        key: str,
        owner: str | None,
        status: str,
        *,
        result: str | None = None,
        error: str | None = None,
    ) -> bool: ...

    @abstractmethod
    def heartbeat(self, keys: list[tuple[str, str]]) -> None: ...

    @abstractmethod
    def by_thread(self, thread_id: str) -> list[EffectRecord]: ...

    def close(self) -> None:  # noqa: B027 - optional hook: only SQL stores hold resources
        """Release resources (nothing for the memory store)."""


class MemoryLedgerStore(LedgerStore):
    """Rows as mutable dicts (no dataclass copies on the hot path)."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._seq = 0

    def claim(self, rec: EffectRecord) -> bool:
        with self._lock:
            if rec.key in self._rows:
                return False
            self._seq += 1
            row = rec.__dict__.copy()
            row["seq"] = self._seq
            self._rows[rec.key] = row
            return True

    def get(self, key: str) -> EffectRecord | None:
        row = self._rows.get(key)
        return EffectRecord(**row) if row is not None else None

    def take_over(self, key: str, old_owner: str, old_status: str, owner: str) -> bool:
        now = time.time()
        with self._lock:
            row = self._rows.get(key)
            if row is None or row["owner"] != old_owner or row["status"] != old_status:
                return False
            row.update(
                owner=owner, status="claimed", claimed_at=now, heartbeat_at=now, compensated=False
            )
            return True

    def set_status(
        self,
        key: str,
        owner: str | None,
        status: str,
        *,
        result: str | None = None,
        error: str | None = None,
    ) -> bool:
        with self._lock:
            row = self._rows.get(key)
            if row is None or (owner is not None and row["owner"] != owner):
                return False
            row["status"] = status
            if result is not None:
                row["result"] = result
            row["error"] = error
            row["finished_at"] = time.time()
            row["compensated"] = status == "compensated"
            return True

    def heartbeat(self, keys: list[tuple[str, str]]) -> None:
        pass  # one process: an owner is alive as long as the store exists

    def by_thread(self, thread_id: str) -> list[EffectRecord]:
        with self._lock:
            rows = [EffectRecord(**r) for r in self._rows.values() if r["thread_id"] == thread_id]
        return sorted(rows, key=lambda r: r.seq)


class SqlLedgerStore(LedgerStore):
    """SQLite or PostgreSQL; ``?`` placeholders are rewritten for psycopg."""

    def __init__(self, kind: str, target: str) -> None:
        self.kind = kind
        self._lock = threading.Lock()
        if kind == "sqlite":
            self._conn: Any = sqlite_connect(target)
            seq = "seq INTEGER PRIMARY KEY AUTOINCREMENT"
            real = "REAL"
        else:
            self._pool: Any = pg_pool(target, max_size=8)
            seq = "seq BIGSERIAL PRIMARY KEY"
            real = "DOUBLE PRECISION"
        self._exec(
            f"CREATE TABLE IF NOT EXISTS agentpatterns_effects ({seq}, key TEXT NOT NULL UNIQUE,"
            f" thread_id TEXT, tool TEXT NOT NULL, args TEXT NOT NULL, status TEXT NOT NULL,"
            f" result TEXT, owner TEXT NOT NULL, claimed_at {real} NOT NULL,"
            f" heartbeat_at {real} NOT NULL, finished_at {real}, error TEXT,"
            f" compensated INTEGER NOT NULL DEFAULT 0)"
        )
        self._exec(
            "CREATE INDEX IF NOT EXISTS agentpatterns_effects_thread "
            "ON agentpatterns_effects (thread_id, seq)"
        )

    def _exec(self, sql: str, params: tuple[Any, ...] = (), fetch: str = "") -> Any:
        if self.kind == "sqlite":
            with self._lock:
                cur = self._conn.execute(sql, params)
                if fetch == "one":
                    return cur.fetchone()
                if fetch == "all":
                    return cur.fetchall()
                return cur.rowcount
        with self._pool.connection() as conn:
            cur = conn.execute(sql.replace("?", "%s"), params)
            if fetch == "one":
                row = cur.fetchone()
                return tuple(row.values()) if row else None
            if fetch == "all":
                return [tuple(r.values()) for r in cur.fetchall()]
            return cur.rowcount

    @staticmethod
    def _record(row: Any) -> EffectRecord | None:
        if row is None:
            return None
        return EffectRecord(*row[:12], compensated=bool(row[12]))

    def claim(self, rec: EffectRecord) -> bool:
        return (
            self._exec(
                "INSERT INTO agentpatterns_effects (key, thread_id, tool, args, status, owner, "
                "claimed_at, heartbeat_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (key) DO NOTHING",
                (
                    rec.key,
                    rec.thread_id,
                    rec.tool,
                    rec.args,
                    rec.status,
                    rec.owner,
                    rec.claimed_at,
                    rec.heartbeat_at,
                ),
            )
            == 1
        )

    def get(self, key: str) -> EffectRecord | None:
        return self._record(
            self._exec(f"SELECT {_COLUMNS} FROM agentpatterns_effects WHERE key=?", (key,), "one")
        )

    def take_over(self, key: str, old_owner: str, old_status: str, owner: str) -> bool:
        now = time.time()
        return (
            self._exec(
                "UPDATE agentpatterns_effects SET owner=?, status='claimed', claimed_at=?, "
                "heartbeat_at=?, compensated=0 WHERE key=? AND owner=? AND status=?",
                (owner, now, now, key, old_owner, old_status),
            )
            == 1
        )

    def set_status(
        self,
        key: str,
        owner: str | None,
        status: str,
        *,
        result: str | None = None,
        error: str | None = None,
    ) -> bool:
        sql = (
            "UPDATE agentpatterns_effects SET status=?, result=COALESCE(?, result), "
            "error=?, finished_at=?, compensated=? WHERE key=?"
        )
        params: tuple[Any, ...] = (
            status,
            result,
            error,
            time.time(),
            int(status == "compensated"),
            key,
        )
        if owner is not None:
            sql += " AND owner=?"
            params += (owner,)
        return self._exec(sql, params) == 1

    def heartbeat(self, keys: list[tuple[str, str]]) -> None:
        now = time.time()
        for key, owner in keys:
            self._exec(
                "UPDATE agentpatterns_effects SET heartbeat_at=? WHERE key=? AND owner=?"
                " AND status='claimed'",
                (now, key, owner),
            )

    def by_thread(self, thread_id: str) -> list[EffectRecord]:
        rows = self._exec(
            f"SELECT {_COLUMNS} FROM agentpatterns_effects WHERE thread_id=? ORDER BY seq",
            (thread_id,),
            "all",
        )
        return [r for row in rows if (r := self._record(row)) is not None]

    def close(self) -> None:
        if self.kind == "sqlite":
            self._conn.close()
        else:
            self._pool.close()


def open_ledger_store(url: str) -> LedgerStore:
    parsed = parse_store_url(url)
    if parsed.kind == "memory":
        return MemoryLedgerStore()
    if parsed.kind == "sqlite":
        return SqlLedgerStore("sqlite", parsed.path)
    return SqlLedgerStore("postgres", parsed.conninfo)
