"""Run-time wrapper of one state: limits, retry, timeout, routing, transition log.

Each user state becomes one LangGraph node that returns ``Command(goto=next, update=...)``.
The wrapper keeps the node's kind: a ``def`` node gets a ``def`` wrapper, an ``async def``
node an ``async def`` wrapper (so ``ainvoke`` runs without threads), a ``Runnable`` gets both.

State:
    Reads ``status``, ``steps``, ``visits``, ``transitions`` and whatever the conditions read.
    Writes ``status`` (on entry), ``steps``, ``visits``, ``fsm_state``, one ``transitions``
    record per step, ``error`` (on an error exit), plus the node's own update.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import random
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.runnables import Runnable, RunnableConfig
from langgraph._internal._runnable import RunnableCallable
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.errors import GraphBubbleUp
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

__all__ = ["MachineOptions", "StateSpec", "make_state_node", "make_terminal_node"]

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


def _should_retry(policy: RetryPolicy, exc: Exception) -> bool:
    retry_on = policy.retry_on
    if isinstance(retry_on, Sequence):
        return isinstance(exc, tuple(retry_on))
    if isinstance(retry_on, type):
        return isinstance(exc, retry_on)
    return bool(retry_on(exc))


def _delay(policy: RetryPolicy, failures: int) -> float:
    interval = min(
        policy.max_interval, policy.initial_interval * policy.backoff_factor ** (failures - 1)
    )
    return interval + random.uniform(0, 1) if policy.jitter else interval


def _wants_config(node: Any) -> bool:
    try:
        params = inspect.signature(node).parameters
    except (TypeError, ValueError):
        return False
    return "config" in params


def _run_with_deadline(fn: Callable[[], Any], timeout: float, name: str) -> Any:
    """Run a sync call in a daemon thread; raise StepTimeoutError after ``timeout`` s.

    Python cannot kill a thread: on timeout the call keeps running in the background until
    it returns; its result is discarded. The copied context keeps LangGraph's config (so
    ``interrupt()`` works inside the call).
    """
    box: list[Any] = []
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            box.append((True, ctx.run(fn)))
        except BaseException as exc:  # handed to the caller thread
            box.append((False, exc))

    worker = threading.Thread(target=target, name=f"fsm-{name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not box:
        raise StepTimeoutError(f"state {name!r} ran past its timeout of {timeout}s", node=name)
    ok, value = box[0]
    if ok:
        return value
    raise value


def _run_info(
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
        update = dict(result.update) if isinstance(result.update, Mapping) else {}
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


def _finish(
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
        return _exit(spec, step, entry, t0, exc, update)
    dst, reason, update = routed
    record = _record(spec.name, dst, step, reason, (time.perf_counter() - t0) * 1000.0)
    if entry is None:
        out = {**update, "transitions": record}
    else:
        out = {**update, **entry, "transitions": [*entry["transitions"], record]}
    if events._listeners:  # skip building the kwargs when nobody listens (hot path)
        events.emit("transition", frm=spec.name, to=dst, reason=reason, step=step)
    if opts.state_budget is not None and (
        step % opts.size_check_every == 0 or dst in _TERMINAL_SET
    ):
        size_exc = _check_size(state, out, step, opts, spec.name)
        if size_exc is not None:
            return _exit(spec, step, entry, t0, size_exc, update)
    return Command(goto=dst, update=out)


def _exit(
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
    out: dict[str, Any] = {**(update or {}), **(entry or {})}
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


def _is_runnable(node: Any) -> bool:
    return isinstance(node, Runnable)


def make_state_node(spec: StateSpec, opts: MachineOptions) -> Any:
    """Wrap ``spec.node`` into a LangGraph node that routes with ``Command``."""
    node: Any = spec.node
    timeout, policy, name = spec.timeout, spec.retry, spec.name
    is_runnable = _is_runnable(node)
    is_async = not is_runnable and (
        inspect.iscoroutinefunction(node)
        or inspect.iscoroutinefunction(getattr(node, "__call__", None))  # noqa: B004
    )
    with_config = is_runnable or _wants_config(node)

    def call_once(state: Any, config: RunnableConfig) -> Any:
        if timeout is None:
            if is_runnable:
                return node.invoke(state, config)
            return node(state, config=config) if with_config else node(state)
        if is_runnable:
            fn: Callable[[], Any] = lambda: node.invoke(state, config)  # noqa: E731
        elif with_config:
            fn = lambda: node(state, config=config)  # noqa: E731
        else:
            fn = lambda: node(state)  # noqa: E731
        return _run_with_deadline(fn, timeout, name)

    async def acall_once(state: Any, config: RunnableConfig) -> Any:
        if is_runnable:
            coro: Awaitable[Any] = node.ainvoke(state, config)
        elif with_config:
            coro = node(state, config=config)
        else:
            coro = node(state)
        if timeout is None:
            return await coro
        try:
            return await asyncio.wait_for(coro, timeout)
        except TimeoutError:
            raise StepTimeoutError(
                f"state {name!r} ran past its timeout of {timeout}s", node=name
            ) from None

    def run(state: Any, config: RunnableConfig) -> Any:
        t0 = time.perf_counter()
        step, entry, limit = _run_info(spec, state, opts)
        if limit is not None:
            return _exit(spec, step, entry, t0, limit)
        failures = 0
        while True:
            try:
                result = call_once(state, config)
                break
            except GraphBubbleUp:
                raise
            except Exception as exc:
                failures += 1
                if policy and failures < policy.max_attempts and _should_retry(policy, exc):
                    time.sleep(_delay(policy, failures))
                    continue
                return _exit(spec, step, entry, t0, exc)
        return _finish(spec, state, opts, step, entry, t0, result)

    async def arun(state: Any, config: RunnableConfig) -> Any:
        t0 = time.perf_counter()
        step, entry, limit = _run_info(spec, state, opts)
        if limit is not None:
            return _exit(spec, step, entry, t0, limit)
        failures = 0
        while True:
            try:
                result = await acall_once(state, config)
                break
            except GraphBubbleUp:
                raise
            except Exception as exc:
                failures += 1
                if policy and failures < policy.max_attempts and _should_retry(policy, exc):
                    await asyncio.sleep(_delay(policy, failures))
                    continue
                return _exit(spec, step, entry, t0, exc)
        return _finish(spec, state, opts, step, entry, t0, result)

    marker: dict[str, Any] = {"fsm_state": name, "machine": opts.name}
    if policy is not None:
        marker["retry"] = policy
    if timeout is not None:
        marker["timeout"] = timeout
    for fn in (run, arun):
        fn.__name__ = fn.__qualname__ = name
        fn.__agentpatterns__ = {**getattr(node, "__agentpatterns__", {}), **marker}  # type: ignore[attr-defined]
    if is_runnable:
        wrapped = RunnableCallable(run, arun, name=name, trace=False)
        wrapped.__agentpatterns__ = run.__agentpatterns__  # type: ignore[attr-defined]
        return wrapped
    return arun if is_async else run


def make_terminal_node(name: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A terminal state: record final ``status``, ``reason``, ``steps`` and ``visits``."""

    def terminal(state: Mapping[str, Any]) -> dict[str, Any]:
        log = state.get("transitions") or ()
        reason = log[-1]["reason"] if log and log[-1]["to"] == name else None
        visits: dict[str, int] = {}
        for rec in reversed(log):
            visits[rec["to"]] = visits.get(rec["to"], 0) + 1
            if rec["from"] == "start":
                break
        steps = log[-1]["step"] if log else 0
        return {"status": name, "reason": reason, "steps": steps, "visits": visits}

    terminal.__name__ = terminal.__qualname__ = name
    terminal.__agentpatterns__ = {"fsm_state": name, "terminal": True}  # type: ignore[attr-defined]
    return terminal
