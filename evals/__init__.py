"""The eval harness: suites, fault profiles, configurations, metrics and reports.

Run it with ``agentpatterns eval ...`` or ``python -m evals ...`` (see ``evals.cli``);
the schema of ``results.json`` is in ``evals/SCHEMA.md``.
"""

from evals.metrics import TARGETS, pass_hat_k, pass_hat_ks, percentile, summarize
from evals.runner import EvalOptions, run_eval

__all__ = [
    "TARGETS",
    "EvalOptions",
    "pass_hat_k",
    "pass_hat_ks",
    "percentile",
    "run_eval",
    "summarize",
]
