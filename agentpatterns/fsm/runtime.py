"""Run-time rules of one state: run budget, routing, error exits, transition log, size.

Each user state becomes one LangGraph node (built in ``nodes``) that returns
``Command(goto=next, update=...)``; the functions here decide ``next`` and the update.

State:
    Reads ``status``, ``transitions`` and whatever the conditions read. Writes ``status``
    (on entry of a run), one ``transitions`` record per step, ``error`` (on an error exit),
    ``state_size_warning`` (over budget in warn mode), plus the node's own update.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.types import Command, RetryPolicy

from agentpatterns import events
from agentpatterns.errors import (
    AgentRuntimeError,
    IllegalTransitionError,
    StateTooLargeError,
    StepTimeoutError,
    VisitLimitError,
)
from agentpatterns.fsm.conditions import Condition, Goto

__all__ = ["MachineOptions", "StateSpec", "exit_to", "finish", "run_info"]

_serde = JsonPlusSerializer()
_ERROR_EXITS = ("failed", "timed_out")
_TERMINAL_SET = frozenset({"done", "failed", "timed_out", "escalated"})


@dataclass(frozen=True, slots=True)
class MachineOptions:
    """Machine-wide run-time settings (see :class:`~agentpatterns.fsm.StateMachine`)."""

    name: str
    entry: str
    max_steps: int | None
    state_budget: int | None
    budget_mode: Literal["warn", "fail"]
    size_check_every: int


@dataclass(frozen=True, slots=True)
class StateSpec:
    """One declared state, as the wrapper needs it."""

    name: str
    node: Any
    timeout: float | None
    retry: RetryPolicy | None
    max_visits: int | None
    on_error: str
    transitions: tuple[tuple[str, Condition | None], ...]
    #: Every destination this state may take (declared, on_error, the error exits).
    allowed: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        allowed = {dst for dst, _ in self.transitions} | {self.on_error, *_ERROR_EXITS}
        object.__setattr__(self, "allowed", frozenset(allowed))


def _error_info(exc: BaseException, node: str) -> dict[str, Any]:
    return {"type": type(exc).__name__, "message": str(exc), "node": node}


def run_info(
    spec: StateSpec, state: Mapping[str, Any], opts: MachineOptions
) -> tuple[int, dict[str, Any] | None, VisitLimitError | None]:
    """Step number of this state in the run, the entry update of a fresh run, a limit hit.

    Steps and visits are derived from the transition log (the record into this state holds
    the previous step number; a run starts at its ``start`` record), so a step writes one
    machine key (``transitions``) besides the node's own update.
    """
    name = spec.name
    log = state.get("transitions")
    entry: dict[str, Any] | None = None
    if state.get("status") == "running" and log:
        step = log[-1]["step"] + 1
    else:  # a fresh run enters here
        step = 1
        entry = {
            "status": "running",
            "transitions": [_record("start", name, 0, "entry", 0.0)],
        }
        if state.get("error") is not None:  # reset only what a previous run left behind
            entry["error"] = None
        if state.get("reason") is not None:
            entry["reason"] = None
        log = None
    if opts.max_steps is not None and step > opts.max_steps:
        return step, entry, VisitLimitError(f"run exceeded max_steps={opts.max_steps}", node=name)
    if spec.max_visits is not None:
        visits = _count_visits(log, name) if log else 1  # the log holds the entry into us
        if visits > spec.max_visits:
            return (
                step,
                entry,
                VisitLimitError(f"state {name!r} exceeded max_visits={spec.max_visits}", node=name),
            )
    return step, entry, None


def _count_visits(log: Sequence[Mapping[str, Any]], name: str) -> int:
    n = 0
    for rec in reversed(log):
        if rec["to"] == name:
            n += 1
        if rec["from"] == "start":
            break
    return n


def _record(frm: str, to: str, step: int, reason: str, elapsed_ms: float) -> dict[str, Any]:
    return {"from": frm, "to": to, "step": step, "reason": reason, "elapsed_ms": elapsed_ms}


def _route(
    spec: StateSpec, state: Mapping[str, Any], result: Any
) -> tuple[str, str, Mapping[str, Any]] | Command[Any] | tuple[BaseException, Mapping[str, Any]]:
    """Decide the next state from the node's result: (dst, reason, update) or an error."""
    name = spec.name
    if result is None or type(result) is dict:
        update: Mapping[str, Any] = result or {}
        trans = spec.transitions
        if len(trans) == 1 and trans[0][1] is None:  # the common linear case
            return trans[0][0], "default", update
        merged = {**state, **update} if update else state
        default: str | None = None
        for target, cond in trans:
            if cond is None:
                default = target
            elif cond(merged):
                return target, f"when {cond.name}", update
        if default is not None:
            return default, "default", update
        return IllegalTransitionError(
            f"no transition of state {name!r} matched and it has no unconditional default",
            node=name,
        ), update
    if isinstance(result, Goto):
        dst, reason, update = result.to, result.reason or f"goto {result.to}", result.update
    elif isinstance(result, Command):
        if result.graph == Command.PARENT:
            return result
        if result.graph is not None or not isinstance(result.goto, str):
            return IllegalTransitionError(
                f"state {name!r} returned a Command whose goto is not one state name: "
                f"{result.goto!r}",
                node=name,
            ), {}
        dst, reason = result.goto, f"goto {result.goto}"
        update = dict(result.update) if result.update else {}  # a mapping or (key, value)s
    elif isinstance(result, Mapping):
        return _route(spec, state, dict(result))
    else:
        return IllegalTransitionError(
            f"state {name!r} returned {type(result).__name__}; expected a dict, None, "
            "goto(...) or Command(goto=...)",
            node=name,
        ), {}
    if dst not in spec.allowed:
        declared = sorted({d for d, _ in spec.transitions})
        return IllegalTransitionError(
            f"undeclared transition {name!r} -> {dst!r}; declared: {declared}", node=name
        ), update
    return dst, reason, update


def finish(
    spec: StateSpec,
    state: Mapping[str, Any],
    opts: MachineOptions,
    step: int,
    entry: dict[str, Any] | None,
    t0: float,
    result: Any,
) -> Command[Any]:
    routed = _route(spec, state, result)
    if isinstance(routed, Command):
        return routed
    if len(routed) == 2:
        exc, update = routed
        return exit_to(spec, step, entry, t0, exc, update)
    dst, reason, update = routed
    record = _record(spec.name, dst, step, reason, (time.perf_counter() - t0) * 1000.0)
    if entry is None:
        out = {**update, "transitions": [record]}  # a list: the observability contract
    else:
        # the node's update wins over the entry resets, the machine's own keys win over both
        out = {
            **entry,
            **update,
            "status": "running",
            "transitions": [*entry["transitions"], record],
        }
    if events._listeners:  # skip building the kwargs when nobody listens (hot path)
        events.emit("transition", frm=spec.name, to=dst, reason=reason, step=step)
    if opts.state_budget is not None and (
        step % opts.size_check_every == 0 or dst in _TERMINAL_SET
    ):
        size_exc = _check_size(state, out, step, opts, spec.name)
        if size_exc is not None:
            return exit_to(spec, step, entry, t0, size_exc, update)
    return Command(goto=dst, update=out)


def exit_to(
    spec: StateSpec,
    step: int,
    entry: dict[str, Any] | None,
    t0: float,
    exc: BaseException,
    update: Mapping[str, Any] | None = None,
) -> Command[Any]:
    """Route to the error exit that fits ``exc``, recording it in ``error``."""
    name = spec.name
    if isinstance(exc, StepTimeoutError):
        dst = "timed_out"
    elif isinstance(exc, AgentRuntimeError):  # machine rules: always the hard exit
        dst = "failed"
    else:
        dst = spec.on_error
    reason = f"{type(exc).__name__}: {exc}"
    record = _record(name, dst, step, reason, (time.perf_counter() - t0) * 1000.0)
    out: dict[str, Any] = {**(entry or {}), **(update or {})}
    if entry is not None:
        out["status"] = "running"
    out["error"] = _error_info(exc, name)
    out["transitions"] = [*(entry["transitions"] if entry else ()), record]
    events.emit("node_error", node=name, error_type=type(exc).__name__)
    events.emit("transition", frm=name, to=dst, reason=reason, step=step)
    return Command(goto=dst, update=out)


def _check_size(
    state: Mapping[str, Any],
    out: dict[str, Any],
    step: int,
    opts: MachineOptions,
    name: str,
) -> StateTooLargeError | None:
    """Every ``size_check_every`` steps, and on the way to a terminal, measure the state.

    The size is the serialized (msgpack, as the checkpointers store it) size of the state
    with the update laid over it. Checking every step would cost a full serialization per
    transition; every N steps bounds the overshoot to N updates at 1/N of the cost.
    """
    budget = opts.state_budget
    assert budget is not None
    merged = {**state, **out}
    new = out["transitions"]
    merged["transitions"] = [
        *(state.get("transitions") or ()),
        *([new] if type(new) is dict else new),
    ]
    size = len(_serde.dumps_typed(merged)[1])
    if size <= budget:
        return None
    msg = f"state is {size} bytes after state {name!r}, over its budget of {budget} bytes"
    if opts.budget_mode == "fail":
        return StateTooLargeError(msg, node=name, size=size, budget=budget)
    warnings.warn(msg, ResourceWarning, stacklevel=2)
    out["state_size_warning"] = {"size": size, "budget": budget, "node": name, "step": step}
    return None
