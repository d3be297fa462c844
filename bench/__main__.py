"""``python -m bench`` (``make bench``): run every ``bench/bench_*.py`` and write the results.

Each module exposes ``run(quick: bool) -> list[dict]`` (rows built with ``bench.common``).
Modules run one after another, each in a fresh Python process (no tracer, listener or cache
left over from another module; a crash or hang costs one module, not the run). One
PostgreSQL server is started for the whole run and shared through ``AGENTPATTERNS_BENCH_PG_URL``.

Writes ``bench/results/latest.json`` (schema below) and ``bench/results/SUMMARY.md`` and
prints the table. Exit code 0 unless a module crashed (a missed target is reported, not
an error; ``--strict`` makes a miss exit 1 too).

JSON schema (``"schema": "agentpatterns-bench/1"``)::

    {
      "schema": "agentpatterns-bench/1",
      "date": "2026-11-25T22:40:00+00:00",          # UTC, start of the run
      "quick": false,
      "duration_s": 312.4,
      "machine": {"platform", "machine", "cpu_model", "cpu_count", "cpus_usable",
                  "python", "langgraph", "langgraph_checkpoint", "langgraph_checkpoint_sqlite",
                  "langgraph_checkpoint_postgres", "agentpatterns", "git_commit",
                  "postgres", "loadavg_start", "loadavg_end"},
      "modules": {"<name>": {"status": "ok|error|timeout|skipped", "seconds": 12.3,
                             "error": "<message or null>"}},
      "results": [{"name", "figure", "value", "unit", "baseline", "ratio", "target",
                   "passed", "status", "notes", "extra"}, ...]   # see bench.common.Result
    }

Example:
    python -m bench                      # everything (< 10 min on 2 cores)
    python -m bench --quick              # smoke: tiny repeats, seconds per module
    python -m bench --only throughput --only recovery
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from importlib import import_module, metadata
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bench.common import FIGURES, NO_PG_ENV, PG_ENV, unavailable

SCHEMA = "agentpatterns-bench/1"
BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_OUT = BENCH_DIR / "results"
#: Why a figure can be missing: shown instead of a number, never a made-up value.
MISSING = {
    7: "audit-log query: bench_observability.py did not report it in this run",
    10: "eval harness: bench_evals.py did not report it in this run",
}
console = Console(stderr=True)


# --- discovery ----------------------------------------------------------------------------
def discover() -> dict[str, Path]:
    """``{name: path}`` of every ``bench/bench_<name>.py``."""
    return {p.stem.removeprefix("bench_"): p for p in sorted(BENCH_DIR.glob("bench_*.py"))}


def has_run(path: Path) -> bool:
    """True when the file defines a top-level ``run(quick, ...)`` (checked without importing:
    a module still written as a script must not start measuring on import)."""
    try:
        tree = ast.parse(path.read_text())
    except SyntaxError:
        return False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "run":
            params = [a.arg for a in node.args.posonlyargs + node.args.args]
            return params[:1] == ["quick"]
    return False


# --- machine ------------------------------------------------------------------------------
def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    ).stdout.strip()
    return (out.stdout.strip() + ("-dirty" if dirty else "")) or None


def machine_info() -> dict[str, Any]:
    """Where the numbers were measured."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "langgraph": _version("langgraph"),
        "langgraph_checkpoint": _version("langgraph-checkpoint"),
        "langgraph_checkpoint_sqlite": _version("langgraph-checkpoint-sqlite"),
        "langgraph_checkpoint_postgres": _version("langgraph-checkpoint-postgres"),
        "agentpatterns": _version("agentpatterns"),
        "git_commit": _git_commit(),
        "loadavg_start": list(os.getloadavg()),
    }


# --- running ------------------------------------------------------------------------------
def run_in_process(name: str, quick: bool) -> list[dict[str, Any]]:
    """Import ``bench.bench_<name>`` and call its ``run(quick)``."""
    module = import_module(f"bench.bench_{name}")
    rows = module.run(quick)
    return [dict(row) for row in rows]


def run_in_child(name: str, quick: bool, timeout: float) -> list[dict[str, Any]]:
    """Run one module in a fresh interpreter; its rows come back through a temp file."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "rows.json"
        cmd = [sys.executable, "-m", "bench", "--child", name, "--child-out", str(out)]
        if quick:
            cmd.append("--quick")
        proc = subprocess.run(cmd, cwd=ROOT, timeout=timeout, check=False)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"bench_{name} exited with code {proc.returncode}")
        return json.loads(out.read_text())


def fill_missing(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One honest ``n/a`` row for each figure no module reported."""
    seen = {row["figure"] for row in rows}
    for figure, title in FIGURES.items():
        if figure not in seen:
            reason = MISSING.get(figure, f"no bench module reported figure {figure} in this run")
            rows.append(unavailable(title, figure, reason))
    return sorted(rows, key=lambda r: r["figure"])


# --- output -------------------------------------------------------------------------------
def fmt(value: float | None) -> str:
    """3 significant digits, thousands separators for big numbers."""
    if value is None:
        return "-"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _cells(row: dict[str, Any]) -> list[str]:
    unit = f" {row['unit']}" if row["unit"] else ""
    value = fmt(row["value"]) + (unit if row["value"] is not None else "")
    base = fmt(row["baseline"]) + (unit if row["baseline"] is not None else "")
    ratio = f"{row['ratio']:.2f}x" if row["ratio"] is not None else "-"
    return [
        f"{row['figure']} {FIGURES.get(row['figure'], '')}".strip(),
        row["name"],
        value,
        base,
        ratio,
        row["target"] or "-",
        row["status"],
    ]


HEADERS = ["figure", "measurement", "value", "baseline", "ratio", "target", "result"]


def summary_markdown(report: dict[str, Any]) -> str:
    """The Markdown summary: header with date and machine, the table, then the notes."""
    m = report["machine"]
    lines = [
        "# Benchmark summary",
        "",
        f"Date: {report['date']} UTC. Machine: {m['cpu_model']}, {m['cpus_usable']} usable CPUs "
        f"({m['cpu_count']} total), {m['platform']}, Python {m['python']}, "
        f"LangGraph {m['langgraph']}, commit {m['git_commit']}. "
        f"Load average at start {m['loadavg_start'][0]:.2f}. "
        f"Mode: {'quick (smoke, not representative)' if report['quick'] else 'full'}; "
        f"run took {report['duration_s']:.0f} s.",
        "",
        "Ratio = candidate median / baseline median, both measured in this run (interleaved). "
        "Throughput ratios are candidate / baseline threads per second (higher is better).",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" for _ in HEADERS) + "|",
    ]
    for row in report["results"]:
        cells = [c.replace("|", "\\|") for c in _cells(row)]
        cells[-1] = {"pass": "PASS", "fail": "**FAIL**"}.get(cells[-1], cells[-1])
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Notes", ""]
    for row in report["results"]:
        if row["notes"]:
            lines.append(f"- **{row['figure']} / {row['name']}**: {row['notes']}")
    failed = {k: v for k, v in report["modules"].items() if v["status"] != "ok"}
    if failed:
        lines += ["", "## Modules that did not run cleanly", ""]
        for name, info in failed.items():
            lines.append(f"- bench_{name}: {info['status']}: {info.get('error') or ''}")
    return "\n".join(lines) + "\n"


def print_table(report: dict[str, Any]) -> None:
    table = Table(title=f"agentpatterns bench ({report['date']})", show_lines=False)
    for header in HEADERS:
        table.add_column(header, overflow="fold")
    styles = {"pass": "green", "fail": "bold red", "error": "red", "n/a": "dim"}
    for row in report["results"]:
        table.add_row(*_cells(row), style=styles.get(row["status"]))
    Console(width=None if sys.stdout.isatty() else 160).print(table)


# --- CLI ----------------------------------------------------------------------------------
def main(
    quick: Annotated[bool, typer.Option("--quick", help="Smoke mode: tiny repeats.")] = False,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Module name(s), e.g. throughput.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for latest.json/SUMMARY.md.")] = (
        DEFAULT_OUT
    ),
    in_process: Annotated[
        bool, typer.Option("--in-process", help="Run modules in this process (debugging).")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds allowed per module.")] = 300.0,
    strict: Annotated[bool, typer.Option(help="Exit 1 when a target is missed.")] = False,
    no_postgres: Annotated[bool, typer.Option("--no-postgres")] = False,
    child: Annotated[str | None, typer.Option(hidden=True)] = None,
    child_out: Annotated[Path | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run the benchmarks; write latest.json and SUMMARY.md; print the table."""
    if child is not None:  # inside the fresh interpreter of one module
        assert child_out is not None
        child_out.write_text(json.dumps(run_in_process(child, quick)))
        return
    modules = discover()
    names = [n for part in (only or []) for n in part.split(",") if n] or list(modules)
    unknown = [n for n in names if n not in modules]
    if unknown:
        raise typer.BadParameter(f"unknown module(s) {unknown}; known: {sorted(modules)}")
    started = time.perf_counter()
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "quick": quick,
        "duration_s": 0.0,
        "machine": machine_info(),
        "modules": {},
        "results": [],
    }
    if no_postgres:
        os.environ[NO_PG_ENV] = "1"
    needs_pg = any("postgres" in modules[n].read_text() for n in names)
    server = None if no_postgres or not needs_pg or os.environ.get(PG_ENV) else _start_postgres()
    report["machine"]["postgres"] = (
        "PostgreSQL 15, local, fsync=off (agentpatterns.testing.postgres)"
        if server is not None or os.environ.get(PG_ENV)
        else "not available"
    )
    rows: list[dict[str, Any]] = []
    try:
        for name in names:
            info: dict[str, Any] = {"status": "ok", "seconds": 0.0, "error": None}
            t0 = time.perf_counter()
            if not has_run(modules[name]):
                info.update(status="skipped", error="no run(quick) function yet (not integrated)")
            else:
                console.print(f"[bold]bench_{name}[/bold] ...")
                try:
                    got = (
                        run_in_process(name, quick)
                        if in_process
                        else run_in_child(name, quick, timeout)
                    )
                    rows.extend(got)
                except subprocess.TimeoutExpired:
                    info.update(status="timeout", error=f"over {timeout:.0f} s")
                except Exception as exc:
                    info.update(status="error", error=f"{type(exc).__name__}: {exc}")
                    if in_process:
                        traceback.print_exc()
            info["seconds"] = round(time.perf_counter() - t0, 2)
            console.print(f"  bench_{name}: {info['status']} in {info['seconds']:.1f} s")
            report["modules"][name] = info
    finally:
        if server is not None:
            server.stop()
            os.environ.pop(PG_ENV, None)
    report["results"] = fill_missing(rows) if only is None else rows
    report["duration_s"] = round(time.perf_counter() - started, 1)
    report["machine"]["loadavg_end"] = list(os.getloadavg())
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "SUMMARY.md").write_text(summary_markdown(report))
    print_table(report)
    console.print(f"wrote {out / 'latest.json'} and {out / 'SUMMARY.md'}")
    crashed = any(info["status"] in ("error", "timeout") for info in report["modules"].values())
    missed = any(row["status"] == "fail" for row in report["results"])
    raise typer.Exit(1 if crashed or (strict and missed) else 0)


def _start_postgres() -> Any:
    from agentpatterns.testing.postgres import (
        PostgresServer,
        PostgresUnavailable,
        postgres_available,
    )

    if not postgres_available():
        console.print("[yellow]PostgreSQL not available: PostgreSQL figures report n/a[/yellow]")
        return None
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as exc:
        server.stop()
        console.print(f"[yellow]PostgreSQL did not start: {exc}[/yellow]")
        return None
    os.environ[PG_ENV] = server.url
    return server


if __name__ == "__main__":
    typer.run(main)
