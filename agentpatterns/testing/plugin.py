"""pytest plugin (auto-loaded through the ``pytest11`` entry point).

Fixtures:

* ``postgres_server``: one real PostgreSQL server per test session (started on first use).
* ``postgres_url``: a fresh, empty database on that server for one test.
* ``store_url``: parametrized over ``memory:``, a SQLite file and PostgreSQL; for
  conformance tests of anything stateful (ledger, audit log, breaker store).
* ``durable_store_url``: the same over SQLite and PostgreSQL only.
* ``checkpointer``: a sync LangGraph saver, parametrized over the three backends.
* ``acheckpointer``: the async saver of the same three backends.
* ``serde_log``: a function returning LangGraph's "unregistered type" serde warnings and
  msgpack allow-list events of the test so far (dedupe reset); an empty list means every
  checkpoint read back needed no allow-list entry.

Without PostgreSQL binaries the PostgreSQL cases skip with a clear reason, unless
``AGENTPATTERNS_REQUIRE_POSTGRES=1`` (set by ``make test``) turns that into a failure.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentpatterns.testing.otel import *  # noqa: F403  (in-memory OpenTelemetry fixtures)
from agentpatterns.testing.postgres import PostgresServer, PostgresUnavailable, postgres_available

BACKENDS = ("memory", "sqlite", "postgres")


def _require_postgres() -> bool:
    return os.environ.get("AGENTPATTERNS_REQUIRE_POSTGRES", "") not in ("", "0")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL 15 server on 127.0.0.1 for the whole session."""
    if not postgres_available():
        if _require_postgres():
            pytest.fail(
                "PostgreSQL is required (AGENTPATTERNS_REQUIRE_POSTGRES=1) but "
                "initdb/pg_ctl or a non-root user to run them was not found"
            )
        pytest.skip("PostgreSQL binaries not found; PostgreSQL cases skipped")
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as exc:
        server.stop()
        if _require_postgres():
            pytest.fail(f"PostgreSQL did not start: {exc}")
        pytest.skip(f"PostgreSQL did not start: {exc}")
    yield server
    server.stop()


def new_database(server: PostgresServer) -> str:
    """Create an empty database on ``server``; return its URL."""
    import psycopg
    from psycopg import sql

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of a fresh empty database on the session's PostgreSQL server."""
    return new_database(postgres_server)


def _url_for(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "memory":
        return "memory:"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return new_database(request.getfixturevalue("postgres_server"))


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL for each backend: memory, SQLite file, PostgreSQL database."""
    return _url_for(request.param, request, tmp_path)


@pytest.fixture(params=BACKENDS[1:])
def durable_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A durable store URL: SQLite file, then PostgreSQL database."""
    return _url_for(request.param, request, tmp_path)


@pytest.fixture(params=BACKENDS)
def checkpointer(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A sync LangGraph saver on memory, SQLite and PostgreSQL."""
    from agentpatterns.checkpoint import open_checkpointer

    with open_checkpointer(_url_for(request.param, request, tmp_path)) as saver:
        yield saver


@pytest.fixture(params=BACKENDS)
async def acheckpointer(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """An async LangGraph saver on memory, SQLite and PostgreSQL."""
    from agentpatterns.checkpoint import open_checkpointer

    async with open_checkpointer(_url_for(request.param, request, tmp_path)) as saver:
        yield saver


@pytest.fixture
def serde_log(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], list[str]]]:
    """LangGraph's "unregistered type" warnings and allow-list events of this test."""
    from langgraph.checkpoint.serde import jsonplus
    from langgraph.checkpoint.serde.event_hooks import register_serde_event_listener

    monkeypatch.setattr(jsonplus, "_warned_unregistered_types", set())  # reset the dedupe
    events: list[Any] = []
    unregister = register_serde_event_listener(events.append)
    caplog.set_level(logging.WARNING, logger="langgraph.checkpoint.serde")

    def problems() -> list[str]:
        logged = [r.getMessage() for r in caplog.records if "unregistered type" in r.getMessage()]
        return logged + [f"{e['kind']}: {e['module']}.{e['name']}" for e in events]

    yield problems
    unregister()
