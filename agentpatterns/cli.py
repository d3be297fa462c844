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
import inspect
import json
import sys
import uuid
from collections.abc import Iterator
from enum import StrEnum
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from agentpatterns._store import parse_store_url
from agentpatterns.checkpoint import open_checkpointer
from agentpatterns.errors import AgentPatternsError

__all__ = ["DEFAULT_CHECKPOINTER", "GROUP", "app", "main"]

GROUP = "agentpatterns.graphs"
HOME = Path(".agentpatterns")
DEFAULT_CHECKPOINTER = f"sqlite:///{HOME / 'runs.db'}"
META_KEY = "agentpatterns_graph"

app = typer.Typer(
    name="agentpatterns",
    help="Production patterns for LangGraph agents: run, resume, inspect and check graphs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_out = Console()
_err = Console(stderr=True)


class Trace(StrEnum):
    """Where spans go."""

    none = "none"
    console = "console"
    otlp = "otlp"


class CliError(Exception):
    """A user error: printed on stderr, exit code ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _fail(exc: BaseException, code: int = 1) -> typer.Exit:
    text = str(exc) if isinstance(exc, CliError) else f"{type(exc).__name__}: {exc}"
    _err.print(f"[bold red]error:[/] {text}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.code if isinstance(exc, CliError) else code)


def _finish(summary: dict[str, Any], as_json: bool) -> NoReturn:
    """Print a run/resume outcome and exit with the code its status maps to."""
    _show(summary, as_json)
    raise typer.Exit(_exit_code(summary))


# ----------------------------------------------------------------------------- loading
def registered_graphs() -> dict[str, str]:
    """``{name: "module:attr"}`` of the entry-point group ``agentpatterns.graphs``."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def resolve(graph: str) -> tuple[str, str]:
    """``(name, "module:attr")`` for a registered name or a ``module:attr`` spec."""
    if ":" in graph:
        return graph.rsplit(":", 1)[-1].replace(".", "_"), graph
    known = registered_graphs()
    if graph in known:
        return graph, known[graph]
    names = ", ".join(sorted(known)) or "none registered"
    raise CliError(f"unknown graph {graph!r}; known graphs: {names} (or pass module:attr)")


def _import(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise CliError(f"expected module:attr, got {spec!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise CliError(f"cannot load {spec!r}: {exc}") from exc
    return obj


def _kwargs_for(factory: Any, offered: dict[str, Any]) -> dict[str, Any]:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return {}
    named = {n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    kwargs = {k: v for k, v in offered.items() if k in named and v is not None}
    if "tracer_provider" in kwargs:  # the graph makes its own (audited) Observability
        kwargs.pop("observability", None)
    else:
        kwargs.pop("meter_provider", None)
    return kwargs


def _compile(obj: Any, saver: Any, offered: dict[str, Any]) -> Any:
    """Compile ``obj`` with ``saver``; instrument it unless its factory took the tracing."""
    obs = offered.get("observability")
    if hasattr(obj, "add_node") and hasattr(obj, "compile"):
        return (obs.instrument(obj) if obs is not None else obj).compile(checkpointer=saver)
    if hasattr(obj, "invoke") and hasattr(obj, "copy"):
        graph = obj.copy(update={"checkpointer": saver})
        return obs.instrument(graph) if obs is not None else graph
    if callable(obj):
        kwargs = _kwargs_for(obj, offered)
        traced = "observability" in kwargs or "tracer_provider" in kwargs
        rest = {} if traced or obs is None else {"observability": obs}
        return _compile(obj(**kwargs), saver, rest)
    raise CliError(f"{obj!r} is not a StateGraph, a compiled graph or a factory of one")


def _resources(graph: Any) -> Any:
    builder = getattr(graph, "builder", graph)
    return (getattr(builder, "__agentpatterns__", None) or {}).get("resources")


@contextlib.contextmanager
def _tracing(trace: Trace) -> Iterator[dict[str, Any]]:
    """Build arguments for tracing: ``observability`` and the providers behind it."""
    if trace is Trace.none:
        yield {}
        return
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    from agentpatterns.observability import Observability

    provider = TracerProvider()
    if trace is Trace.console:
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise CliError("--trace otlp needs: pip install 'agentpatterns[otlp]'") from exc
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    obs = Observability(tracer_provider=provider)
    try:
        yield {"observability": obs, "tracer_provider": provider}
    finally:
        obs.close()
        provider.shutdown()


@contextlib.contextmanager
def _open_graph(
    name: str, spec: str, checkpointer: str, trace: Trace, state_dir: Path | None
) -> Iterator[Any]:
    """Open the checkpointer, build and compile the graph; close everything afterwards."""
    store = parse_store_url(checkpointer)
    obj = _import(spec)  # before creating anything: a bad spec changes nothing
    if store.kind == "sqlite" and store.path not in (":memory:", ""):
        Path(store.path).parent.mkdir(parents=True, exist_ok=True)
    folder = state_dir if state_dir is not None else HOME / name
    offered: dict[str, Any] = {
        "state_dir": str(folder),
        "ledger": checkpointer if store.kind != "memory" else None,
    }
    with _tracing(trace) as tracing, open_checkpointer(checkpointer) as saver:
        offered.update(tracing)
        graph = _compile(obj, saver, offered)
        try:
            yield graph
        finally:
            res = _resources(graph)
            if res is not None and hasattr(res, "close"):
                res.close()


def _parse_json(text: str | None, what: str) -> Any:
    if text is None:
        return None
    raw = text
    if text.startswith("@"):
        try:
            raw = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot read {what} file {text[1:]!r}: {exc}") from exc
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} column "
            f"{exc.colno}): {raw[:60]!r}"
        ) from exc


def _config(thread: str, name: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}, "metadata": {META_KEY: name}}


def _require_db(checkpointer: str, thread: str) -> None:
    """A thread cannot live in a SQLite file that does not exist (and we must not create it)."""
    store = parse_store_url(checkpointer)
    if (
        store.kind == "sqlite"
        and store.path not in ("", ":memory:")
        and not Path(store.path).exists()
    ):
        raise CliError(f"no thread {thread!r}: {checkpointer} does not exist", code=1)


def _graph_of_thread(checkpointer: str, thread: str, graph: str | None) -> tuple[str, str]:
    _require_db(checkpointer, thread)
    recorded: Any = None
    found = False
    with open_checkpointer(checkpointer) as saver:
        # the newest checkpoint that names its graph (a rollback's fork does not)
        for tup in saver.list({"configurable": {"thread_id": thread}}):
            found = True
            recorded = (tup.metadata or {}).get(META_KEY)
            if recorded or graph is not None:
                break
    if not found:
        raise CliError(f"no thread {thread!r} in {checkpointer}", code=1)
    if graph is not None:
        return resolve(graph)
    if not recorded:
        raise CliError(f"thread {thread!r} was not started by this CLI; pass --graph NAME")
    return resolve(str(recorded))


# ----------------------------------------------------------------------------- output
def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_default))


def _default(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "content") and hasattr(obj, "type"):
        return {"type": obj.type, "content": obj.content}
    return str(obj)


def _summary(graph: Any, config: dict[str, Any], name: str) -> dict[str, Any]:
    snap = graph.get_state({"configurable": config["configurable"]})
    values: dict[str, Any] = dict(snap.values or {})
    interrupts = [
        {"id": i.id, "value": _jsonable(i.value)} for t in snap.tasks for i in t.interrupts
    ]
    status = values.get("status")
    if interrupts:
        status = "paused"
    elif snap.next:
        status = "interrupted"
    transitions = values.get("transitions") or []
    path: list[str] = []
    for rec in reversed(transitions):
        path.insert(0, rec["to"])
        if rec["from"] == "start":
            break
    answer = values.get("answer") or values.get("report")
    return {
        "graph": name,
        "thread_id": config["configurable"]["thread_id"],
        "checkpoint_id": snap.config.get("configurable", {}).get("checkpoint_id"),
        "status": status or ("done" if not snap.next else "interrupted"),
        "answer": answer,
        "reason": values.get("escalation_reason")
        or (values.get("reason") if status not in ("done", None) else None),
        "path": path,
        "next": list(snap.next),
        "interrupts": interrupts,
        "values": _jsonable({k: v for k, v in values.items() if k not in ("messages",)}),
    }


def _show(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    colour = {"done": "green", "paused": "yellow", "escalated": "yellow"}.get(
        str(summary["status"]), "red"
    )
    lines = [
        f"[bold]graph[/]   {summary['graph']}",
        f"[bold]thread[/]  {summary['thread_id']}   checkpoint {summary['checkpoint_id']}",
        f"[bold]status[/]  [{colour}]{summary['status']}[/]",
    ]
    if summary["path"]:
        lines.append(f"[bold]path[/]    {' -> '.join(summary['path'])}")
    if summary["reason"]:
        lines.append(f"[bold]reason[/]  {summary['reason']}")
    if summary["answer"]:
        lines.append(f"[bold]answer[/]  {summary['answer']}")
    for intr in summary["interrupts"]:
        lines.append(f"[bold]waiting[/] {json.dumps(intr['value'], ensure_ascii=False)[:600]}")
        lines.append(
            f"[dim]resume with: agentpatterns resume {summary['thread_id']} --value '<json>'[/]"
        )
    _out.print(Panel("\n".join(lines), title="agentpatterns", expand=False))


def _exit_code(summary: dict[str, Any]) -> int:
    return 1 if summary["status"] in ("failed", "timed_out") else 0


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
        data = _parse_json(input_json, "INPUT_JSON")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise CliError(f"INPUT_JSON must be a JSON object, got {type(data).__name__}")
        name, spec = resolve(graph)
        parse_store_url(checkpointer)
        thread_id = thread or f"run-{uuid.uuid4().hex[:8]}"
        config = _config(thread_id, name)
        with _open_graph(name, spec, checkpointer, trace, state_dir) as compiled:
            compiled.invoke(data, config)
            summary = _summary(compiled, config, name)
    except (CliError, AgentPatternsError, OSError) as exc:
        raise _fail(exc) from None
    _finish(summary, as_json)


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
        answer = _parse_json(value, "--value")
        name, spec = _graph_of_thread(checkpointer, thread, graph)
        config = _config(thread, name)
        with _open_graph(name, spec, checkpointer, trace, state_dir) as compiled:
            before = _summary(compiled, config, name)
            if not before["next"]:
                raise CliError(
                    f"thread {thread!r} has nothing to resume (status {before['status']})", 1
                )
            if value is not None and not before["interrupts"]:
                raise CliError(
                    f"thread {thread!r} is not waiting for an answer; resume without --value", 1
                )
            compiled.invoke(None if value is None else Command(resume=answer), config)
            summary = _summary(compiled, config, name)
    except (CliError, AgentPatternsError, OSError) as exc:
        raise _fail(exc) from None
    _finish(summary, as_json)


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
        raise _fail(exc) from None
    if not rows:
        raise _fail(CliError(f"no thread {thread!r} in {checkpointer}", 1))
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
        name, spec = _graph_of_thread(checkpointer, thread, graph)
        config = _config(thread, name)
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
            summary = _summary(compiled, config, name)
    except (CliError, AgentPatternsError, OSError) as exc:
        raise _fail(exc) from None
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
        raise _fail(
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
