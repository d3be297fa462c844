"""Helpers of the ``agentpatterns`` command: graph loading, tracing, summaries, output.

Kept apart from :mod:`agentpatterns.cli` (the commands) so each stays readable.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.panel import Panel

from agentpatterns._store import parse_store_url
from agentpatterns.checkpoint import open_checkpointer

GROUP = "agentpatterns.graphs"
HOME = Path(".agentpatterns")
DEFAULT_CHECKPOINTER = f"sqlite:///{HOME / 'runs.db'}"
META_KEY = "agentpatterns_graph"

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


def fail(exc: BaseException, code: int = 1) -> typer.Exit:
    text = str(exc) if isinstance(exc, CliError) else f"{type(exc).__name__}: {exc}"
    _err.print(f"[bold red]error:[/] {text}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.code if isinstance(exc, CliError) else code)


def finish(summary: dict[str, Any], as_json: bool) -> NoReturn:
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


def parse_json(text: str | None, what: str) -> Any:
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


def thread_config(thread: str, name: str) -> dict[str, Any]:
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


def graph_of_thread(checkpointer: str, thread: str, graph: str | None) -> tuple[str, str]:
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


def summarize(graph: Any, config: dict[str, Any], name: str) -> dict[str, Any]:
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
