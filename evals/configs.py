"""The configurations compared on the same τ² tasks, faults and seeds.

- ``full``: the full pattern stack — the ``customer_service`` reference graph with its
  scripted planner (state machine, tool executor with classified retry, circuit breaker,
  effect ledger with reconcile, compensation, escalation) instrumented by ``Observability``
  (spans + audit log), on a SQLite checkpointer.
- ``no-logging``: ``full`` without observability.
- ``no-error-handling``: a state machine (plan -> execute one call per step -> validate)
  and the tool executor with contracts and observability, but plain ``ToolPolicy()``: no
  retry, no breaker, no ledger, no rollback.
- ``raw-toolnode``: plain LangGraph: a scripted agent node and a ``ToolNode`` with the
  default ``RetryPolicy`` (default ``retry_on`` and 3 attempts; intervals shortened to 1 ms
  so evals stay fast, which changes timing, not outcomes); domain errors are handled by the
  ``ToolNode`` (``handle_tool_errors=(RetailError,)``) so the script can go on.
- ``monolith``: one node calls every tool in a loop; no retries, no per-call checkpoints.
- ``free-flow``: no state machine: an agent <-> tools loop that runs until the planner
  stops, and retries every failed call blindly (up to 5 attempts, whatever the error).

Each configuration is built once per worker process over the worker's store, fault
injector, checkpointer and observability, and runs many episodes (one thread each).

Example:
    >>> from evals.configs import CONFIGS
    >>> CONFIGS[:2]
    ('full', 'raw-toolnode')
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from typing import Annotated, Any, Final, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import RetryPolicy

from agentpatterns.fsm import AgentState

__all__ = ["CONFIGS", "FSM_CONFIGS", "OBSERVED_CONFIGS", "build_config"]

CONFIGS: Final = (
    "full",
    "raw-toolnode",
    "monolith",
    "free-flow",
    "no-error-handling",
    "no-logging",
)
#: Configurations that run a state machine (transition metrics apply).
FSM_CONFIGS: Final = frozenset({"full", "no-logging", "no-error-handling"})
#: Configurations with observability (audit-log coverage applies).
OBSERVED_CONFIGS: Final = frozenset({"full", "no-error-handling"})

BLIND_ATTEMPTS = 5


class Run(TypedDict, total=False):
    """What a configuration reports about one episode (read back from its state)."""

    status: str
    calls: list[dict[str, Any]]
    transitions: list[dict[str, Any]]
    compensated: int


class _Config(ABC):
    """A built configuration: ``start(script, config)``, ``resume(config)``, ``read(...)``."""

    name: str
    graph: Any

    def __init__(self, name: str, graph: Any, h: Any) -> None:
        self.name = name
        self.graph = graph
        self.h = h

    def start(self, script: list[dict[str, Any]], config: dict[str, Any]) -> None:
        self.graph.invoke(self.inputs(script), config)

    def resume(self, config: dict[str, Any]) -> None:
        self.graph.invoke(None, config)

    def inputs(self, script: list[dict[str, Any]]) -> dict[str, Any]:
        return {"script": script}

    def values(self, config: dict[str, Any]) -> dict[str, Any]:
        snap = self.graph.get_state(config)
        return dict(snap.values or {})

    @abstractmethod
    def read(
        self, script: list[dict[str, Any]], config: dict[str, Any], error: str | None
    ) -> Run: ...


def _designed_calls(
    script: list[dict[str, Any]], designed: set[str], results: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for call in script:
        got = results.get(call["id"])
        rec = {"id": call["id"], "name": call["name"], "designed": call["id"] in designed}
        if got is None:
            rec.update(ran=False, ok=False, attempts=0, error_type=None, elapsed_ms=None)
        else:
            rec.update(ran=True, **got)
        out.append(rec)
    return out


# --------------------------------------------------------------------------- pattern stack


class _GraphConfig(_Config):
    """``full`` / ``no-logging``: the customer-service reference graph (scripted)."""

    def read(self, script: list[dict[str, Any]], config: dict[str, Any], error: str | None) -> Run:
        v = self.values(config)
        results: dict[str, dict[str, Any]] = {}
        for r in v.get("tool_results") or []:
            cid = str(r["id"]).split("-", 1)[-1]
            results[cid] = {
                "ok": bool(r["ok"]),
                "attempts": int(r.get("attempts") or 0),
                "error_type": r.get("error_type"),
                "elapsed_ms": r.get("elapsed_ms"),
            }
        status = str(v.get("status") or ("crashed" if error else "interrupted"))
        if v.get("escalated") or v.get("escalation_reason"):
            status = "escalated" if status in ("running", "interrupted") else status
        return {
            "status": "crashed" if error else status,
            "calls": _designed_calls(script, self.h.designed, results),
            "transitions": list(v.get("transitions") or []),
            "compensated": len(v.get("compensated") or []),
        }


class _MachineState(AgentState, total=False):
    script: list[dict[str, Any]]
    plan: list[dict[str, Any]]
    cursor: int
    halted: bool
    tool_results: Annotated[list[dict[str, Any]], operator.add]


def _machine(registry: Any, h: Any, obs: Any) -> Any:
    """``no-error-handling``: FSM + executor (+ observability), no error handling."""
    from agentpatterns.fsm import StateMachine, when
    from agentpatterns.orchestration import tool_executor

    writer = tool_executor(registry, agent="writer")

    def plan(state: dict[str, Any]) -> dict[str, Any]:
        return {"plan": list(state.get("script") or []), "cursor": 0, "halted": False}

    def execute(state: dict[str, Any], config: Any) -> dict[str, Any]:
        cursor = int(state.get("cursor") or 0)
        call = state["plan"][cursor]
        out = writer({"plan": [call]}, config)["tool_outcomes"][0]
        domain = out["error_type"] in _DOMAIN
        keys = ("id", "name", "ok", "error_type", "attempts", "elapsed_ms")
        return {
            "cursor": cursor + 1,
            "halted": not out["ok"] and not domain,
            "tool_results": [{k: out.get(k) for k in keys}],
        }

    def validate(state: dict[str, Any]) -> dict[str, Any]:
        return {}

    more = when(
        lambda s: not s.get("halted") and (s.get("cursor") or 0) < len(s.get("plan") or []),
        name="more_calls",
    )
    nothing = when(lambda s: not s.get("plan"), name="nothing_to_do")
    halted = when(lambda s: bool(s.get("halted")), name="halted")
    m = StateMachine(_MachineState, name="no_error_handling", max_steps=400)
    m.state("plan", plan).state("execute", execute).state("validate", validate)
    m.transition("plan", "done", when=nothing).transition("plan", "execute")
    m.transition("execute", "execute", when=more).transition("execute", "validate")
    m.transition("validate", "failed", when=halted).transition("validate", "done")
    builder = m.build()
    return obs.instrument(builder) if obs is not None else builder


_DOMAIN: Final = frozenset({"RetailError", "ValidationError", "ToolContractError"})


class _MachineConfig(_GraphConfig):
    pass


# --------------------------------------------------------------------------- baselines


class _LoopState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    script: list[dict[str, Any]]
    cursor: int
    attempts: Annotated[list[int], operator.add]


def _scripted_agent(h: Any) -> Any:
    """Agent node of the baselines: emits the next scripted call, then stops."""

    def agent(state: Any) -> dict[str, Any]:
        i = int(state.get("cursor") or 0)
        script = state.get("script") or []
        if i >= len(script):
            return {"messages": [AIMessage("done")]}
        call = script[i]
        h.injector.mark(i)
        ai = AIMessage(
            "", tool_calls=[{"name": call["name"], "args": call["args"], "id": call["id"]}]
        )
        return {"messages": [ai], "cursor": i + 1}

    return agent


def _route(state: dict[str, Any]) -> str:
    last = state["messages"][-1]
    return "tools" if getattr(last, "tool_calls", None) else END


class _LoopConfig(_Config):
    """Baselines whose calls end as ``ToolMessage``s in ``messages``."""

    def start(self, script: list[dict[str, Any]], config: dict[str, Any]) -> None:
        config = {**config, "recursion_limit": 4 * len(script) + 10}
        self.graph.invoke(self.inputs(script), config)

    def read(self, script: list[dict[str, Any]], config: dict[str, Any], error: str | None) -> Run:
        v = self.values(config)
        results: dict[str, dict[str, Any]] = {}
        index = {c["id"]: i for i, c in enumerate(script)}
        for msg in v.get("messages") or []:
            if isinstance(msg, ToolMessage) and msg.tool_call_id in index:
                i = index[msg.tool_call_id]
                results[msg.tool_call_id] = {
                    "ok": msg.status != "error",
                    "attempts": max(1, self.h.injector.invocations.get(i, 0)),
                    "error_type": None if msg.status != "error" else _error_type(msg),
                    "elapsed_ms": None,
                }
        if error:  # the call in flight when the run crashed ran and failed
            pending = [
                c["id"]
                for m in v.get("messages") or []
                for c in getattr(m, "tool_calls", None) or []
                if c["id"] in index and c["id"] not in results
            ]
            for cid in pending[-1:]:
                results[cid] = {
                    "ok": False,
                    "attempts": max(1, self.h.injector.invocations.get(index[cid], 0)),
                    "error_type": error.split(":", 1)[0],
                    "elapsed_ms": None,
                }
        return {
            "status": "crashed" if error else "done",
            "calls": _designed_calls(script, self.h.designed, results),
            "transitions": [],
            "compensated": 0,
        }


def _error_type(msg: ToolMessage) -> str:
    """The exception type in a ToolNode error message (``Error: RetailError('...')``) or in
    the free-flow loop's (``RetailError: ...``)."""
    import re

    text = str(msg.content)
    found = re.match(r"Error: (\w+)\(", text) or re.match(r"(\w+): ", text)
    return found.group(1) if found else "error"


def _raw_toolnode(h: Any) -> Any:
    from langgraph.prebuilt import ToolNode

    from tools.retail import RetailError

    b = StateGraph(_LoopState)
    b.add_node("agent", _scripted_agent(h))
    b.add_node(
        "tools",
        ToolNode(h.faulty_tools, handle_tool_errors=(RetailError,)),
        retry_policy=RetryPolicy(initial_interval=0.001, max_interval=0.004, jitter=False),
    )
    b.add_edge(START, "agent")
    b.add_conditional_edges("agent", _route, ["tools", END])
    b.add_edge("tools", "agent")
    return b


def _free_flow(h: Any) -> Any:
    tools = {t.name: t for t in h.faulty_tools}

    def blind(state: Any) -> dict[str, Any]:
        call = state["messages"][-1].tool_calls[0]
        for attempt in range(1, BLIND_ATTEMPTS + 1):
            try:
                out = tools[call["name"]].invoke(call["args"])
            except Exception as exc:  # retries everything, blindly
                if attempt == BLIND_ATTEMPTS:
                    text = f"{type(exc).__name__}: {exc}"
                    return {
                        "messages": [ToolMessage(text, tool_call_id=call["id"], status="error")]
                    }
                continue
            return {"messages": [ToolMessage(str(out), tool_call_id=call["id"])]}
        raise AssertionError("unreachable")

    b = StateGraph(_LoopState)
    b.add_node("agent", _scripted_agent(h))
    b.add_node("tools", blind)
    b.add_edge(START, "agent")
    b.add_conditional_edges("agent", _route, ["tools", END])
    b.add_edge("tools", "agent")
    return b


class _MonolithState(TypedDict, total=False):
    script: list[dict[str, Any]]
    results: list[dict[str, Any]]


class _MonolithConfig(_Config):
    def read(self, script: list[dict[str, Any]], config: dict[str, Any], error: str | None) -> Run:
        results = {r["id"]: {k: v for k, v in r.items() if k != "id"} for r in self.h.scratch}
        return {
            "status": "crashed" if error else "done",
            "calls": _designed_calls(script, self.h.designed, results),
            "transitions": [],
            "compensated": 0,
        }


def _monolith(h: Any) -> Any:
    from tools.retail import RetailError

    tools = {t.name: t for t in h.faulty_tools}

    def everything(state: Any) -> dict[str, Any]:
        h.scratch.clear()
        for i, call in enumerate(state.get("script") or []):
            h.injector.mark(i)
            rec = {"id": call["id"], "ok": False, "attempts": 1, "error_type": None}
            h.scratch.append(rec)
            try:
                tools[call["name"]].invoke(call["args"])
            except RetailError:
                rec["error_type"] = "RetailError"
            except Exception as exc:  # no error handling: the run crashes
                rec["error_type"] = type(exc).__name__
                raise
            else:
                rec["ok"] = True
        return {"results": list(h.scratch)}

    b = StateGraph(_MonolithState)
    b.add_node("everything", everything)
    b.add_edge(START, "everything")
    b.add_edge("everything", END)
    return b


# --------------------------------------------------------------------------- factory


def build_config(name: str, h: Any) -> _Config:
    """Build configuration ``name`` over harness ``h`` (store, injector, saver, obs)."""
    if name in ("full", "no-logging"):
        from graphs.customer_service import build

        builder = build(
            planner="scripted",
            store=h.store,
            ledger=h.ledger,
            breaker=h.breaker,
            faults=h.injector,
            observability=h.obs if name == "full" else None,
            name=name.replace("-", "_"),
        )
        return _GraphConfig(name, builder.compile(checkpointer=h.saver), h)
    if name == "no-error-handling":
        return _MachineConfig(
            name, _machine(h.plain_registry(), h, h.obs).compile(checkpointer=h.saver), h
        )
    if name == "raw-toolnode":
        return _LoopConfig(name, _raw_toolnode(h).compile(checkpointer=h.saver), h)
    if name == "free-flow":
        return _LoopConfig(name, _free_flow(h).compile(checkpointer=h.saver), h)
    if name == "monolith":
        return _MonolithConfig(name, _monolith(h).compile(checkpointer=h.saver), h)
    raise KeyError(name)
