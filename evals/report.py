"""Reports of an eval run: ``results.json``, ``report.md``, ``report.html``, plots, a table.

Everything goes into one run folder (default ``evals/reports/<UTC timestamp>-<suite>/``):

- ``results.json``: the run options, per (configuration, fault profile) metrics and target
  checks, and every episode (schema: ``evals/SCHEMA.md``);
- ``plots/*.png``: success against fault rate per configuration, pass^k curves, latency
  distributions, retries / rollbacks / side effects (matplotlib, Agg backend);
- ``report.md`` (links the plots) and ``report.html`` (plots embedded, self-contained).

Example:
    >>> from evals.report import fmt
    >>> fmt(0.5), fmt(None), fmt(3)
    ('0.500', '-', '3')
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from evals.faults import PROFILES, fault_rate
from evals.metrics import check_targets, summarize
from evals.schema import SCHEMA_ID, validate

__all__ = ["build_results", "fmt", "print_table", "write_reports"]

_CORE = ("pass_hat_n", "duplicates", "lost", "misreported", "retry_success_rate")


def fmt(value: Any) -> str:
    """A metric value for tables."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for dist in ("agentpatterns", "langgraph", "langchain-core", "opentelemetry-sdk"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "?"
    return out


def build_results(
    episodes: Sequence[dict[str, Any]], info: dict[str, Any], options: dict[str, Any]
) -> dict[str, Any]:
    """The ``results.json`` document (validated against the schema)."""
    groups: list[dict[str, Any]] = []
    configs = list(options["configs"])
    profiles = sorted(options["profiles"], key=lambda p: (fault_rate(p), PROFILES.index(p)))
    for config in configs:
        for profile in profiles:
            eps = [e for e in episodes if e["config"] == config and e["profile"] == profile]
            if not eps:
                continue
            metrics = summarize(eps, options["trials"])
            groups.append(
                {
                    "config": config,
                    "profile": profile,
                    "fault_rate": fault_rate(profile),
                    "metrics": metrics,
                    "targets": check_targets(metrics),
                }
            )
    run = {**options, **{k: v for k, v in info.items() if k != "workers"}}
    run["versions"] = _versions()
    doc = {"schema": SCHEMA_ID, "run": run, "groups": groups, "episodes": list(episodes)}
    validate(doc)
    return doc


def print_table(doc: dict[str, Any], console: Any = None) -> None:
    """The terminal summary (rich): one row per configuration and profile."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    trials = doc["run"]["trials"]
    table = Table(
        title=f"{doc['run']['suite']}: {doc['run']['episodes']} episodes, "
        f"{trials} trials, seed {doc['run']['seed']}, {doc['run']['elapsed_s']:.1f} s"
    )
    for col in (
        "config",
        "faults",
        "success",
        "pass^1",
        f"pass^{trials}",
        "dup",
        "lost",
        "misrep",
        "att/call",
        "retry ok",
        "rollback",
        "trans ok",
        "log cov",
        "tool p95 ms",
    ):
        table.add_column(col, justify="left" if col in ("config", "faults") else "right")
    for g in doc["groups"]:
        m = g["metrics"]
        ks = m["pass_hat_k"]
        se = m["side_effects"]
        last = ks.get(str(trials))
        style = "green" if last == 1.0 and se["duplicates"] == 0 else "red"
        table.add_row(
            g["config"],
            g["profile"],
            fmt(m["success_rate"]),
            fmt(ks.get("1")),
            f"[{style}]{fmt(last)}[/]",
            *_effect_cells(m),
            fmt(m["transition_success_rate"]),
            fmt(m["log_coverage"]),
            fmt(m["measured"]["tool_call_ms"]["p95"]),
        )
    console.print(table)


def _effect_cells(m: dict[str, Any]) -> list[str]:
    """dup, lost, misrep, attempts/call, retry ok, rollback: in both the terminal and Markdown."""
    se = m["side_effects"]
    return [
        fmt(se["duplicates"]),
        fmt(se["lost"]),
        fmt(se["misreported"]),
        fmt(m["attempts_per_call"]),
        fmt(m["retry_success_rate"]),
        fmt(m["rollback_rate"]),
    ]


def _targets_md(group: dict[str, Any]) -> list[str]:
    lines = ["| metric | value | target | source | verdict |", "|---|---|---|---|---|"]
    for t in group["targets"]:
        verdict = {True: "pass", False: "**FAIL**", None: "n/a"}[t["pass"]]
        lines.append(
            f"| {t['label']} | {fmt(t['value'])} | {t['target']} | {t['source']} | {verdict} |"
        )
    return lines


def _summary_md(doc: dict[str, Any]) -> list[str]:
    trials = doc["run"]["trials"]
    ks = [str(k) for k in range(1, trials + 1)]
    head = (
        ["config", "faults", "success"]
        + [f"pass^{k}" for k in ks]
        + ["dup", "lost", "misrep", "attempts/call", "retry ok", "rollback", "log cov"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in doc["groups"]:
        m = g["metrics"]
        row = [g["config"], g["profile"], fmt(m["success_rate"])]
        row += [fmt(m["pass_hat_k"].get(k)) for k in ks]
        row += [*_effect_cells(m), fmt(m["log_coverage"])]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def write_reports(doc: dict[str, Any], folder: Path) -> dict[str, Path]:
    """Write results.json, plots, report.md and report.html into ``folder``."""
    from evals.plots import make_plots

    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": folder / "results.json",
        "md": folder / "report.md",
        "html": folder / "report.html",
    }
    paths["json"].write_text(json.dumps(doc, indent=1, default=str) + "\n", encoding="utf-8")
    plots = make_plots(doc, folder / "plots")
    run = doc["run"]
    title = f"Eval report: {run['suite']} ({run['split']}), {run['started']}"
    md = [
        f"# {title}",
        "",
        f"{run['episodes']} episodes = {len(run['tasks'])} tasks x {run['trials']} trials x "
        f"{len(run['configs'])} configurations x {len(run['profiles'])} fault profiles; "
        f"seed {run['seed']}; {run['workers']} worker processes on {run['cpus']} CPUs; "
        f"{run['elapsed_s']:.1f} s.",
        "",
        "Success = the final store equals the fault-free replay's. pass^k = mean over "
        "tasks of C(c,k)/C(n,k). Duplicates = write-log rows beyond the fault-free replay's "
        "per business action (tool + arguments).",
        "",
        "## Summary",
        "",
        *_summary_md(doc),
        "",
    ]
    for g in doc["groups"]:
        md += [f"## {g['config']} under {g['profile']}", "", *_targets_md(g), ""]
    md += ["## Plots", ""] + [f"![{p.stem}](plots/{p.name})" for p in plots] + [""]
    paths["md"].write_text("\n".join(md), encoding="utf-8")
    paths["html"].write_text(_html(title, md, plots), encoding="utf-8")
    return paths


def _html(title: str, md: list[str], plots: list[Path]) -> str:
    body: list[str] = []
    in_table = False
    for line in md:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= {"-"}:
                continue
            if not in_table:
                body.append("<table>")
                in_table = True
                body.append("<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cells) + "</tr>")
                continue
            tds = "".join(
                f'<td class="{"fail" if "FAIL" in c else ""}">{html.escape(c.strip("*"))}</td>'
                for c in cells
            )
            body.append(f"<tr>{tds}</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("!["):
            continue
        elif line:
            body.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        body.append("</table>")
    for p in plots:
        data = base64.b64encode(p.read_bytes()).decode()
        body.append(
            f'<figure><img alt="{p.stem}" src="data:image/png;base64,{data}">'
            f"<figcaption>{p.stem}</figcaption></figure>"
        )
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:"
        "collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:"
        "right}td.fail{background:#fdd}img{max-width:100%}"
    )
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )
