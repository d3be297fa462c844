"""Notebook 07: the eval harness."""

from _common import HELPERS, code, md

CELLS = [
    md(
        """
# 07 · The eval harness: measure before you ship

The patterns make promises (no lost or duplicated side effects, correct final state under
faults, bounded retries). The eval harness in `evals/` measures them: it runs a suite of tasks
(here the τ²-bench retail tasks, replayed by a scripted planner, so no model is needed and the
runs are reproducible) under **fault profiles**, against several **configurations** of the same
agent, several trials each, and reports pass^k, side-effect accounting, retry and rollback
rates and latencies, with plots.

From a shell: `agentpatterns eval --suite tau2-retail --split test --faults flaky-30 --trials 8`.
Here we run a small eval in-process (3 tasks × 3 configurations × 3 fault profiles × 2 trials)
in a few seconds.
"""
    ),
    HELPERS,
    code(
        """
%matplotlib inline
from agentpatterns.testing.faults import FAULT_PROFILES
from evals.configs import CONFIGS
from evals.faults import fault_rate

print("configurations:", ", ".join(CONFIGS))
table(
    [(name, fault_rate(name), kwargs or "-") for name, kwargs in FAULT_PROFILES.items()],
    ["fault profile", "fault rate per call", "FaultInjector arguments"],
    width=100,
)
"""
    ),
    md(
        """
The configurations compared on the same tasks, faults and seeds:

| configuration | what it is |
| --- | --- |
| `full` | the `customer_service` reference graph: state machine, tool executor with classified retry, breaker, effect ledger with reconcile, compensation, escalation, observability with audit log, SQLite checkpointer |
| `no-error-handling` | state machine + tool executor + observability, but plain `ToolPolicy()`: no retry, breaker, ledger or rollback |
| `raw-toolnode` | plain LangGraph: a scripted agent node and `ToolNode` with LangGraph's default `RetryPolicy` |
| `no-logging`, `monolith`, `free-flow` | `full` without observability; one node calling every tool; an agent-tools loop retrying everything blindly |

Every episode's seed depends on (run seed, task, trial) only, so every configuration meets
exactly the same faults.

## 1. Run a small eval
"""
    ),
    code(
        """
import time

from evals import EvalOptions, run_eval

options = EvalOptions(
    suite="tau2-retail",
    tasks=["5", "9", "13"],  # a return, an exchange, an order modification with address writes
    configs=["full", "no-error-handling", "raw-toolnode"],
    profiles=["none", "flaky-30", "lost-response"],
    trials=2,
    seed=0,
    workers=0,  # in this process; the CLI spreads episodes over worker processes
    out=WORKDIR / "eval-run",
)
done_at = []
started = time.perf_counter()
episodes, info = run_eval(options, progress=lambda done, total: done_at.append((done, total)))
print(f"{len(episodes)} episodes in {time.perf_counter() - started:.1f} s")
table(
    [{k: e[k] for k in ("config", "profile", "task", "trial", "success", "status", "wall_ms")}
     for e in episodes if e["task"] == "9"],
    limit=20,
)
"""
    ),
    md(
        """
Each episode records whether the final store equals the fault-free replay of the task
(`success`), the final status, the calls (attempts, retries), the side effects (executed,
duplicated, lost, misreported), the faults injected, transitions and timings.

## 2. Metrics per configuration and fault profile
"""
    ),
    code(
        """
from evals.report import build_results

doc = build_results(episodes, info, options.describe())
rows = []
for g in doc["groups"]:
    m = g["metrics"]
    se = m["side_effects"]
    rows.append({
        "config": g["config"],
        "faults": g["profile"],
        "success": m["success_rate"],
        "pass^2": m["pass_hat_k"]["2"],
        "retried calls": m["calls"]["retried"],
        "retry success": m["retry_success_rate"] if m["retry_success_rate"] is not None else "-",
        "duplicated writes": se["duplicates"],
        "lost writes": se["lost"],
        "misreported": se["misreported"],
    })
table(rows)
full = {g["profile"]: g["metrics"] for g in doc["groups"] if g["config"] == "full"}
assert all(m["success_rate"] == 1.0 and m["side_effects"]["duplicates"] == 0 for m in full.values())
"""
    ),
    md(
        """
**What you see:** without faults every configuration solves the tasks. Under 30 % transient
faults and under lost responses the full stack still ends every episode in the correct final
store with zero duplicated, lost or misreported writes; the configurations without the
error-handling pattern lose episodes (a failed write leaves a wrong final store), and plain
LangGraph retries can report a write that committed as failed (`misreported`). pass^k is the
probability that all k trials of a task succeed: the number that matters for an agent that has
to be reliable every time, not on average.

Every group is also checked against the targets (ours and the guide's):
"""
    ),
    code(
        """
flaky_full = next(g for g in doc["groups"] if g["config"] == "full" and g["profile"] == "flaky-30")
table(
    [(t["label"], t["target"], t["source"], t["value"], "pass" if t["pass"] else "**FAIL**")
     for t in flaky_full["targets"] if t["value"] is not None],
    ["metric", "target", "source", "value", "result"],
)
"""
    ),
    md(
        """
## 3. Plots

A quick inline chart straight from the results document, then the harness's own figures (the
same PNGs that `agentpatterns eval` embeds in `report.html`).
"""
    ),
    code(
        """
import matplotlib.pyplot as plt

configs = list(dict.fromkeys(g["config"] for g in doc["groups"]))
profiles = list(dict.fromkeys(g["profile"] for g in doc["groups"]))
fig, ax = plt.subplots(figsize=(7, 3.2))
width = 0.8 / len(configs)
for i, config in enumerate(configs):
    values = [next(g["metrics"]["success_rate"] for g in doc["groups"]
                   if g["config"] == config and g["profile"] == p) for p in profiles]
    ax.bar([x + i * width for x in range(len(profiles))], values, width, label=config)
ax.set_xticks([x + width for x in range(len(profiles))], profiles)
ax.set_ylabel("success rate")
ax.set_ylim(0, 1.05)
ax.legend(fontsize=8, loc="lower left")
ax.set_title("Correct final store, by configuration and fault profile")
plt.show()
"""
    ),
    code(
        """
from IPython.display import Image

from evals.plots import make_plots

figures = make_plots(doc, WORKDIR / "eval-run" / "plots")
for path in figures:
    display(Markdown(f"**{path.stem.replace('_', ' ')}**"))
    display(Image(filename=str(path)))
print(len(figures), "figures")
"""
    ),
    md(
        """
## 4. The written report

`write_reports` writes `results.json` (schema in `evals/SCHEMA.md`), `report.md` and a
self-contained `report.html` into the run folder, as the CLI does.
"""
    ),
    code(
        """
from evals.report import write_reports

paths = write_reports(doc, WORKDIR / "eval-run")
print({kind: path.name for kind, path in paths.items()})
display(Markdown("\\n".join(paths["md"].read_text(encoding="utf-8").splitlines()[:25])))
"""
    ),
    md(
        """
## Takeaways

- Compare configurations on the same tasks, faults and seeds: differences are the patterns'.
- Judge by the final state (and pass^k), and count side effects: a run that "succeeded" while
  charging twice is a failure.
- Run `agentpatterns eval` in CI with `--strict` to fail the build when the full stack misses
  pass^n = 1 or duplicates or loses a side effect.
"""
    ),
]
