"""Node factories of the state machine: the wrapper of each state and the terminals.

A ``def`` node gets a ``def`` wrapper, an ``async def`` node an ``async def`` wrapper (so
``ainvoke`` runs without threads), a ``Runnable`` gets both. The wrapper applies the state's
limits, retry policy and timeout, then routes with ``Command`` (see ``runtime``).

State:
    Reads ``status`` and ``transitions``; writes one ``transitions`` record per step,
    ``status`` on entry, ``error`` on an error exit; terminals write ``status``, ``reason``,
    ``steps`` and ``visits``.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig
from langgraph._internal._runnable import RunnableCallable
from langgraph.errors import GraphBubbleUp
from langgraph.types import RetryPolicy

from agentpatterns.errors import StepTimeoutError
from agentpatterns.fsm.runtime import MachineOptions, StateSpec, exit_to, finish, run_info

__all__ = ["make_state_node", "make_terminal_node"]


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


def _retry_delay(policy: RetryPolicy | None, failures: int, exc: Exception) -> float | None:
    """Seconds to wait before the next attempt, or None when ``exc`` ends the state."""
    if policy and failures < policy.max_attempts and _should_retry(policy, exc):
        return _delay(policy, failures)
    return None


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
        step, entry, limit = run_info(spec, state, opts)
        if limit is not None:
            return exit_to(spec, step, entry, t0, limit)
        failures = 0
        while True:
            try:
                result = call_once(state, config)
                break
            except GraphBubbleUp:
                raise
            except Exception as exc:
                failures += 1
                delay = _retry_delay(policy, failures, exc)
                if delay is None:
                    return exit_to(spec, step, entry, t0, exc)
                time.sleep(delay)
        return finish(spec, state, opts, step, entry, t0, result)

    async def arun(state: Any, config: RunnableConfig) -> Any:
        t0 = time.perf_counter()
        step, entry, limit = run_info(spec, state, opts)
        if limit is not None:
            return exit_to(spec, step, entry, t0, limit)
        failures = 0
        while True:
            try:
                result = await acall_once(state, config)
                break
            except GraphBubbleUp:
                raise
            except Exception as exc:
                failures += 1
                delay = _retry_delay(policy, failures, exc)
                if delay is None:
                    return exit_to(spec, step, entry, t0, exc)
                await asyncio.sleep(delay)
        return finish(spec, state, opts, step, entry, t0, result)

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
