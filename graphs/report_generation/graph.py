"""Report generation: an orchestrator layer over parallel analytics executors.

Patterns combined: the **layered architecture** (pattern 1) — ``build_layered_graph``: the
orchestrator decomposes a report request into analytics subtasks and fans them out with
``Send``; each executor sees only the context keys it declared (``statuses`` for the sales,
customer and revenue sections; nothing for the others) and runs one analytics tool through
the **tool orchestration** executor (pattern 3, with output contracts from
``tools.analytics.OUTPUT_MODELS``); results are merged and rendered as one Markdown report.
**Error handling** (pattern 5): classified retry per tool call; a section whose tool stays
down is reported as missing (status ``partial``) while the others still arrive.

.. code-block:: text

                      ┌──> statuses  ──┐
                      ├──> sales     ──┤
    START ──> orchestrator ──> customers ──┼──> merge ──> report ──> END
     (decompose)      ├──> revenue   ──┤    (results, failures)  (Markdown)
                      └──> liability ──┘

Example:
    >>> from graphs.report_generation import build
    >>> out = build().compile().invoke({"task": "revenue and top customers"})
    >>> out["status"], sorted(out["results"])
    ('done', ['customers-0', 'revenue-1'])
    >>> out["report"].splitlines()[0]
    '# Report: revenue and top customers'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from langgraph.graph import END, START, StateGraph

from agentpatterns.errors import ToolExecutionError
from agentpatterns.layered import Executor, LayeredState, Subtask, build_layered_graph
from agentpatterns.orchestration import ToolPolicy, ToolRegistry, tool_executor
from agentpatterns.resilience import Retry
from graphs._common import Resources, attach_resources, default_retry, is_domain_error

__all__ = ["SECTIONS", "ReportState", "build", "decompose", "make_graph", "render"]

#: executor name -> (analytics tool, title, context keys, trigger words)
SECTIONS: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "statuses": ("order_status_counts", "Orders by status", (), ("status", "orders", "pipeline")),
    "sales": (
        "sales_by_product_type",
        "Sales by product type",
        ("statuses",),
        ("sales", "product"),
    ),
    "customers": ("top_customers", "Top customers", ("statuses",), ("customer", "top", "spend")),
    "revenue": ("revenue_report", "Revenue", ("statuses",), ("revenue", "income", "money")),
    "liability": ("gift_card_liability", "Gift-card liability", (), ("gift", "liabilit")),
}


class ReportState(LayeredState, total=False):
    """Layered state plus the report's context and output."""

    statuses: list[str] | None
    top: int
    report: str


def decompose(state: Mapping[str, Any]) -> list[Subtask]:
    """Request text -> one subtask per section it mentions (all five when none is named)."""
    text = str(state.get("task") or "").lower()
    names = [n for n, (_, _, _, words) in SECTIONS.items() if any(w in text for w in words)]
    if not names or "full" in text or "everything" in text:
        names = list(SECTIONS)
    out: list[Subtask] = []
    for n, name in enumerate(names):
        inputs: dict[str, Any] = {}
        if name == "customers":
            inputs["limit"] = int(state.get("top") or 5)
        out.append(Subtask(id=f"{name}-{n}", executor=name, inputs=inputs))
    return out


def _runner(registry: ToolRegistry, name: str) -> Any:
    tool, _, keys, _ = SECTIONS[name]
    node = tool_executor(registry, agent="analyst")

    def run(subtask: Subtask, context: Mapping[str, Any]) -> Any:
        args = dict(subtask.inputs)
        if "statuses" in keys and context.get("statuses"):
            args["statuses"] = list(context["statuses"])
        call = {"name": tool, "args": args, "id": subtask.id}
        outcome = node({"plan": [call]}, {})["tool_outcomes"][0]
        if outcome["ok"]:
            return outcome["output"]
        if is_domain_error(outcome):  # the tool answered no (contract, rule): not a fault
            raise ValueError(f"{tool} refused: {outcome['content']}")
        raise ToolExecutionError(  # infrastructure fault, retries used up: the section is missing
            f"{tool} failed after {outcome.get('attempts') or 0} attempt(s): {outcome['content']}",
            node=tool,
            attempt=outcome.get("attempts") or None,
        )

    run.__name__ = f"run_{name}"
    run.__agentpatterns__ = {"tool_node": "executor", "registry": registry, "agent": "analyst"}  # type: ignore[attr-defined]
    return run


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def render(state: Mapping[str, Any]) -> dict[str, Any]:
    """Aggregate the results into one Markdown report (sections in a fixed order)."""
    results: dict[str, Any] = dict(state.get("results") or {})
    failures: dict[str, Any] = dict(state.get("failures") or {})
    lines = [f"# Report: {state.get('task')}", ""]
    if state.get("statuses"):
        lines += [f"Orders in status: {', '.join(state['statuses'])}", ""]
    order = list(SECTIONS)
    for sub_id in sorted(results, key=lambda s: order.index(s.rsplit("-", 1)[0])):
        name = sub_id.rsplit("-", 1)[0]
        lines += [f"## {SECTIONS[name][1]}", ""]
        data = results[sub_id]
        for key, value in data.items() if isinstance(data, dict) else [("value", data)]:
            if isinstance(value, list):
                lines.append(f"- {key}:")
                lines += [f"  - {json.dumps(v, default=str)}" for v in value[:10]]
            elif isinstance(value, dict):
                lines.append(f"- {key}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in value.items()))
            else:
                lines.append(f"- {key}: {_fmt(value)}")
        lines.append("")
    if failures:
        lines += ["## Missing sections", ""]
        lines += [
            f"- {k}: {v.get('message') if isinstance(v, dict) else v}" for k, v in failures.items()
        ]
    return {"report": "\n".join(lines).rstrip() + "\n"}


def build(
    *,
    store: Any = None,
    retry: Retry | None = None,
    faults: Any = None,
    observability: Any = None,
    on_failure: str = "best_effort",
    name: str = "report_generation",
    **_: Any,
) -> StateGraph[Any]:
    """Build the report graph (uncompiled).

    Args:
        store: The ``tools.retail.RetailStore`` to report on (default: fresh τ² copy).
        retry: Per-call retry (default 8 attempts, short waits).
        faults: A ``FaultInjector`` wrapping the analytics tools.
        observability: An ``Observability`` to instrument with.
        on_failure: The layered failure policy (``best_effort``, ``retry``, ``fail_all``).

    State:
        Reads ``task`` (the request), ``statuses`` (optional filter), ``top``. Writes the
        layered keys (``subtasks``, ``results``, ``failures``, ``handoffs``, ``status``)
        and ``report`` (Markdown).
    """
    from tools import analytics
    from tools.retail import RetailStore

    resources = Resources()
    if store is None:
        store = RetailStore("memory:")
        resources.closers.append(store.close)
    retry = retry if retry is not None else default_retry()
    registry = ToolRegistry()
    contracts = analytics.policies()
    for tool in analytics.tools(store):
        policy = ToolPolicy(retry=retry, output_model=contracts[tool.name].output_model)
        registry.register(faults.wrap(tool) if faults else tool, policy=policy, agents=["analyst"])
    executors = [
        Executor(n, _runner(registry, n), context_keys=keys, description=title)
        for n, (_, title, keys, _) in SECTIONS.items()
    ]
    layers = build_layered_graph(
        decompose=decompose,
        executors=executors,
        context_keys=("statuses", "top"),
        state_schema=ReportState,
        on_failure=on_failure,
        name="analytics",
    )
    outer: StateGraph[Any] = StateGraph(ReportState)
    outer.add_node("layers", layers.compile())
    outer.add_node("report", render)
    outer.add_edge(START, "layers")
    outer.add_edge("layers", "report")
    outer.add_edge("report", END)
    if observability is not None:
        outer = observability.instrument(outer)
    resources.extra.update(store=store, registry=registry)
    return attach_resources(outer, resources, graph_name=name)


_GRAPHS: dict[str, Any] = {}


def make_graph(config: Any = None) -> Any:
    """The compiled graph ``langgraph.json`` serves (built once per process; the server
    supplies the checkpointer; ``graphs/server.py`` exports it for ``langgraph.json``)."""
    if "graph" not in _GRAPHS:
        _GRAPHS["graph"] = build().compile(name="report_generation")
    return _GRAPHS["graph"]
