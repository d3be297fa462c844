"""Matplotlib figures of an eval run (Agg backend; PNG files).

Example:
    >>> from evals.plots import FIGURES
    >>> FIGURES[0]
    'success_vs_fault_rate'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["FIGURES", "make_plots"]

FIGURES = ("success_vs_fault_rate", "pass_hat_k", "latency", "retries_rollbacks")


def make_plots(doc: dict[str, Any], folder: Path) -> list[Path]:
    """Draw the figures of ``doc`` (a results document) into ``folder``; their paths."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    groups = doc["groups"]
    configs = list(dict.fromkeys(g["config"] for g in groups))
    paths: list[Path] = []

    # 1. success against fault rate: transient faults as lines (a small x offset per
    #    configuration keeps equal lines apart), every profile as grouped bars
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.4), gridspec_kw={"width_ratios": [1, 1.4]})
    family = ("none", "flaky-10", "flaky-30", "outage")
    for n, config in enumerate(configs):
        pts = sorted(
            (g["fault_rate"], g["metrics"]["success_rate"] or 0.0)
            for g in groups
            if g["config"] == config and g["profile"] in family
        )
        if pts:
            dx = (n - (len(configs) - 1) / 2) * 0.006
            a1.plot([p[0] + dx for p in pts], [p[1] for p in pts], marker="o", label=config)
    a1.set_xlabel("injected transient fault rate per tool call (none, flaky-10/30, outage)")
    a1.set_ylabel("success rate (final state correct)")
    a1.set_ylim(-0.03, 1.05)
    a1.set_title("Success against fault rate", fontsize=10)
    a1.grid(alpha=0.3)
    if a1.lines:
        a1.legend(fontsize=7)
    profiles = list(dict.fromkeys(g["profile"] for g in groups))
    width = 0.8 / max(len(configs), 1)
    for n, config in enumerate(configs):
        vals = [
            next(
                (
                    g["metrics"]["success_rate"] or 0.0
                    for g in groups
                    if g["config"] == config and g["profile"] == p
                ),
                0.0,
            )
            for p in profiles
        ]
        a2.bar(
            [i + (n - (len(configs) - 1) / 2) * width for i in range(len(profiles))],
            vals,
            width=width,
            label=config,
        )
    a2.set_xticks(range(len(profiles)), profiles, rotation=20, fontsize=7)
    a2.set_ylim(0, 1.05)
    a2.set_title("Success per fault profile", fontsize=10)
    a2.legend(fontsize=6, ncol=2)
    paths.append(_save(fig, folder / "success_vs_fault_rate.png"))

    # 2. pass^k curves per configuration and profile
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for g in groups:
        ks = g["metrics"]["pass_hat_k"]
        xs = sorted(int(k) for k in ks)
        ax.plot(xs, [ks[str(k)] for k in xs], marker=".", label=f"{g['config']} / {g['profile']}")
    ax.set_xlabel("k")
    ax.set_ylabel("pass^k")
    ax.set_ylim(-0.03, 1.05)
    ax.set_title("pass^k (all k trials of a task succeed)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    paths.append(_save(fig, folder / "pass_hat_k.png"))

    # 3. latency distributions: tool calls and whole episodes, per configuration
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.2))
    tool = [_values(doc, c, "call_latency_ms") for c in configs]
    wall = [[e["wall_ms"] for e in doc["episodes"] if e["config"] == c] for c in configs]
    _box(a1, tool, configs, "tool invocation latency (ms)")
    _box(a2, wall, configs, "episode wall time (ms)")
    paths.append(_save(fig, folder / "latency.png"))

    # 4. retries, rollbacks and side effects per configuration (summed over profiles)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.2))
    att = [_mean_of(groups, c, "attempts_per_call") for c in configs]
    rb = [_mean_of(groups, c, "rollback_rate") for c in configs]
    x = range(len(configs))
    a1.bar([i - 0.2 for i in x], att, width=0.4, label="attempts per call")
    a1.bar([i + 0.2 for i in x], rb, width=0.4, label="rollback rate")
    a1.set_xticks(list(x), configs, rotation=25, fontsize=7)
    a1.set_title("retries and rollbacks")
    a1.legend(fontsize=7)
    for offset, key in ((-0.27, "duplicates"), (0.0, "misreported"), (0.27, "missing")):
        vals = [
            sum(g["metrics"]["side_effects"][key] for g in groups if g["config"] == c)
            for c in configs
        ]
        a2.bar([i + offset for i in x], vals, width=0.27, label=key)
    a2.set_xticks(list(x), configs, rotation=25, fontsize=7)
    a2.set_title("side effects (write log vs fault-free replay)")
    a2.legend(fontsize=7)
    paths.append(_save(fig, folder / "retries_rollbacks.png"))
    plt.close("all")
    return paths


def _values(doc: dict[str, Any], config: str, key: str) -> list[float]:
    return [v for e in doc["episodes"] if e["config"] == config for v in e.get(key) or []]


def _mean_of(groups: list[dict[str, Any]], config: str, key: str) -> float:
    vals = [g["metrics"][key] for g in groups if g["config"] == config and g["metrics"][key]]
    return sum(vals) / len(vals) if vals else 0.0


def _box(ax: Any, data: list[list[float]], labels: list[str], title: str) -> None:
    shown = [(d, label) for d, label in zip(data, labels, strict=True) if d]
    if shown:
        ax.boxplot([d for d, _ in shown], showfliers=False)
        ax.set_xticks(
            range(1, len(shown) + 1), [label for _, label in shown], rotation=25, fontsize=7
        )
    ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
