"""``CircuitBreaker``: fail fast while a dependency is down.

Closed (calls pass; consecutive counted failures are tallied) -> open after
``failure_threshold`` of them (calls raise :class:`CircuitOpenError` without running) ->
half-open after ``reset_timeout`` seconds (up to ``half_open_max_calls`` probe calls pass) ->
closed on a probe's success, open again on its failure. Each change emits a
``breaker_state`` event (``name``, ``old``, ``new``) for alerts and metrics.

Only failures of the dependency count (transient and rate-limited errors per
:func:`~agentpatterns.resilience.classify.classify_error`); a permanent error such as
"order not found" shows the dependency answered, and counts as a success.

State lives in the process by default. With ``store="sqlite:///..."`` or
``store="postgresql://..."`` it lives in table ``agentpatterns_breakers`` so that every
process using the same name shares one breaker (the happy path costs one ``SELECT``).

Example:
    >>> from agentpatterns.resilience import CircuitBreaker
    >>> breaker = CircuitBreaker("payments", failure_threshold=2, reset_timeout=30)
    >>> def down():
    ...     raise ConnectionError("refused")
    >>> for _ in range(2):
    ...     try:
    ...         breaker.call(down)
    ...     except ConnectionError:
    ...         pass
    >>> breaker.state
    'open'
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeVar

from langgraph.errors import GraphBubbleUp

from agentpatterns._store import parse_store_url, pg_pool, sqlite_connect, sqlite_transaction
from agentpatterns.errors import CircuitOpenError, ConfigurationError
from agentpatterns.events import emit
from agentpatterns.resilience.classify import dependency_failure

__all__ = ["BreakerState", "CircuitBreaker"]

P = ParamSpec("P")
T = TypeVar("T")
BreakerState = Literal["closed", "open", "half_open"]


@dataclass
class _Record:
    state: BreakerState = "closed"
    failures: int = 0
    opened_at: float = 0.0
    probes: int = 0


_DDL = (
    "CREATE TABLE IF NOT EXISTS agentpatterns_breakers (name TEXT PRIMARY KEY, "
    "state TEXT NOT NULL, failures INTEGER NOT NULL, opened_at DOUBLE PRECISION NOT NULL, "
    "probes INTEGER NOT NULL, updated_at DOUBLE PRECISION NOT NULL)"
)


class _SharedState:
    """Breaker records in SQLite or PostgreSQL; each change is one locked transaction."""

    def __init__(self, url: str) -> None:
        parsed = parse_store_url(url)
        self.kind = parsed.kind
        self._lock = threading.Lock()
        if parsed.kind == "sqlite":
            self._conn: Any = sqlite_connect(parsed.path)
            self._conn.execute(_DDL)
        elif parsed.kind == "postgres":
            self._pool: Any = pg_pool(parsed.conninfo, max_size=4)
            with self._pool.connection() as conn:
                conn.execute(_DDL)
        else:
            raise ConfigurationError("a shared breaker store must be SQLite or PostgreSQL")

    def read(self, name: str) -> _Record:
        sql = "SELECT state, failures, opened_at, probes FROM agentpatterns_breakers WHERE name="
        if self.kind == "sqlite":
            with self._lock:
                row = self._conn.execute(sql + "?", (name,)).fetchone()
            return _Record(*row) if row else _Record()
        with self._pool.connection() as conn:
            row = conn.execute(sql + "%s", (name,)).fetchone()
        return (
            _Record(row["state"], row["failures"], row["opened_at"], row["probes"])
            if row
            else _Record()
        )

    def update(self, name: str, change: Callable[[_Record], _Record | None]) -> Any:
        """Run ``change`` on the locked record; write what it returns (None: no write)."""
        if self.kind == "sqlite":
            with sqlite_transaction(self._conn, self._lock) as conn:
                row = conn.execute(
                    "SELECT state, failures, opened_at, probes FROM "
                    "agentpatterns_breakers WHERE name=?",
                    (name,),
                ).fetchone()
                new = change(_Record(*row) if row else _Record())
                if new is not None:
                    conn.execute(
                        "INSERT INTO agentpatterns_breakers VALUES (?,?,?,?,?,?) ON CONFLICT"
                        "(name) DO UPDATE SET state=excluded.state, failures=excluded.failures,"
                        " opened_at=excluded.opened_at, probes=excluded.probes, "
                        "updated_at=excluded.updated_at",
                        (name, new.state, new.failures, new.opened_at, new.probes, time.time()),
                    )
            return
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO agentpatterns_breakers VALUES (%s,'closed',0,0,0,%s) "
                "ON CONFLICT (name) DO NOTHING",
                (name, time.time()),
            )
            row = conn.execute(
                "SELECT state, failures, opened_at, probes FROM "
                "agentpatterns_breakers WHERE name=%s FOR UPDATE",
                (name,),
            ).fetchone()
            new = change(_Record(row["state"], row["failures"], row["opened_at"], row["probes"]))
            if new is not None:
                conn.execute(
                    "UPDATE agentpatterns_breakers SET state=%s, failures=%s, "
                    "opened_at=%s, probes=%s, updated_at=%s WHERE name=%s",
                    (new.state, new.failures, new.opened_at, new.probes, time.time(), name),
                )

    def close(self) -> None:
        if self.kind == "sqlite":
            self._conn.close()
        else:
            self._pool.close()


class CircuitBreaker:
    """Closed / open / half-open breaker for one tool or dependency. Thread-safe.

    Args:
        name: Dependency name (shared stores key on it).
        failure_threshold: Consecutive counted failures that open the breaker.
        reset_timeout: Seconds open before half-open probes are let through.
        half_open_max_calls: Probe calls allowed at once while half-open.
        store: ``None`` (in-process) or a SQLite / PostgreSQL URL to share the state.
        counts: ``exc -> bool``: which failures count (default: non-permanent ones).
        clock: Wall-clock source (shared stores compare times across processes).

    Raises (from ``call``/``acall``):
        CircuitOpenError: the breaker is open (``details["retry_in"]`` seconds).
    """

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        half_open_max_calls: int = 1,
        store: str | None = None,
        *,
        counts: Callable[[BaseException], bool] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if failure_threshold < 1 or reset_timeout < 0 or half_open_max_calls < 1:
            raise ConfigurationError(f"invalid circuit breaker settings for {name!r}")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.half_open_max_calls = half_open_max_calls
        self.counts = counts or dependency_failure
        self.clock = clock
        self._lock = threading.Lock()
        self._local = _Record()
        self._shared = (
            None
            if store is None or parse_store_url(store).kind == "memory"
            else _SharedState(store)
        )
        self.__agentpatterns__ = {"breaker": name}

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state!r})"

    # --- state ------------------------------------------------------------------------
    @property
    def state(self) -> BreakerState:
        """Current state (an open breaker past ``reset_timeout`` still reads ``open``)."""
        if self._shared is not None:
            return self._shared.read(self.name).state
        return self._local.state

    def _apply(self, change: Callable[[_Record], _Record | None]) -> None:
        if self._shared is not None:
            self._shared.update(self.name, change)
            return
        with self._lock:
            new = change(_Record(**vars(self._local)))
            if new is not None:
                self._local = new

    def _transition(self, old: _Record, new: _Record) -> _Record:
        if old.state != new.state:
            emit(
                "breaker_state", name=self.name, old=old.state, new=new.state, failures=new.failures
            )
        return new

    def _before(self) -> bool:
        """Let a call through or raise; True if the breaker was clean (closed, 0 failures)."""
        seen = self._shared.read(self.name) if self._shared is not None else self._local
        if seen.state == "closed":
            return seen.failures == 0  # happy path: no lock, no write
        now = self.clock()
        refused: list[float] = []

        def change(rec: _Record) -> _Record | None:
            if rec.state == "closed":
                return None
            if rec.state == "open":
                wait = rec.opened_at + self.reset_timeout - now
                if wait > 0:
                    refused.append(wait)
                    return None
                return self._transition(rec, _Record("half_open", rec.failures, rec.opened_at, 1))
            if rec.probes >= self.half_open_max_calls:
                refused.append(0.0)
                return None
            return _Record("half_open", rec.failures, rec.opened_at, rec.probes + 1)

        self._apply(change)
        if refused:
            raise CircuitOpenError(
                f"circuit breaker {self.name!r} is open; failing fast",
                node=self.name,
                retry_in=refused[0],
            )
        return False

    def _success(self, clean: bool = False) -> None:
        if clean:
            return  # happy path: nothing to write

        def change(rec: _Record) -> _Record | None:
            if rec.state == "closed" and rec.failures == 0:
                return None
            return self._transition(rec, _Record())

        self._apply(change)

    def _failure(self, exc: BaseException) -> None:
        if not self.counts(exc):
            self._success()
            return
        now = self.clock()

        def change(rec: _Record) -> _Record | None:
            if rec.state == "half_open":
                return self._transition(rec, _Record("open", rec.failures + 1, now, 0))
            if rec.state == "open":
                return None
            failures = rec.failures + 1
            if failures >= self.failure_threshold:
                return self._transition(rec, _Record("open", failures, now, 0))
            return _Record("closed", failures, 0.0, 0)

        self._apply(change)

    def reset(self) -> None:
        """Force the breaker closed (operator action)."""
        self._apply(lambda rec: self._transition(rec, _Record()))

    def close(self) -> None:
        """Release a shared store's connection."""
        if self._shared is not None:
            self._shared.close()

    # --- calls ------------------------------------------------------------------------
    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn`` through the breaker."""
        clean = self._before()
        try:
            result = fn(*args, **kwargs)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            self._failure(exc)
            raise
        self._success(clean)
        return result

    async def acall(self, afn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``afn`` through the breaker (a shared store is reached off the loop)."""
        shared = self._shared is not None
        clean = await asyncio.to_thread(self._before) if shared else self._before()
        try:
            result = await afn(*args, **kwargs)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            if shared:
                await asyncio.to_thread(self._failure, exc)
            else:
                self._failure(exc)
            raise
        if shared and not clean:
            await asyncio.to_thread(self._success)
        else:
            self._success(clean)
        return result
