"""The guide's production checklist, checked against a compiled graph.

``check_readiness(graph)`` looks at what a graph *is*, never runs it: the node specs
(``retry_policy``, ``error_handler``, ``timeout``), the ``__agentpatterns__`` markers every
pattern puts on the callables it creates (see :data:`MARKER_KEYS`), the checkpointer, the
interrupt nodes, the tool registries (contracts and policies), nested subgraphs and layered
executors, and the alert listeners attached to the event hook.

Example:
    >>> from langgraph.graph import StateGraph
    >>> from agentpatterns.readiness import check_readiness
    >>> b = StateGraph(dict)
    >>> _ = b.add_node("n", lambda s: s).set_entry_point("n").set_finish_point("n")
    >>> report = check_readiness(b.compile(), require=("state_strategy",))
    >>> report.passed, report["state_strategy"].reason
    (False, 'no checkpointer: a crash loses the run')
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from agentpatterns import events
from agentpatterns.selector import Recommendation

__all__ = [
    "CHECKS",
    "MARKER_KEYS",
    "CheckResult",
    "GraphFacts",
    "ReadinessReport",
    "check_readiness",
    "collect_facts",
]

#: Marker keys read from ``callable.__agentpatterns__`` (and from ``builder.__agentpatterns__``).
#: Each pattern sets them on the callables its factories create; readiness only reads them.
MARKER_KEYS: Final[dict[str, str]] = {
    "fsm_state": "fsm: the node is a declared state of a StateMachine (value: state name)",
    "terminal": "fsm: the node is a terminal state",
    "tool_node": "orchestration: selector | executor | aggregator | router",
    "registry": "orchestration: the ToolRegistry (tool contracts + ToolPolicy per tool)",
    "layer_role": "layered: orchestrator | executor | merge",
    "layered": "layered: LayerInfo on a layered builder (executors, nesting)",
    "instrumented": "observability: node wrapped in spans (True or the Observability object)",
    "metrics": "observability: metrics recorded (True or a meter provider)",
    "audit": "observability: audit log records inputs, states, tool calls, outputs",
    "tool_logging": "observability: tool calls recorded (spans via callbacks)",
    "alerts": "alerts: an Alerter / rule watches this graph",
    "retry": "resilience: a Retry policy wraps the node or call",
    "breaker": "resilience: a CircuitBreaker guards a dependency",
    "fallback": "resilience: a Fallback serves a degraded answer",
    "ledger": "resilience: an EffectLedger makes side effects exactly-once",
    "rollback": "resilience: the graph can be rewound (rollback helper wired)",
    "compensate": "resilience: a compensation undoes the node's side effect",
    "escalation": "resilience: the node pauses for a human (interrupt)",
    "timeout": "fsm/orchestration: per-state or per-call timeout",
}

#: The checklist, in the guide's order: name -> what it means.
CHECKS: Final[dict[str, str]] = {
    "responsibility_boundaries": "coordination separated from execution (roles per node)",
    "tool_contracts": "every tool call validated against a contract and run under a policy",
    "state_strategy": "durable checkpointer so a run survives a crash",
    "io_logging": "inputs and outputs of every step recorded",
    "tool_call_logging": "every tool call recorded",
    "monitoring": "metrics on latency, errors and retries",
    "alerts": "alert rules fire on errors",
    "retry_backoff": "transient faults retried with exponential backoff",
    "rollback": "side effects can be compensated and state rewound",
    "degradation": "a degraded answer when a dependency is down",
    "human_path": "always a path to a human",
}

_IN_MEMORY_SAVERS = frozenset({"InMemorySaver", "MemorySaver"})


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One checklist item."""

    name: str
    passed: bool
    reason: str
    hint: str = ""
    required: bool = True


@dataclass(slots=True)
class NodeFacts:
    """What readiness knows about one node."""

    name: str
    markers: dict[str, Any]
    retry_policy: Any = None
    error_handler: str | None = None
    timeout: Any = None


@dataclass(slots=True)
class GraphFacts:
    """Everything collected from a graph (nested graphs and layered executors included)."""

    nodes: list[NodeFacts] = field(default_factory=list["NodeFacts"])
    builder_markers: dict[str, Any] = field(default_factory=dict[str, Any])
    checkpointer: Any = None
    interrupts: tuple[str, ...] = ()
    registries: list[Any] = field(default_factory=list[Any])
    prebuilt_tool_nodes: list[str] = field(default_factory=list[str])
    layers: list[Any] = field(default_factory=list[Any])
    observability: Any = None

    def with_key(self, key: str) -> list[NodeFacts]:
        """Nodes whose markers carry a truthy ``key``."""
        return [n for n in self.nodes if n.markers.get(key)]

    def any_marker(self, *keys: str) -> bool:
        """True when the builder or any node carries one of ``keys``."""
        return any(self.builder_markers.get(k) for k in keys) or any(self.with_key(k) for k in keys)

    def tools(self) -> list[Any]:
        """Registered tools (``RegisteredTool``-like objects) of every registry."""
        out: list[Any] = []
        for reg in self.registries:
            names: Any = reg.names() if callable(reg.names) else reg.names
            out += [reg.spec(name) for name in names]
        return out


def _markers_of(obj: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    seen: set[int] = set()
    stack = [obj]
    while stack:
        cur = stack.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        marker = getattr(cur, "__agentpatterns__", None)
        if isinstance(marker, dict):
            for key, value in marker.items():
                found.setdefault(key, value)
        stack += [getattr(cur, a, None) for a in ("func", "afunc", "__wrapped__", "bound")]
    return found


def collect_facts(graph: Any) -> GraphFacts:
    """Gather :class:`GraphFacts` from a compiled graph or a ``StateGraph`` builder."""
    facts = GraphFacts()
    facts.checkpointer = getattr(graph, "checkpointer", None)
    # Observability.instrument() turns a compiled graph's class into a traced subclass
    facts.observability = getattr(type(graph), "_agentpatterns_obs", None)
    facts.interrupts = tuple(getattr(graph, "interrupt_before_nodes", ()) or ()) + tuple(
        getattr(graph, "interrupt_after_nodes", ()) or ()
    )
    _walk(graph, facts, "", set())
    return facts


def _add_registry(facts: GraphFacts, markers: dict[str, Any]) -> None:
    """Record the tool registry a node or layered executor is marked with (once each)."""
    reg = markers.get("registry")
    if reg is not None and all(reg is not r for r in facts.registries):
        facts.registries.append(reg)


def _walk(graph: Any, facts: GraphFacts, prefix: str, seen: set[int]) -> None:
    builder = getattr(graph, "builder", graph)
    if id(builder) in seen:
        return
    seen.add(id(builder))
    bmark = dict(getattr(builder, "__agentpatterns__", None) or {})
    for key, value in bmark.items():
        facts.builder_markers.setdefault(key, value)
    if bmark.get("layered") is not None:
        facts.layers.append(bmark["layered"])
        for ex in bmark["layered"].executors:
            if hasattr(ex.run, "builder") or hasattr(ex.run, "nodes"):
                _walk(ex.run, facts, f"{prefix}{ex.name}/", seen)
            else:
                markers = _markers_of(ex.run)
                facts.nodes.append(NodeFacts(f"{prefix}{ex.name}:run", markers))
                _add_registry(facts, markers)
    for name, spec in (getattr(builder, "nodes", None) or {}).items():
        runnable = getattr(spec, "runnable", spec)
        markers = _markers_of(runnable)
        node = NodeFacts(
            f"{prefix}{name}",
            markers,
            getattr(spec, "retry_policy", None),
            getattr(spec, "error_handler_node", None),
            getattr(spec, "timeout", None),
        )
        facts.nodes.append(node)
        _add_registry(facts, markers)
        if type(runnable).__name__ == "ToolNode":
            facts.prebuilt_tool_nodes.append(node.name)
        if hasattr(runnable, "builder") and hasattr(runnable, "nodes"):
            _walk(runnable, facts, f"{prefix}{name}/", seen)


def _names(nodes: Iterable[Any]) -> str:
    return ", ".join(sorted(getattr(n, "name", str(n)) for n in nodes))


def _check_boundaries(f: GraphFacts) -> tuple[bool, str, str]:
    roles = {
        (k, str(n.markers[k]))
        for n in f.nodes
        for k in ("fsm_state", "tool_node", "layer_role")
        if n.markers.get(k)
    }
    if f.layers or any(k == "tool_node" for k, _ in roles) or len(roles) >= 2:
        return True, f"{len(roles)} declared roles across {len(f.nodes)} nodes", ""
    return (
        False,
        "no node carries a pattern role: coordination and tool calls may be coupled",
        "split planning from execution: StateMachine states, add_tool_orchestration or "
        "build_layered_graph",
    )


def _check_contracts(f: GraphFacts) -> tuple[bool, str, str]:
    if f.prebuilt_tool_nodes:
        return (
            False,
            f"prebuilt ToolNode without contracts or policies: {', '.join(f.prebuilt_tool_nodes)}",
            "register the tools in a ToolRegistry and mount add_tool_orchestration",
        )
    tools = f.tools()
    if not tools:
        return True, "not applicable: the graph calls no registered tools", ""
    loose = [t.name for t in tools if getattr(t, "args_model", None) is None]
    if loose:
        return False, f"tools without an argument schema: {', '.join(loose)}", "give them types"
    no_out = [t.name for t in tools if t.policy.output_model is None]
    note = f" ({len(no_out)} without output_model)" if no_out else ""
    return True, f"{len(tools)} tools validated against their schemas{note}", ""


def _check_state(f: GraphFacts) -> tuple[bool, str, str]:
    cp = f.checkpointer
    hint = "compile(checkpointer=...) with open_checkpointer('sqlite:///runs.db') or postgres"
    if cp is None or cp is False:
        return False, "no checkpointer: a crash loses the run", hint
    if cp is True:
        return True, "uses the parent graph's checkpointer", ""
    kind = type(cp).__name__
    if kind in _IN_MEMORY_SAVERS:
        return False, f"{kind} keeps checkpoints in memory only", hint
    return True, f"durable checkpointer {kind}", ""


def _instrumented(f: GraphFacts, nodes: list[NodeFacts]) -> list[NodeFacts]:
    if f.builder_markers.get("instrumented"):
        return []
    return [n for n in nodes if not n.markers.get("instrumented")]


def _obs_content(obs: Any) -> str | None:
    """Where an Observability object records content (``None``: nowhere)."""
    where = []
    if getattr(obs, "_audit", None) is not None:
        where.append("audit log")
    if getattr(obs, "capture_content", False):
        where.append("span content")
    return " + ".join(where) or None


def _check_io(f: GraphFacts) -> tuple[bool, str, str]:
    if f.observability is not None:
        where = _obs_content(f.observability)
        if where is None:
            return (
                False,
                "traced, but inputs and outputs are not recorded (content capture off, no "
                "audit log)",
                "Observability(audit=AuditLog(...)) or capture_content=True (redacted)",
            )
        return True, f"every node traced; inputs/outputs in the {where}", ""
    missing = _instrumented(f, f.nodes)
    if not missing:
        audit = " + audit log" if f.any_marker("audit") else ""
        return True, f"all {len(f.nodes)} nodes instrumented{audit}", ""
    return False, f"not instrumented: {_names(missing)}", "Observability(...).instrument(builder)"


def _tool_nodes(f: GraphFacts) -> list[NodeFacts]:
    return [
        n
        for n in f.nodes
        if n.markers.get("tool_node") in ("executor", "step")
        or n.markers.get("layer_role") == "executor"
    ]


def _check_tool_logging(f: GraphFacts) -> tuple[bool, str, str]:
    nodes = _tool_nodes(f)
    if not nodes and not f.prebuilt_tool_nodes:
        return True, "not applicable: no tool or executor nodes", ""
    obs = f.observability
    if obs is not None and getattr(obs, "_auto_callbacks", False):
        return True, "tool calls traced (execute_tool spans via automatic callbacks)", ""
    if f.any_marker("tool_logging", "audit"):
        return True, "tool calls recorded (tool spans / audit log)", ""
    missing = _instrumented(f, nodes)
    if nodes and not missing and not f.prebuilt_tool_nodes:
        return True, f"tool nodes instrumented: {_names(nodes)}", ""
    return (
        False,
        f"tool calls not recorded in: {_names(missing) or ', '.join(f.prebuilt_tool_nodes)}",
        "instrument the graph and pass Observability.callbacks() to tool calls",
    )


def _check_monitoring(f: GraphFacts) -> tuple[bool, str, str]:
    obs = [n.markers["instrumented"] for n in f.with_key("instrumented")]
    obs.append(f.builder_markers.get("instrumented"))
    has_meter = any(getattr(o, "meter_provider", None) is not None for o in obs if o)
    if f.observability is not None:
        return True, "Observability records duration histograms and event counters", ""
    if f.any_marker("metrics") or has_meter:
        return True, "metrics recorded (durations, errors, retries)", ""
    return False, "no metrics recorded", "Observability(meter_provider=...).instrument(builder)"


def _alert_listeners() -> list[str]:
    out: list[str] = []
    for listener in events._listeners:
        owner = getattr(listener, "__self__", listener)
        if "Alert" in type(owner).__name__ or getattr(owner, "__agentpatterns__", {}).get("alerts"):
            out.append(type(owner).__name__)
    return out


def _check_alerts(f: GraphFacts) -> tuple[bool, str, str]:
    if f.any_marker("alerts"):
        return True, "alert rules attached to the graph", ""
    obs = f.observability
    if obs is not None and (getattr(obs, "_alerter", None) or getattr(obs, "_rules", ())):
        return True, "Observability feeds an Alerter / metric alert rules", ""
    listeners = _alert_listeners()
    if listeners:
        return True, f"alerting listens to library events ({', '.join(listeners)})", ""
    return False, "no alert rule listens", "Alerter([...], rules=[...]).attach()"


def _has_backoff(policy: Any) -> bool:
    # RetryPolicy is a NamedTuple: tell one policy from a sequence of them by its fields.
    policies = [policy] if hasattr(policy, "backoff_factor") else list(policy or ())
    return any(p is not None and getattr(p, "backoff_factor", 2.0) > 1.0 for p in policies)


def _check_retry(f: GraphFacts) -> tuple[bool, str, str]:
    hint = (
        "ToolPolicy(retry=Retry(...)) per tool, or add_node(retry_policy=Retry().as_retry_policy())"
    )
    tools = f.tools()
    if tools:
        bare = [t.name for t in tools if t.policy.retry is None]
        if bare:
            return False, f"tools without retry: {', '.join(bare)}", hint
        return True, f"all {len(tools)} tools retried with backoff", ""
    retried = [n for n in f.nodes if _has_backoff(n.retry_policy) or n.markers.get("retry")]
    timed = [n for n in f.nodes if n.timeout is not None or n.markers.get("timeout")]
    hint += f" ({len(timed)} nodes have timeouts)" if timed else " (and give nodes timeouts)"
    layered_retry = [i.name for i in f.layers if i.on_failure == "retry"]
    if retried or layered_retry:
        where = _names(retried) or ", ".join(layered_retry)
        return True, f"retry with backoff on: {where}", ""
    flat = [n.name for n in f.nodes if n.retry_policy is not None]
    if flat:
        return False, f"retry without exponential backoff on: {', '.join(flat)}", hint
    return False, "no retry anywhere: one network blip fails the run", hint


def _check_rollback(f: GraphFacts) -> tuple[bool, str, str]:
    effects = [t for t in f.tools() if t.policy.side_effect]
    uncompensated = [t.name for t in effects if t.policy.compensate is None]
    if uncompensated:
        return (
            False,
            f"side-effecting tools without compensate: {', '.join(uncompensated)}",
            "ToolPolicy(side_effect=True, compensate=...) and rollback(graph, config, to=...)",
        )
    if effects or f.any_marker("rollback", "compensate", "ledger"):
        if f.checkpointer is None:
            return False, "compensations exist but no checkpointer to rewind", "add a checkpointer"
        return True, f"{len(effects)} side effects compensable; checkpoints to rewind", ""
    if f.checkpointer is not None:
        return True, "no side effects declared; checkpoints allow rewinding state", ""
    return False, "no checkpoints and no compensations: nothing to roll back to", "add both"


def _check_degradation(f: GraphFacts) -> tuple[bool, str, str]:
    tools = f.tools()
    guarded = [t.name for t in tools if t.policy.fallback or t.policy.breaker]
    best_effort = [i.name for i in f.layers if i.on_failure in ("best_effort", "retry")]
    handled = [n.name for n in f.nodes if n.error_handler]
    if guarded or f.any_marker("fallback", "breaker") or best_effort or handled:
        what = [*guarded, *(f"layer {n} (best effort)" for n in best_effort)]
        what += [f"error handler on {n}" for n in handled]
        return True, f"degrades instead of failing: {', '.join(what) or 'fallback markers'}", ""
    return (
        False,
        "no fallback or circuit breaker: a down dependency fails every run",
        "ToolPolicy(breaker=CircuitBreaker(...), fallback=Fallback(...))",
    )


def _check_human(f: GraphFacts) -> tuple[bool, str, str]:
    esc = f.with_key("escalation")
    if esc or f.builder_markers.get("escalation"):
        return True, f"escalation to a human at: {_names(esc) or 'graph'}", ""
    if f.interrupts:
        return True, f"interrupts before/after: {', '.join(f.interrupts)}", ""
    return (
        False,
        "no escalation node or interrupt: nobody can step in",
        "add escalate_to_human(...) or compile(interrupt_before=[...])",
    )


_CHECKERS = {
    "responsibility_boundaries": _check_boundaries,
    "tool_contracts": _check_contracts,
    "state_strategy": _check_state,
    "io_logging": _check_io,
    "tool_call_logging": _check_tool_logging,
    "monitoring": _check_monitoring,
    "alerts": _check_alerts,
    "retry_backoff": _check_retry,
    "rollback": _check_rollback,
    "degradation": _check_degradation,
    "human_path": _check_human,
}


def _required_from(rec: Recommendation) -> set[str]:
    req = {"state_strategy", "io_logging", "tool_call_logging", "retry_backoff", "tool_contracts"}
    names = set(rec.names())
    if names & {"layered", "tool_orchestration", "state_machine"}:
        req.add("responsibility_boundaries")
    obs, err = rec.get("observability"), rec.get("error_handling")
    if obs is not None and obs.level == "full":
        req |= {"monitoring", "alerts", "human_path"}
    if err is not None and err.level == "full":
        req |= {"rollback", "degradation"}
    return req


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    """All checks; ``passed`` when every required one passed."""

    checks: tuple[CheckResult, ...]
    graph: str = "graph"

    @property
    def passed(self) -> bool:
        """True when no required check failed."""
        return all(c.passed for c in self.checks if c.required)

    def failed(self, *, required_only: bool = True) -> list[CheckResult]:
        """The failed checks (by default only the required ones)."""
        return [c for c in self.checks if not c.passed and (c.required or not required_only)]

    def __getitem__(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.checks)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {"graph": self.graph, "passed": self.passed, "checks": [asdict(c) for c in self]}

    def render(self) -> Any:
        """A rich table: check, required, result, reason, hint."""
        from rich.table import Table

        verdict = "[green]READY[/]" if self.passed else "[red]NOT READY[/]"
        table = Table(title=f"production readiness of {self.graph}: {verdict}")
        for col in ("check", "required", "result", "reason", "hint"):
            table.add_column(col, overflow="fold")
        for c in self.checks:
            mark = (
                "[green]pass[/]"
                if c.passed
                else ("[red]FAIL[/]" if c.required else "[yellow]fail[/]")
            )
            table.add_row(c.name, "yes" if c.required else "no", mark, c.reason, c.hint)
        return table

    def __rich__(self) -> Any:
        return self.render()


def check_readiness(
    graph: Any,
    *,
    require: Iterable[str] | Recommendation | str | None = "all",
    name: str | None = None,
) -> ReadinessReport:
    """Check ``graph`` against the guide's production checklist.

    Args:
        graph: A compiled graph (preferred: the checkpointer and interrupts are known) or a
            ``StateGraph`` builder.
        require: Which checks are required: ``"all"`` (default), names from :data:`CHECKS`,
            a :class:`~agentpatterns.selector.Recommendation` (required checks follow the
            recommended patterns) or ``None`` (report only).
        name: Label for the report (default: the graph's name).

    Returns:
        A :class:`ReadinessReport`; every check is run and reported, ``required`` marks the
        ones that decide ``passed``.

    Raises:
        ValueError: an unknown check name in ``require``.

    Example:
        >>> from langgraph.checkpoint.memory import InMemorySaver
        >>> from agentpatterns.layered import Executor, build_layered_graph
        >>> g = build_layered_graph(decompose=lambda s: [],
        ...                         executors=[Executor("x", lambda sub, ctx: 1)])
        >>> report = check_readiness(g.compile(checkpointer=InMemorySaver()))
        >>> report["responsibility_boundaries"].passed, report["state_strategy"].passed
        (True, False)
    """
    if isinstance(require, Recommendation):
        required = _required_from(require)
    elif require == "all":
        required = set(CHECKS)
    elif require is None:
        required = set()
    else:
        required = {require} if isinstance(require, str) else set(require)
        unknown = sorted(required - set(CHECKS))
        if unknown:
            raise ValueError(f"unknown checks {unknown}; known: {list(CHECKS)}")
    facts = collect_facts(graph)
    results = []
    for check, fn in _CHECKERS.items():
        passed, reason, hint = fn(facts)
        results.append(CheckResult(check, passed, reason, hint, check in required))
    label = name or str(getattr(graph, "name", None) or type(graph).__name__)
    return ReadinessReport(tuple(results), label)
