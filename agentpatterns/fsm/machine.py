"""The :class:`StateMachine` builder: declared states and transitions, checked at build.

State:
    Reads and writes the :class:`~agentpatterns.fsm.AgentState` keys (``status``,
    ``reason``, ``transitions``, ``error``, ``visits``, ``steps``); the state
    schema must declare them (extend ``AgentState``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Literal, Self, TypedDict, get_type_hints

from langchain_core.runnables import Runnable
from langgraph.graph import END, START, StateGraph
from langgraph.types import RetryPolicy

from agentpatterns.errors import MachineDefinitionError
from agentpatterns.fsm.conditions import Condition, as_condition
from agentpatterns.fsm.nodes import make_state_node, make_terminal_node
from agentpatterns.fsm.runtime import MachineOptions, StateSpec
from agentpatterns.fsm.state import MACHINE_KEYS, RESERVED_NAMES, TERMINALS

__all__ = ["StateMachine"]

_IMPLICIT = ("failed", "timed_out")


class StateMachine:
    """Declare states and allowed transitions; build a plain LangGraph ``StateGraph``.

    Each state's node returns an update (``dict``), after which the first declared
    transition whose ``when`` holds is taken (an unconditional transition is the default,
    taken when no condition holds), or asks explicitly with ``goto(...)`` /
    ``Command(goto=...)``. Terminal states ``done``, ``failed``, ``timed_out`` and
    ``escalated`` are built in; every state may go to ``failed`` and ``timed_out``.

    Args:
        state_schema: A TypedDict extending :class:`~agentpatterns.fsm.AgentState`.
        name: Machine name (diagrams, events, markers).
        start: The entry state; defaults to the first declared state.
        max_steps: Step budget of one run; exceeding it routes to ``failed``.
        state_budget: Size budget of the serialized state in bytes (``None``: no check).
        budget_mode: ``"warn"`` (``ResourceWarning`` plus ``state_size_warning`` in state)
            or ``"fail"`` (route to ``failed`` with a StateTooLargeError).
        size_check_every: Measure the state every N steps (and always before a terminal).

    State:
        Reads ``status`` and ``transitions`` (plus what your conditions read). Writes one
        ``transitions`` record per move, ``status`` (``"running"``, then the terminal),
        ``error`` on an error exit, and, from the terminal, ``reason``, ``steps``,
        ``visits``; ``state_size_warning`` when over budget in warn mode.

    Example:
        >>> from agentpatterns.fsm import AgentState, StateMachine, when
        >>> class S(AgentState, total=False):
        ...     n: int
        >>> m = StateMachine(S, name="count")
        >>> _ = m.state("inc", lambda s: {"n": s.get("n", 0) + 1}, max_visits=5)
        >>> _ = m.transition("inc", "inc", when=when(lambda s: s["n"] < 3, name="n<3"))
        >>> _ = m.transition("inc", "done")
        >>> out = m.build().compile().invoke({"n": 0})
        >>> out["n"], out["status"], [t["to"] for t in out["transitions"]]
        (3, 'done', ['inc', 'inc', 'inc', 'done'])
    """

    def __init__(
        self,
        state_schema: type[Any],
        *,
        name: str,
        start: str | None = None,
        max_steps: int | None = 100,
        state_budget: int | None = 100_000,
        budget_mode: Literal["warn", "fail"] = "warn",
        size_check_every: int = 10,
    ) -> None:
        if budget_mode not in ("warn", "fail"):
            raise MachineDefinitionError(
                f"budget_mode must be 'warn' or 'fail', not {budget_mode!r}"
            )
        if max_steps is not None and max_steps < 1:
            raise MachineDefinitionError(f"max_steps must be >= 1, not {max_steps}")
        if size_check_every < 1:
            raise MachineDefinitionError(f"size_check_every must be >= 1, not {size_check_every}")
        self.state_schema = state_schema
        self.name = name
        self.start = start
        self.max_steps = max_steps
        self.state_budget = state_budget
        self.budget_mode: Literal["warn", "fail"] = budget_mode
        self.size_check_every = size_check_every
        self._states: dict[str, dict[str, Any]] = {}
        self._transitions: list[tuple[str, str, Condition | None]] = []

    # ----------------------------------------------------------------- declaration
    def state(
        self,
        name: str,
        node: Any,
        *,
        timeout: float | timedelta | None = None,
        retry: Any = None,
        max_visits: int | None = None,
        on_error: str = "failed",
    ) -> Self:
        """Declare a state run by ``node`` (``def``, ``async def`` or a ``Runnable``).

        Args:
            name: State name; not a terminal name, ``start``/``end`` or LangGraph's own.
            node: Called with the state; returns an update dict, ``None``, ``goto(...)`` or
                ``Command(goto=...)``. May accept ``config``.
            timeout: Seconds per attempt, sync or async; on expiry go to ``timed_out``.
                A sync node runs in a worker thread that cannot be killed: it finishes in
                the background and its result is discarded.
            retry: A LangGraph ``RetryPolicy`` or any object with ``as_retry_policy()``.
            max_visits: Most entries of this state in one run; more routes to ``failed``.
            on_error: Where an unhandled node error goes after retries (default
                ``failed``); a timeout always goes to ``timed_out``.
        """
        if not name:
            raise MachineDefinitionError(f"state name must be a non-empty string, got {name!r}")
        if name in RESERVED_NAMES:
            raise MachineDefinitionError(
                f"state name {name!r} is reserved (reserved: {sorted(RESERVED_NAMES)})"
            )
        if any(ch in name for ch in ":|"):
            raise MachineDefinitionError(f"state name {name!r} may not contain ':' or '|'")
        if name in self._states:
            raise MachineDefinitionError(f"state {name!r} is declared twice")
        if not (callable(node) or isinstance(node, Runnable)):
            raise MachineDefinitionError(f"node of state {name!r} is not callable: {node!r}")
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        if seconds is not None and seconds <= 0:
            raise MachineDefinitionError(f"timeout of state {name!r} must be > 0, got {seconds}")
        if max_visits is not None and max_visits < 1:
            raise MachineDefinitionError(f"max_visits of state {name!r} must be >= 1")
        self._states[name] = {
            "node": node,
            "timeout": seconds,
            "retry": _coerce_retry(name, retry),
            "max_visits": max_visits,
            "on_error": on_error,
        }
        return self

    def transition(
        self, src: str, dst: str, *, when: Condition | Callable[..., Any] | str | None = None
    ) -> Self:
        """Allow ``src -> dst``; with ``when`` (condition, callable or state key) it is
        taken when the condition holds, without it it is ``src``'s default."""
        cond = None if when is None else as_condition(when)
        self._transitions.append((src, dst, cond))
        return self

    # ----------------------------------------------------------------- validation
    def _validate(self) -> str:
        states = self._states
        if not states:
            raise MachineDefinitionError(f"machine {self.name!r} declares no states")
        known = set(states) | set(TERMINALS)
        hints = get_type_hints(self.state_schema)
        missing = [k for k in MACHINE_KEYS if k not in hints]
        if missing:
            raise MachineDefinitionError(
                f"state schema {self.state_schema.__name__} lacks machine keys {missing}; "
                "extend agentpatterns.fsm.AgentState"
            )
        entry = self.start or next(iter(states))
        if entry not in states:
            raise MachineDefinitionError(f"start state {entry!r} is not a declared state")
        seen: set[tuple[str, str]] = set()
        defaults: dict[str, str] = {}
        edges: dict[str, set[str]] = {s: set() for s in known}
        for src, dst, cond in self._transitions:
            if src in TERMINALS:
                raise MachineDefinitionError(f"transition {src!r} -> {dst!r}: {src!r} is terminal")
            for end in (src, dst):
                if end not in known:
                    raise MachineDefinitionError(
                        f"transition {src!r} -> {dst!r} names unknown state {end!r}"
                    )
            if (src, dst) in seen:
                raise MachineDefinitionError(f"duplicate transition {src!r} -> {dst!r}")
            seen.add((src, dst))
            if cond is None:
                if src in defaults:
                    raise MachineDefinitionError(
                        f"state {src!r} has two unconditional transitions "
                        f"(-> {defaults[src]!r} and -> {dst!r}); give one a `when`"
                    )
                defaults[src] = dst
            edges[src].add(dst)
        for name, spec in states.items():
            if spec["on_error"] not in known:
                raise MachineDefinitionError(
                    f"on_error of state {name!r} names unknown state {spec['on_error']!r}"
                )
        reach = {entry}
        todo = [entry]
        while todo:
            cur = todo.pop()
            nxt = edges[cur] | ({states[cur]["on_error"]} if cur in states else set())
            for dst in nxt - reach:
                reach.add(dst)
                todo.append(dst)
        unreachable = [s for s in states if s not in reach]
        if unreachable:
            raise MachineDefinitionError(f"unreachable states from {entry!r}: {unreachable}")
        # backwards from the terminals over declared transitions only
        ok: set[str] = set(TERMINALS)
        changed = True
        while changed:
            changed = False
            for s in states:
                if s not in ok and edges[s] & ok:
                    ok.add(s)
                    changed = True
        stuck = [s for s in states if s not in ok]
        if stuck:
            raise MachineDefinitionError(
                f"states with no declared path to a terminal state: {stuck}"
            )
        return entry

    def specs(self) -> tuple[str, list[StateSpec]]:
        """Validate and return the entry state and the compiled specs of every state."""
        entry = self._validate()
        out: list[StateSpec] = []
        for name, spec in self._states.items():
            trans = tuple((d, c) for s, d, c in self._transitions if s == name)
            # conditional transitions first in declaration order, the default last
            trans = tuple(t for t in trans if t[1] is not None) + tuple(
                t for t in trans if t[1] is None
            )
            out.append(StateSpec(name=name, transitions=trans, **spec))
        return entry, out

    # ----------------------------------------------------------------- output
    def build(self) -> StateGraph[Any]:
        """Validate and compile to an uncompiled LangGraph ``StateGraph``.

        Raises:
            MachineDefinitionError: Naming the culprit state or transition.
        """
        entry, specs = self.specs()
        opts = MachineOptions(
            name=self.name,
            entry=entry,
            max_steps=self.max_steps,
            state_budget=self.state_budget,
            budget_mode=self.budget_mode,
            size_check_every=self.size_check_every,
        )
        graph: StateGraph[Any] = StateGraph(self.state_schema)
        node_input, terminal_input = _input_schemas(self.state_schema)
        for spec in specs:
            labels = {d: (c.name if c else "") for d, c in spec.transitions}
            dests = {d: labels.get(d, "error") for d in sorted(spec.allowed)}
            # no node metadata: LangGraph merges it into every task's config (~1 % on a
            # trivial graph); the wrapper's __agentpatterns__ marker names the state
            graph.add_node(
                spec.name, make_state_node(spec, opts), destinations=dests, input_schema=node_input
            )
        for term in TERMINALS:
            terminal: Any = make_terminal_node(term)
            graph.add_node(term, terminal, input_schema=terminal_input)
            graph.add_edge(term, END)
        graph.add_edge(START, entry)
        return graph

    def to_mermaid(self) -> str:
        """Draw the machine as a Mermaid ``stateDiagram-v2`` (offline, no web service).

        Declared transitions are solid with their condition as label; the implicit error
        exits (``on_error``, ``failed``, ``timed_out``) are drawn once per state as notes-free
        dashed-style edges labelled ``error`` / ``timeout``.
        """
        entry, specs = self.specs()
        lines = ["stateDiagram-v2", f"    [*] --> {entry}"]
        for spec in specs:
            for dst, cond in spec.transitions:
                label = f" : {cond.name}" if cond else ""
                lines.append(f"    {spec.name} --> {dst}{label}")
            if spec.on_error != "failed":
                lines.append(f"    {spec.name} --> {spec.on_error} : on_error")
            if spec.timeout is not None:
                lines.append(f"    {spec.name} --> timed_out : timeout {spec.timeout:g}s")
        used = {d for spec in specs for d in spec.allowed}
        for term in TERMINALS:
            if term in used:
                lines.append(f"    {term} --> [*]")
        lines.append(f"    note right of {entry}: any state --> failed on error or limit")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return f"StateMachine({self.name!r}, states={list(self._states)})"


#: Keys written only by the terminal states: stale during a run, so not read by nodes.
SUMMARY_KEYS = frozenset({"reason", "visits", "steps", "state_size_warning"})


def _input_schemas(schema: type[Any]) -> tuple[type[Any], type[Any]]:
    """Input schemas of the state nodes (all keys but the run summary) and of terminals.

    LangGraph reads every key of a node's input schema at every step; leaving out the four
    summary keys (meaningful only after a run) saves about 2 % on a trivial 10-state graph.
    """
    hints = get_type_hints(schema, include_extras=True)
    keep = {k: v for k, v in hints.items() if k not in SUMMARY_KEYS}
    make: Any = TypedDict  # built at run time: checkers cannot follow dynamic fields
    node_input = make(f"{schema.__name__}NodeInput", keep, total=False)
    term = make(
        f"{schema.__name__}TerminalInput", {"transitions": hints["transitions"]}, total=False
    )
    return node_input, term


def _coerce_retry(name: str, retry: Any) -> RetryPolicy | None:
    if retry is None or isinstance(retry, RetryPolicy):
        return retry
    convert = getattr(retry, "as_retry_policy", None)
    if callable(convert):
        policy = convert()
        if isinstance(policy, RetryPolicy):
            return policy
    raise MachineDefinitionError(
        f"retry of state {name!r} must be a RetryPolicy or have as_retry_policy(), got {retry!r}"
    )


def describe(machine: StateMachine) -> Mapping[str, Any]:
    """A plain-data description of ``machine`` (for readiness checks and tests)."""
    entry, specs = machine.specs()
    return {
        "name": machine.name,
        "entry": entry,
        "states": {s.name: sorted(s.allowed) for s in specs},
        "terminals": list(TERMINALS),
    }
