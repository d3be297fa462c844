"""``agentpatterns eval`` / ``python -m evals``: run a suite under faults and report.

Example (the done-when run)::

    agentpatterns eval --suite tau2-retail --split test --faults flaky-30 --trials 8

``app`` is a typer app whose callback is the command (so ``app.add_typer(app, name="eval")``
mounts it as ``agentpatterns eval``); ``main(argv)`` runs it and returns the exit code.
Exit codes: 0 done (and, with ``--strict``, the ``full`` configuration met pass^n = 1 with
zero duplicated and lost side effects), 1 ``--strict`` check failed, 2 bad options.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["app", "main", "run"]

app = typer.Typer(
    name="eval",
    help="Run an eval suite under injected faults and write a report.",
    add_completion=False,
    no_args_is_help=False,
)

_REPORTS = Path(__file__).resolve().parent / "reports"


def _split_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [p.strip() for p in text.split(",") if p.strip()]


def _default_workers() -> int:
    return max(2, os.cpu_count() or 2)


@app.callback(invoke_without_command=True)
def run(
    ctx: typer.Context,
    suite: Annotated[
        str,
        typer.Option(
            help="tau2-retail, or a scenario suite: "
            "order-processing, report-generation, "
            "customer-service, diagnosis, scenarios (all four)"
        ),
    ] = "tau2-retail",
    split: Annotated[str, typer.Option(help="tau2-retail split: train, test or all")] = "test",
    faults: Annotated[
        str,
        typer.Option(help="fault profiles, comma separated, or sweep / transient / crash / all"),
    ] = "flaky-30",
    configs: Annotated[
        str | None, typer.Option(help="configurations, comma separated (default: all of the suite)")
    ] = None,
    trials: Annotated[int, typer.Option(min=1, help="trials per task (pass^k for k<=trials)")] = 4,
    seed: Annotated[int, typer.Option(help="run seed: same seed, same numbers")] = 0,
    workers: Annotated[
        int | None,
        typer.Option(min=0, help="worker processes (0: in this process; default: max(2, CPUs))"),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="only the first N tasks")] = None,
    tasks: Annotated[str | None, typer.Option(help="only these task ids, comma separated")] = None,
    out: Annotated[
        Path | None, typer.Option(help="run folder (default evals/reports/<timestamp>-<suite>)")
    ] = None,
    full_hash: Annotated[bool, typer.Option(help="judge by the whole-store hash")] = False,
    keep_work: Annotated[bool, typer.Option(help="keep the workers' SQLite files")] = False,
    strict: Annotated[
        bool,
        typer.Option(
            help="exit 1 unless 'full' reaches pass^n = 1 with no duplicated or lost side effects"
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the groups as JSON")] = False,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Run the suite and write results.json, report.md, report.html and plots."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console

    from agentpatterns.errors import ConfigurationError
    from evals.configs import CONFIGS
    from evals.faults import parse_profiles
    from evals.report import build_results, print_table, write_reports
    from evals.runner import EvalOptions, run_eval

    console = Console(stderr=as_json, width=None if sys.stdout.isatty() else 160)
    try:
        profiles = parse_profiles(faults)
        known = _configs_of(suite)
        chosen = _split_list(configs) or list(known)
        unknown = [c for c in chosen if c not in known]
        if unknown:
            raise ConfigurationError(
                f"unknown configuration(s) {unknown} for suite {suite}; known: {list(known)}"
            )
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        folder = out or _REPORTS / f"{stamp}-{suite}"
        opts = EvalOptions(
            suite=suite,
            split=split,
            profiles=profiles,
            configs=chosen,
            trials=trials,
            seed=seed,
            workers=_default_workers() if workers is None else workers,
            limit=limit,
            tasks=_split_list(tasks),
            out=folder,
            full_hash=full_hash,
            keep_work=keep_work,
        )
        from evals.runner import suite_tasks

        suite_tasks(opts)  # validates suite and split before starting workers
    except (ConfigurationError, KeyError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    del CONFIGS
    episodes, info = _run_with_progress(opts, run_eval, console, quiet or as_json)
    doc = build_results(episodes, info, opts.describe())
    paths = write_reports(doc, folder)
    if as_json:
        sys.stdout.write(json.dumps({"run": doc["run"], "groups": doc["groups"]}, default=str))
        sys.stdout.write("\n")
    else:
        print_table(doc, console)
        console.print(f"report: {paths['md']}  ({paths['html'].name}, {paths['json'].name})")
    if strict and not _strict_ok(doc):
        console.print(
            "[red]strict check failed: 'full' missed pass^n = 1 or had duplicated/"
            "lost side effects[/]"
        )
        raise typer.Exit(1)


def _configs_of(suite: str) -> tuple[str, ...]:
    if suite == "tau2-retail":
        from evals.configs import CONFIGS

        return CONFIGS
    from evals import scenarios

    return scenarios.suite(suite).CONFIGS


def _strict_ok(doc: dict[str, Any]) -> bool:
    for g in doc["groups"]:
        if g["config"] != "full":
            continue
        m = g["metrics"]
        ks = m["pass_hat_k"]
        if ks and ks[max(ks, key=int)] != 1.0:
            return False
        if m["side_effects"]["duplicates"] or m["side_effects"]["lost"]:
            return False
    return True


def _run_with_progress(opts: Any, run_eval: Any, console: Any, quiet: bool) -> Any:
    if quiet:
        return run_eval(opts)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(f"{opts.suite} episodes", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return run_eval(opts, progress=progress)


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of results.json."""
    from evals.schema import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); the exit code."""
    try:
        code = app(args=argv, prog_name="agentpatterns eval", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except SystemExit as exc:  # click usage errors in non-standalone mode
        return int(exc.code or 0)
    except Exception as exc:
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return 2
        raise
    return int(code) if isinstance(code, int) else 0
