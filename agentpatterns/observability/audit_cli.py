"""``agentpatterns audit ...``: query, count and prune an audit log from the shell.

The lead wires it into ``agentpatterns/cli.py`` with ``app.add_typer(audit_app, name="audit")``.

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
from typing import Annotated, Any

import typer

from agentpatterns.observability.audit import AuditLog, AuditRecord

__all__ = ["audit_app"]

audit_app = typer.Typer(help="Query and prune the audit log.", no_args_is_help=True)

UrlOption = Annotated[
    str, typer.Option("--url", envvar="AGENTPATTERNS_AUDIT_URL", help="Audit store URL.")
]


def _when(value: str | None) -> float | None:
    """Unix seconds from ``1700000000``, an ISO time, or ``-2h`` / ``-30m`` / ``-7d``."""
    if value is None:
        return None
    value = value.strip()
    if value.startswith("-") and value[-1] in "smhd":
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[value[-1]]
        return dt.datetime.now(dt.UTC).timestamp() - float(value[1:-1]) * unit
    try:
        return float(value)
    except ValueError:
        parsed = dt.datetime.fromisoformat(value)
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
    thread: Annotated[str | None, typer.Option(help="Thread id.")] = None,
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
    """Print matching records (already redacted)."""
    with AuditLog(url) as log:
        records = log.query(
            thread_id=thread,
            run_id=run,
            node=node,
            tool=tool,
            status=status,
            kind=kind,
            since=_when(since),
            until=_when(until),
            limit=limit,
            newest_first=newest_first,
        )
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
    with AuditLog(url) as log:
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
    with AuditLog(url) as log:
        typer.echo(str(log.retain(days=days, max_records=max_records)))
