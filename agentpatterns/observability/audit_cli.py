"""``agentpatterns audit ...``: query, count and prune an audit log from the shell.

Mounted as ``agentpatterns audit`` by :mod:`agentpatterns.cli`::

    agentpatterns audit query --thread d1 --url sqlite:///.agentpatterns/diagnosis/audit.db
    agentpatterns audit count --url URL
    agentpatterns audit retain --days 30 --url URL

``--url`` may come from ``AGENTPATTERNS_AUDIT_URL`` (default ``sqlite:///audit.db``, as for
:class:`AuditLog`). Bad input prints one line on stderr and exits non-zero without touching
anything: a malformed URL (exit 2), a SQLite file that does not exist (exit 1; it is not
created), a file that is not a SQLite database (exit 1).

Example:
    >>> from typer.testing import CliRunner
    >>> from agentpatterns.observability import AuditLog
    >>> import tempfile, os
    >>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "a.db")
    >>> with AuditLog(url) as log:
    ...     log.record("node", run_id="r1", thread_id="t1", node="plan", data={"x": 1})
    >>> result = CliRunner().invoke(audit_app, ["count", "--url", url])
    >>> result.output.strip()
    '1'
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from agentpatterns._store import parse_store_url
from agentpatterns.errors import AgentPatternsError
from agentpatterns.observability.audit import AuditLog, AuditRecord

__all__ = ["audit_app"]

audit_app = typer.Typer(help="Query and prune the audit log.", no_args_is_help=True)

UrlOption = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="AGENTPATTERNS_AUDIT_URL",
        help="Audit store URL: sqlite:///file.db or postgresql://...",
    ),
]


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _open(url: str) -> AuditLog:
    """The audit log at ``url``, checked first: never creates a missing SQLite file."""
    try:
        store = parse_store_url(url)
    except AgentPatternsError as exc:
        _fail(f"bad --url: {exc}", 2)
    if store.kind == "sqlite" and store.path != ":memory:" and not Path(store.path).is_file():
        _fail(f"no audit log at {url}: {store.path} does not exist", 1)
    try:
        return AuditLog(url)
    except Exception as exc:  # not a database, server down, no permission ...
        _fail(f"cannot open the audit log at {url}: {exc}", 1)


def _when(value: str | None, option: str = "--since") -> float | None:
    """Unix seconds from ``1700000000``, an ISO time, or ``-2h`` / ``-30m`` / ``-7d``."""
    if value is None:
        return None
    value = value.strip()
    try:
        if value.startswith("-") and value[-1:] in ("s", "m", "h", "d"):
            unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[value[-1]]
            return dt.datetime.now(dt.UTC).timestamp() - float(value[1:-1]) * unit
        try:
            return float(value)
        except ValueError:
            parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}: use unix seconds, an ISO time or -30m / -2h / -7d", param_hint=option
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _row(record: AuditRecord) -> dict[str, Any]:
    row = {k: getattr(record, k) for k in record.__dataclass_fields__}
    row["time"] = dt.datetime.fromtimestamp(record.ts, dt.UTC).isoformat(timespec="milliseconds")
    return row


@audit_app.command("query")
def query(
    url: UrlOption = "sqlite:///audit.db",
    thread: Annotated[str | None, typer.Option("--thread", "-t", help="Thread id.")] = None,
    run: Annotated[str | None, typer.Option(help="Run id.")] = None,
    node: Annotated[str | None, typer.Option(help="Node name.")] = None,
    tool: Annotated[str | None, typer.Option(help="Tool name.")] = None,
    status: Annotated[str | None, typer.Option(help="ok, error, interrupted, ...")] = None,
    kind: Annotated[
        str | None, typer.Option(help="input/node/transition/tool/event/output")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Start: unix s, ISO time or -2h.")] = None,
    until: Annotated[str | None, typer.Option(help="End (exclusive), same forms.")] = None,
    limit: Annotated[int, typer.Option(help="Most records to print.")] = 100,
    newest_first: Annotated[bool, typer.Option("--newest-first")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print matching records (already redacted), oldest first."""
    start, end = _when(since), _when(until, "--until")
    with _open(url) as log:
        try:
            records = log.query(
                thread_id=thread,
                run_id=run,
                node=node,
                tool=tool,
                status=status,
                kind=kind,
                since=start,
                until=end,
                limit=limit,
                newest_first=newest_first,
            )
        except AgentPatternsError as exc:
            _fail(str(exc), 1)
    for record in records:
        row = _row(record)
        if as_json:
            typer.echo(json.dumps(row, ensure_ascii=False, default=str))
        else:
            where = record.node or record.tool or record.graph or ""
            typer.echo(
                f"{row['time']} {record.kind:<10} {record.status:<11} {where:<16} "
                f"thread={record.thread_id} run={record.run_id} "
                f"{json.dumps(record.data, ensure_ascii=False, default=str)}"
            )


@audit_app.command("count")
def count(url: UrlOption = "sqlite:///audit.db") -> None:
    """Print how many records the log holds."""
    with _open(url) as log:
        typer.echo(str(log.count()))


@audit_app.command("retain")
def retain(
    url: UrlOption = "sqlite:///audit.db",
    days: Annotated[float | None, typer.Option(help="Delete records older than this.")] = None,
    max_records: Annotated[int | None, typer.Option(help="Keep only the newest N.")] = None,
) -> None:
    """Apply retention: delete old records; prints how many were deleted."""
    if days is None and max_records is None:
        raise typer.BadParameter("give --days and/or --max-records")
    with _open(url) as log:
        typer.echo(str(log.retain(days=days, max_records=max_records)))
