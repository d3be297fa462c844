"""CLI commands ``agentpatterns recommend`` and ``agentpatterns check`` (wired by ``cli.py``).

Example:
    >>> import typer
    >>> from agentpatterns.selector_cli import register
    >>> app = register(typer.Typer())
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from agentpatterns.readiness import CHECKS, check_readiness
from agentpatterns.selector import WorkloadProfile, recommend

__all__ = ["check_command", "load_graph", "recommend_command", "register"]


def recommend_command(
    tools: Annotated[int, typer.Option("--tools", min=0, help="How many tools the agent calls.")],
    predictable: Annotated[
        bool, typer.Option("--predictable/--free", help="Steps follow a known order.")
    ] = False,
    high_risk: Annotated[bool, typer.Option("--high-risk", help="Mistakes are costly.")] = False,
    high_availability: Annotated[
        bool, typer.Option("--high-availability", help="Must keep serving when deps fail.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Walk the guide's decision tree and print the recommended patterns."""
    rec = recommend(WorkloadProfile(tools, predictable, high_risk, high_availability))
    if as_json:
        typer.echo(json.dumps(rec.to_dict(), indent=2))
    else:
        Console().print(rec.render())


def load_graph(target: str) -> Any:
    """Import ``module:attr``; call it when it is a factory; compile a ``StateGraph``."""
    module_name, sep, attr = target.partition(":")
    if not sep or not attr:
        raise typer.BadParameter(f"expected module:graph, got {target!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if callable(obj) and not hasattr(obj, "invoke") and not hasattr(obj, "compile"):
        obj = obj()  # a factory, as in langgraph.json
    graph: Any = obj
    if hasattr(graph, "compile") and not hasattr(graph, "invoke"):
        graph = graph.compile()
    return graph


def check_command(
    target: Annotated[
        str, typer.Argument(help="module:graph (compiled graph, builder or factory)")
    ],
    require: Annotated[
        list[str] | None,
        typer.Option("--require", "-r", help=f"Required checks (default all): {', '.join(CHECKS)}"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a graph against the production checklist; exit 1 when a required check fails."""
    graph = load_graph(target)
    report = check_readiness(graph, require=require or "all", name=target)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        Console().print(report.render())
    if not report.passed:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> typer.Typer:
    """Add ``recommend`` and ``check`` to ``app`` and return it."""
    app.command("recommend")(recommend_command)
    app.command("check")(check_command)
    return app
