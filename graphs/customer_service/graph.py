"""The guide's e-commerce customer-service agent over the τ²-bench retail store.

Patterns combined: a **state machine** (pattern 2) whose states are below; **tool
orchestration** (pattern 3) with per-agent allow-lists — the ``reader`` agent holds the nine
read tools, the ``writer`` agent (used only by ``execute``, after authentication and
confirmation) the seven writes; **error handling** (pattern 5) — classified ``Retry`` per
call, a ``CircuitBreaker`` on the store, an ``EffectLedger`` making every write happen once
(retries, lost responses, crashes), compensation of a request's earlier writes when a later
one fails, escalation to a human with ``interrupt``; **observability** (pattern 4) —
``Observability.instrument`` when one is given (spans, metrics, audit log).

.. code-block:: text

    authenticate ──> understand ──> plan ──> confirm ──> execute ──> validate ──> respond ──> done
         │               │           │  ╲        │        ↺ one call    │            │
         │               │           │   ╲(denied / info)──────────────────────────>│
         │               └───────────┴────────────┬──────────────────────┘(fault,   └──> escalated
         │                    (unknown request)   v          compensated)   ^
         └──(store down)──────────────────────> escalate ──> human ─────────┘
                                                                 └─(retry)──> plan

Mermaid: ``build().__agentpatterns__["machine"].to_mermaid()``.

Example:
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> from graphs.customer_service import build
    >>> graph = build().compile(checkpointer=InMemorySaver())
    >>> out = graph.invoke(
    ...     {"request": "Cancel order #W5918442, I no longer need it",
    ...      "email": "sofia.rossi2645@example.com", "confirm": True},
    ...     {"configurable": {"thread_id": "doc"}})
    >>> out["status"], out["answer"]
    ('done', 'Done: cancel order #W5918442 (no longer needed).')
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph import StateGraph
from langgraph.graph.message import add_messages

from agentpatterns.fsm import AgentState, StateMachine, key, when
from agentpatterns.orchestration import ToolPolicy, ToolRegistry
from agentpatterns.resilience import CircuitBreaker, EffectLedger, Retry, escalate_to_human
from graphs._common import (
    Resources,
    attach_resources,
    compensations_from,
    default_breaker,
    default_retry,
    marked,
    open_ledger,
)
from graphs.customer_service.nodes import CustomerServiceNodes
from graphs.customer_service.planners import ModelPlanner, as_planner

__all__ = ["CustomerServiceState", "build", "make_graph"]


class CustomerServiceState(AgentState, total=False):
    """State of the customer-service machine (inputs first)."""

    request: str
    email: str | None
    first_name: str | None
    last_name: str | None
    zip: str | None
    confirm: bool | None
    script: list[dict[str, Any]] | None
    tau2_task: str | None
    user_id: str | None
    authenticated: bool
    auth_method: str | None
    turn: int
    intents: list[dict[str, Any]]
    plan: list[dict[str, Any]]
    summary: list[str]
    cursor: int
    outcomes: list[dict[str, Any]]
    halted: bool
    confirmed: bool
    validated: bool
    compensated: list[dict[str, Any]]
    denied: str | None
    answer: str | None
    escalation_reason: str | None
    escalated: bool
    human_decision: dict[str, Any] | None
    messages: Annotated[list[AnyMessage], add_messages]
    tool_results: Annotated[list[dict[str, Any]], operator.add]


def _registry(
    store: Any,
    ledger: EffectLedger,
    retry: Retry | None,
    breaker: CircuitBreaker | None,
    timeout: float | None,
    wrap: Any,
) -> ToolRegistry:
    from tools.retail import READ_TOOLS, WRITE_TOOLS, compensation, reconciler
    from tools.retail import register_retail_tools as register

    overrides: dict[str, ToolPolicy] = {}
    for name in READ_TOOLS:
        overrides[name] = ToolPolicy(timeout=timeout, retry=retry, breaker=breaker)
    for name in WRITE_TOOLS:
        overrides[name] = ToolPolicy(
            timeout=timeout,
            retry=retry,
            breaker=breaker,
            side_effect=True,
            compensate=compensation(store, name),
            reconcile=reconciler(store, name),
        )
    registry = ToolRegistry(ledger=ledger)
    register(registry, store, policy_overrides=overrides, wrap=wrap)
    return registry


def build(
    *,
    planner: Any = None,
    store: Any = None,
    ledger: EffectLedger | str | None = None,
    retry: Retry | None = None,
    breaker: CircuitBreaker | bool | None = True,
    timeout: float | None = 10.0,
    faults: Any = None,
    observability: Any = None,
    state_dir: str | Path | None = None,
    max_steps: int = 300,
    name: str = "customer_service",
) -> StateGraph[Any]:
    """Build the customer-service machine (uncompiled; compile with a checkpointer).

    Args:
        planner: ``None``/``"rules"`` (the deterministic :class:`RetailRulePlanner`),
            ``"scripted"`` / a :class:`ScriptedPlanner` (replays τ² ground truth), any
            LangChain chat model, or an object with ``mode``/``understand``/``plan``.
            Whatever the planner, an input with ``script`` or ``tau2_task`` is replayed.
        store: A ``tools.retail.RetailStore``, a path/URL for one, or ``None`` (a fresh
            in-memory copy of the τ² store, or ``<state_dir>/retail.db``).
        ledger: An ``EffectLedger`` or its URL (the checkpointer's database is fine);
            default in memory, or ``<state_dir>/effects.db``.
        retry: Per-call retry (default: 8 attempts, 10-200 ms exponential waits).
        breaker: ``True`` (default breaker on the store), a breaker, or ``None``/``False``.
        timeout: Seconds per tool attempt.
        faults: A ``FaultInjector`` (``agentpatterns.testing.faults``) wrapping every tool.
        observability: An ``Observability`` to instrument the graph with.
        state_dir: Folder for the default store and ledger files.
        max_steps: Step budget of one request.

    State:
        See :class:`CustomerServiceState`: inputs ``request``, identity keys, ``confirm``,
        ``script``/``tau2_task``; outputs ``answer``, ``status``, ``outcomes``,
        ``validated``, ``compensated``, ``escalated``, ``human_decision``.
    """
    from tools.retail import WRITE_TOOLS, RetailStore

    resources = Resources()
    if store is None or isinstance(store, str | Path):
        target = store
        if target is None:
            target = "memory:" if state_dir is None else Path(state_dir) / "retail.db"
            if state_dir is not None:
                Path(state_dir).mkdir(parents=True, exist_ok=True)
        store = RetailStore(target)
        resources.closers.append(store.close)
    own_ledger = not isinstance(ledger, EffectLedger)
    ledger_obj = open_ledger(ledger, state_dir)
    if own_ledger:
        resources.closers.append(ledger_obj.close)
    if breaker is True:
        breaker = default_breaker("retail-store")
    registry = _registry(
        store,
        ledger_obj,
        retry if retry is not None else default_retry(),
        breaker or None,
        timeout,
        faults.wrap if faults is not None else None,
    )
    plan = as_planner(planner)
    if isinstance(plan, ModelPlanner):
        from tools.retail import data_dir

        policy = (data_dir() / "policy.md").read_text(encoding="utf-8")
        plan = plan.bind(registry.tools_for("writer"), tuple(WRITE_TOOLS), policy)
    nodes = CustomerServiceNodes(registry, ledger_obj, plan, tuple(WRITE_TOOLS), store)

    human_retry = when(
        lambda s: (s.get("human_decision") or {}).get("action") == "retry", name="human_retry"
    )
    more = when(
        lambda s: not s.get("halted") and (s.get("cursor") or 0) < len(s.get("plan") or []),
        name="more_calls",
    )
    nothing_to_do = when(lambda s: not s.get("plan"), name="nothing_to_do")
    m = StateMachine(CustomerServiceState, name=name, max_steps=max_steps)
    reads = {"tool_node": "executor", "registry": registry, "agent": "reader"}
    writes = {**reads, "agent": "writer", "ledger": ledger_obj}
    m.state("authenticate", marked(nodes.authenticate, **reads))
    m.state("understand", nodes.understand)
    m.state("plan", marked(nodes.plan, **reads), max_visits=3)
    m.state("confirm", nodes.confirm)
    m.state("execute", marked(nodes.execute, **writes))
    m.state("validate", marked(nodes.validate, **reads, compensate=True, ledger=ledger_obj))
    m.state("escalate", marked(nodes.escalate, **reads))
    m.state(
        "human",
        escalate_to_human(
            status_key=None, context_keys=("request", "user_id", "summary", "outcomes")
        ),
    )
    m.state("respond", nodes.respond)
    m.transition("authenticate", "understand", when=key("authenticated"))
    m.transition("authenticate", "escalate", when=key("escalation_reason"))
    m.transition("authenticate", "respond")
    m.transition("understand", "escalate", when=key("escalation_reason"))
    m.transition("understand", "plan")
    m.transition("plan", "escalate", when=key("escalation_reason"))
    m.transition("plan", "respond", when=nothing_to_do)
    m.transition("plan", "confirm")
    m.transition("confirm", "execute", when=key("confirmed"))
    m.transition("confirm", "respond")
    m.transition("execute", "execute", when=more)
    m.transition("execute", "validate")
    m.transition("validate", "escalate", when=key("escalation_reason"))
    m.transition("validate", "respond")
    m.transition("escalate", "human")
    m.transition("human", "plan", when=human_retry)
    m.transition("human", "respond")
    m.transition("respond", "escalated", when=key("escalated"))
    m.transition("respond", "done")
    builder = m.build()
    if observability is not None:
        builder = observability.instrument(builder)
    resources.ledger = ledger_obj
    resources.compensations = compensations_from(registry, WRITE_TOOLS)
    resources.extra.update(store=store, registry=registry)
    return attach_resources(builder, resources, machine=m, graph_name=name)


_GRAPHS: dict[str, Any] = {}


def make_graph(config: Any = None) -> Any:
    """The compiled graph ``langgraph.json`` serves (built once per process; the server
    supplies the checkpointer; ``graphs/server.py`` exports it for ``langgraph.json``)."""
    if "graph" not in _GRAPHS:
        _GRAPHS["graph"] = build().compile(name="customer_service")
    return _GRAPHS["graph"]
