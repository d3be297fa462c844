"""The ``agentpatterns`` command: run, resume, inspect and roll back graphs; checks; evals.

Graphs are found through the entry-point group ``agentpatterns.graphs`` (the reference
graphs of this repository declare theirs in ``pyproject.toml``) or given as ``module:attr``
(a ``StateGraph``, a compiled graph, or a factory returning one). The library never imports
``graphs/`` or ``evals/`` itself: both are loaded by name, at run time.

Commands::

    agentpatterns graphs                                   list the registered graphs
    agentpatterns run GRAPH [INPUT_JSON|@file] [--thread ID] [--checkpointer URL]
                          [--trace console|otlp|none] [--json]
    agentpatterns resume THREAD [--value JSON]             answer an interrupt / continue
    agentpatterns history THREAD                           checkpoints of a thread
    agentpatterns rollback THREAD --to CHECKPOINT_ID|last-validated
    agentpatterns check module:graph | recommend ...       readiness checklist, decision tree
    agentpatterns audit query --thread ID [--url URL]      audit records (also count, retain)
    agentpatterns eval ...                                 the eval harness (evals/)

Runs are checkpointed in ``sqlite:///.agentpatterns/runs.db`` by default (the folder is
created); the thread's graph is remembered in the checkpoint metadata, so ``resume``,
``history`` and ``rollback`` need only the thread id. Bad input (unknown graph, malformed
JSON, unknown thread, missing checkpoint) prints one clear line on stderr and exits with a
non-zero code before anything is changed.

Example:
    >>> from typer.testing import CliRunner
    >>> from agentpatterns.cli import app
    >>> CliRunner().invoke(app, ["run", "no-such-graph"]).exit_code
    2
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from agentpatterns._cli_support import (
    DEFAULT_CHECKPOINTER,
    GROUP,
    CliError,
    Trace,
    _open_graph,
    _out,
    _require_db,
    _resources,
    fail,
    finish,
    graph_of_thread,
    parse_json,
    registered_graphs,
    resolve,
    summarize,
    thread_config,
)
from agentpatterns._store import parse_store_url
from agentpatterns.checkpoint import open_checkpointer
from agentpatterns.errors import AgentPatternsError

__all__ = ["DEFAULT_CHECKPOINTER", "GROUP", "app", "main"]

app = typer.Typer(
    name="agentpatterns",
    help="Production patterns for LangGraph agents: run, resume, inspect and check graphs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# ----------------------------------------------------------------------------- commands
CheckpointerOpt = Annotated[
    str, typer.Option("--checkpointer", "-c", help="memory:, sqlite:///file.db, postgresql://...")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
TraceOpt = Annotated[Trace, typer.Option("--trace", help="Where spans go.")]
StateDirOpt = Annotated[
    Path | None, typer.Option("--state-dir", help="Folder for the graph's own stores.")
]


@app.command("graphs")
def graphs_command(as_json: JsonOpt = False) -> None:
    """List the graphs registered under the entry-point group agentpatterns.graphs."""
    rows: list[dict[str, str]] = []
    for name, spec in sorted(registered_graphs().items()):
        module = spec.partition(":")[0]
        doc = ""
        with contextlib.suppress(Exception):
            doc = (importlib.import_module(module).__doc__ or "").strip().splitlines()[0]
        rows.append({"name": name, "target": spec, "summary": doc})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("graph", "target", "summary", title="registered graphs")
    for row in rows:
        table.add_row(row["name"], row["target"], row["summary"])
    _out.print(table)


@app.command("run")
def run_command(
    graph: Annotated[str, typer.Argument(help="Registered graph name or module:attr.")],
    input_json: Annotated[
        str | None, typer.Argument(help="Input state as JSON, or @file.json.")
    ] = None,
    thread: Annotated[str | None, typer.Option("--thread", "-t", help="Thread id.")] = None,
    checkpointer: CheckpointerOpt = DEFAULT_CHECKPOINTER,
    trace: TraceOpt = Trace.none,
    as_json: JsonOpt = False,
    state_dir: StateDirOpt = None,
) -> None:
    """Run GRAPH on INPUT_JSON in a (new) thread and print the outcome."""
    try:
        data = parse_json(input_json, "INPUT_JSON")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise CliError(f"INPUT_JSON must be a JSON object, got {type(data).__name__}")
        name, spec = resolve(graph)
        parse_store_url(checkpointer)
        thread_id = thread or f"run-{uuid.uuid4().hex[:8]}"
        config = thread_config(thread_id, name)
        with _open_graph(name, spec, checkpointer, trace, state_dir) as compiled:
            compiled.invoke(data, config)
            summary = summarize(compiled, config, name)
    except (CliError, AgentPatternsError, OSError) as exc:
        raise fail(exc) from None
    finish(summary, as_json)


@app.command("resume")
def resume_command(
    thread: Annotated[str, typer.Argument(help="Thread id to resume.")],
    value: Annotated[
        str | None,
        typer.Option("--value", "-v", help="JSON answer to the pending interrupt."),
    ] = None,
    graph: Annotated[str | None, typer.Option("--graph", help="Graph (default: recorded).")] = None,
    checkpointer: CheckpointerOpt = DEFAULT_CHECKPOINTER,
    trace: TraceOpt = Trace.none,
    as_json: JsonOpt = False,
    state_dir: StateDirOpt = None,
) -> None:
    """Answer THREAD's pending interrupt with --value, or continue a stopped/crashed run."""
    from langgraph.types import Command

    try:
        answer = parse_json(value, "--value")
        name, spec = graph_of_thread(checkpointer, thread, graph)
        config = thread_config(thread, name)
        with _open_graph(name, spec, checkpointer, trace, state_dir) as compiled:
            before = summarize(compiled, config, name)
            if not before["next"]:
                raise CliError(
                    f"thread {thread!r} has nothing to resume (status {before['status']})", 1
                )
            if value is not None and not before["interrupts"]:
                raise CliError(
                    f"thread {thread!r} is not waiting for an answer; resume without --value", 1
                )
            compiled.invoke(None if value is None else Command(resume=answer), config)
            summary = summarize(compiled, config, name)
    except (CliError, AgentPatternsError, OSError) as exc:
        raise fail(exc) from None
    finish(summary, as_json)


@app.command("history")
def history_command(
    thread: Annotated[str, typer.Argument(help="Thread id.")],
    checkpointer: CheckpointerOpt = DEFAULT_CHECKPOINTER,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Newest N.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List THREAD's checkpoints, newest first."""
    rows: list[dict[str, Any]] = []
    try:
        _require_db(checkpointer, thread)
        with open_checkpointer(checkpointer) as saver:
            for tup in saver.list({"configurable": {"thread_id": thread}}, limit=limit):
                values = tup.checkpoint.get("channel_values") or {}
                log = values.get("transitions") or []
                meta = tup.metadata or {}
                rows.append(
                    {
                        "checkpoint_id": (tup.config.get("configurable") or {}).get(
                            "checkpoint_id"
                        ),
                        "step": meta.get("step"),
                        "source": meta.get("source"),
                        "ts": tup.checkpoint.get("ts"),
                        "status": values.get("status"),
                        "state": log[-1]["to"] if log else None,
                        "validated": bool(values.get("validated") or values.get("consistent")),
                    }
                )
    except (CliError, AgentPatternsError, OSError) as exc:
        raise fail(exc) from None
    if not rows:
        raise fail(CliError(f"no thread {thread!r} in {checkpointer}", 1))
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table("checkpoint", "step", "source", "state", "status", "valid", title=thread)
    for r in rows:
        table.add_row(
            r["checkpoint_id"],
            str(r["step"]),
            str(r["source"]),
            str(r["state"]),
            str(r["status"]),
            "yes" if r["validated"] else "",
        )
    _out.print(table)


def _last_validated(snap: Any) -> bool:
    values = snap.values or {}
    return bool(values.get("validated") or values.get("consistent"))


@app.command("rollback")
def rollback_command(
    thread: Annotated[str, typer.Argument(help="Thread id.")],
    to: Annotated[str, typer.Option("--to", help="A checkpoint id, or 'last-validated'.")],
    graph: Annotated[str | None, typer.Option("--graph", help="Graph (default: recorded).")] = None,
    checkpointer: CheckpointerOpt = DEFAULT_CHECKPOINTER,
    as_json: JsonOpt = False,
    state_dir: StateDirOpt = None,
) -> None:
    """Rewind THREAD to a checkpoint and compensate the side effects recorded after it.

    ``last-validated`` is the newest checkpoint whose state is ``validated`` (or
    ``consistent``): the end of the last request that passed validation.
    """
    from agentpatterns import events
    from agentpatterns.resilience import last_where, rollback

    seen: list[Any] = []
    try:
        name, spec = graph_of_thread(checkpointer, thread, graph)
        config = thread_config(thread, name)
        target: Any = last_where(_last_validated) if to == "last-validated" else to
        with _open_graph(name, spec, checkpointer, Trace.none, state_dir) as compiled:
            res = _resources(compiled)
            with events.listen(seen.append):
                new = rollback(
                    compiled,
                    {"configurable": config["configurable"]},
                    to=target,
                    ledger=getattr(res, "ledger", None),
                    compensations=getattr(res, "compensations", None),
                )
            summary = summarize(compiled, config, name)
    except (CliError, AgentPatternsError, OSError) as exc:
        raise fail(exc) from None
    done = [e.attrs for e in seen if e.kind == "rollback"]
    summary["rolled_back_to"] = done[-1].get("to") if done else to
    summary["compensated"] = done[-1].get("compensated", 0) if done else 0
    summary["checkpoint_id"] = new.get("configurable", {}).get("checkpoint_id")
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    _out.print(
        f"rolled back thread [bold]{thread}[/] to {summary['rolled_back_to']}; "
        f"compensated {summary['compensated']} side effect(s); new head {summary['checkpoint_id']}"
    )


@app.command(
    "eval",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def eval_command(ctx: typer.Context) -> None:
    """Run the eval harness (``evals/``); all options are passed on (see --help)."""
    try:
        module = importlib.import_module("evals.cli")
    except ModuleNotFoundError as exc:
        raise fail(
            CliError(
                f"the eval harness is not available ({exc.name} not found): run from a checkout "
                "that has the evals/ folder, e.g. `python -m evals --help`",
                1,
            )
        ) from None
    code = module.main(list(ctx.args))
    raise typer.Exit(int(code or 0))


def _register_extras() -> None:
    from agentpatterns.observability.audit_cli import audit_app
    from agentpatterns.selector_cli import register

    register(app)
    app.add_typer(audit_app, name="audit")


_register_extras()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="agentpatterns", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
