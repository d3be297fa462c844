"""Running a step's tool calls in parallel, with timeouts, limits and error results.

Internal engine behind :func:`agentpatterns.orchestration.tool_executor`. Sync callers run
calls on a shared ``ThreadPoolExecutor`` (one per executor node, created on first use); async
callers use ``asyncio.gather``. Every call ends as an *outcome* dict in call order; a failing
call never raises out of here except for LangGraph control flow (``GraphBubbleUp``) and
``fail_fast`` policies.

A timed-out sync call cannot be killed (Python threads cannot be interrupted): the executor
stops waiting, reports ``StepTimeoutError`` and the worker thread finishes in the background;
its result is dropped. A call that had not started when its time ran out never starts.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp

from agentpatterns.errors import StepTimeoutError, ToolExecutionError
from agentpatterns.orchestration.outcomes import error_outcome, ok_outcome

if TYPE_CHECKING:
    from agentpatterns.orchestration.registry import RegisteredTool
    from agentpatterns.resilience import EffectLedger

__all__ = [
    "TOOL_CALL_METADATA",
    "ToolCall",
    "arun_calls",
    "error_outcome",
    "raise_fail_fast",
    "run_calls",
]

_ABANDONED = object()
_perf = time.perf_counter

#: Callback-metadata key carrying ``{"id", "name"}`` of the call, so tool callbacks (e.g.
#: ``ObservabilityCallbackHandler``) see the tool call id. Invoking with a ``ToolCall`` dict
#: would pass it too, but LangChain then stringifies the output into a ``ToolMessage``.
TOOL_CALL_METADATA = "agentpatterns_tool_call"


class ToolCall:
    """One accepted call, prepared for execution."""

    __slots__ = ("args", "attempts", "config", "error", "id", "key", "spec", "t_end")

    def __init__(
        self, spec: RegisteredTool, call_id: str, args: dict[str, Any], config: RunnableConfig
    ) -> None:
        self.spec = spec
        self.id = call_id
        self.args = args
        self.attempts = 0
        self.t_end = 0.0
        self.error: BaseException | None = None
        self.key: str | None = None
        if spec.policy.side_effect:
            policy = spec.policy
            conf = config.get("configurable") or {}
            if policy.idempotency_key is not None:
                self.key = policy.idempotency_key(args)
            else:
                ns = "|".join(
                    p.split(":", 1)[0] for p in str(conf.get("checkpoint_ns", "")).split("|")
                )
                self.key = f"{conf.get('thread_id')}:{ns}:{call_id}"
            config = {**config, "configurable": {**conf, "agentpatterns_effect_key": self.key}}
        else:
            config = {**config}
        config["metadata"] = {
            **(config.get("metadata") or {}),
            TOOL_CALL_METADATA: {"id": call_id, "name": spec.name},
        }
        self.config: RunnableConfig = config

    def invoke(self) -> Any:
        """Run the tool once in this thread (sync path)."""
        self.attempts += 1
        spec = self.spec
        try:
            if spec.has_sync:
                return _unwrap(spec.tool.invoke(self.input(), self.config))
            return _unwrap(asyncio.run(spec.tool.ainvoke(self.input(), self.config)))
        finally:
            self.t_end = _perf()

    def input(self) -> Any:
        """The tool input: the arguments, or a full ToolCall for InjectedToolCallId tools."""
        if self.spec.wants_call:
            return {"type": "tool_call", "name": self.spec.name, "args": self.args, "id": self.id}
        return self.args


def _unwrap(result: Any) -> Any:
    """A ToolCall-invoked tool answers with a ToolMessage: keep its content."""
    return result.content if isinstance(result, ToolMessage) else result


def raise_fail_fast(calls: list[ToolCall | None], outcomes: list[dict[str, Any]]) -> None:
    """Raise ToolExecutionError for the first failed call whose policy is ``fail_fast``."""
    for call, outcome in zip(calls, outcomes, strict=True):
        if call is not None and not outcome["ok"] and call.spec.policy.fail_fast:
            raise ToolExecutionError(
                f"tool '{call.spec.name}' failed and its policy is fail_fast: {outcome['content']}",
                node=call.spec.name,
                attempt=call.attempts,
                cause=call.error,
            ) from call.error


# --------------------------------------------------------------------------- sync path


class _Slot:
    """A call submitted to the pool; lets the waiter time out and abandon it safely."""

    __slots__ = ("abandoned", "future", "lock", "started", "t_start", "t_submit")

    def __init__(self, timed: bool) -> None:
        self.t_submit = _perf()
        self.t_start = self.t_submit
        self.abandoned = False
        self.started = threading.Event() if timed else None
        self.lock = threading.Lock() if timed else None
        self.future: Future[Any]


def _body(slot: _Slot, fn: Callable[[], Any], sem: threading.BoundedSemaphore | None) -> Any:
    if sem is not None:
        sem.acquire()
    try:
        if slot.started is not None:
            assert slot.lock is not None
            with slot.lock:
                if slot.abandoned:
                    return _ABANDONED
                slot.t_start = _perf()
                slot.started.set()
        return fn()
    finally:
        if sem is not None:
            sem.release()


def _submit(
    pool: ThreadPoolExecutor, fn: Callable[[], Any], sem: Any, timeout: float | None
) -> _Slot:
    slot = _Slot(timeout is not None)
    slot.future = pool.submit(contextvars.copy_context().run, _body, slot, fn, sem)
    return slot


def _wait(slot: _Slot, timeout: float | None, name: str) -> Any:
    if timeout is None or slot.started is None:
        return slot.future.result()
    if not slot.started.wait(max(slot.t_submit + timeout - _perf(), 0.0)):
        assert slot.lock is not None
        with slot.lock:
            if not slot.started.is_set():
                slot.abandoned = True
                slot.future.cancel()
                raise StepTimeoutError(
                    f"tool '{name}' could not start within {timeout:g} s "
                    f"(concurrency limit or worker pool busy)",
                    node=name,
                )
    try:
        return slot.future.result(max(slot.t_start + timeout - _perf(), 0.0))
    except TimeoutError:
        if slot.future.done():  # the tool raised TimeoutError itself, or just finished
            return slot.future.result()
        raise StepTimeoutError(
            f"tool '{name}' did not finish within {timeout:g} s (the worker thread cannot "
            f"be killed and finishes in the background)",
            node=name,
        ) from None


def _attempt_sync(call: ToolCall, pool: ThreadPoolExecutor) -> Any:
    """One attempt of a guarded call, on a driver thread, honouring timeout and limit."""
    spec = call.spec
    timeout = spec.policy.timeout
    if timeout is None:
        return _body(_Slot(False), call.invoke, spec.sem)
    return _wait(_submit(pool, call.invoke, spec.sem, timeout), timeout, spec.name)


def _guarded_sync(call: ToolCall, pool: ThreadPoolExecutor, ledger: EffectLedger | None) -> Any:
    from agentpatterns.resilience.guard import guarded

    return guarded(
        call.spec.policy,
        lambda: _attempt_sync(call, pool),
        tool=call.spec.name,
        call_id=call.id,
        args=call.args,
        key=call.key,
        ledger=ledger,
    )


def _finish(call: ToolCall, get: Callable[[], Any], t0: float) -> dict[str, Any]:
    try:
        output = get()
        call.spec.check_output(output)
    except GraphBubbleUp:
        raise
    except Exception as exc:
        call.error = exc
        return error_outcome(call.id, call.spec.name, exc, call.attempts, _perf() - t0)
    # elapsed until the tool returned (not until this thread got round to collecting it)
    end = call.t_end or _perf()
    return ok_outcome(call.id, call.spec.name, output, call.attempts, end - t0)


def run_calls(
    calls: list[ToolCall],
    pool: Callable[[], ThreadPoolExecutor],
    drivers: Callable[[], ThreadPoolExecutor],
    ledger: EffectLedger | None,
) -> list[dict[str, Any]]:
    """Run ``calls`` in parallel on threads; outcomes in call order."""
    n = len(calls)
    t0 = _perf()
    pending: list[tuple[ToolCall, Any]] = []
    inline: ToolCall | None = None
    # The last unguarded call without a timeout runs in this thread: one hop fewer.
    for call in reversed(calls):
        if not call.spec.policy.guarded and call.spec.policy.timeout is None:
            inline = call
            break
    for call in calls:
        if call is inline:
            continue
        if call.spec.policy.guarded:
            if n == 1:
                pending.append((call, None))
            else:
                ctx = contextvars.copy_context()
                pending.append(
                    (call, drivers().submit(ctx.run, _guarded_sync, call, pool(), ledger))
                )
        else:
            pending.append(
                (call, _submit(pool(), call.invoke, call.spec.sem, call.spec.policy.timeout))
            )
    results: dict[int, dict[str, Any]] = {}
    if inline is not None:
        spec = inline.spec
        results[id(inline)] = _finish(
            inline, lambda: _body(_Slot(False), inline.invoke, spec.sem), t0
        )
    for call, handle in pending:
        if handle is None:
            results[id(call)] = _finish(call, lambda c=call: _guarded_sync(c, pool(), ledger), t0)
        elif isinstance(handle, _Slot):
            results[id(call)] = _finish(
                call, lambda c=call, h=handle: _wait(h, c.spec.policy.timeout, c.spec.name), t0
            )
        else:
            results[id(call)] = _finish(call, handle.result, t0)
    return [results[id(call)] for call in calls]


# --------------------------------------------------------------------------- async path


async def _ainvoke(call: ToolCall, pool: Callable[[], ThreadPoolExecutor]) -> Any:
    spec = call.spec
    if spec.has_async:
        call.attempts += 1
        return _unwrap(await spec.tool.ainvoke(call.input(), call.config))
    # A sync tool runs on our daemon pool, not the loop's default executor: a hung call
    # must not hold up ``asyncio.run``'s shutdown (which waits for the default executor).
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool(), contextvars.copy_context().run, call.invoke)


async def _attempt_async(call: ToolCall, pool: Callable[[], ThreadPoolExecutor]) -> Any:
    spec = call.spec
    sem = spec.async_sem()
    timeout = spec.policy.timeout
    if timeout is None:
        if sem is None:
            return await _ainvoke(call, pool)
        async with sem:
            return await _ainvoke(call, pool)
    if sem is not None:
        cm = asyncio.timeout(timeout)
        try:
            async with cm:
                await sem.acquire()
        except TimeoutError:
            if cm.expired():
                raise StepTimeoutError(
                    f"tool '{spec.name}' could not start within {timeout:g} s "
                    f"(concurrency limit {spec.policy.max_concurrency} reached)",
                    node=spec.name,
                ) from None
            raise
    try:
        cm = asyncio.timeout(timeout)
        try:
            async with cm:
                return await _ainvoke(call, pool)
        except TimeoutError:
            if cm.expired():
                raise StepTimeoutError(
                    f"tool '{spec.name}' did not finish within {timeout:g} s", node=spec.name
                ) from None
            raise
    finally:
        if sem is not None:
            sem.release()


async def _arun_one(
    call: ToolCall,
    ledger: EffectLedger | None,
    t0: float,
    pool: Callable[[], ThreadPoolExecutor],
) -> dict[str, Any]:
    spec = call.spec
    try:
        if spec.policy.guarded:
            from agentpatterns.resilience.guard import aguarded

            acall: Callable[[], Awaitable[Any]] = lambda: _attempt_async(call, pool)  # noqa: E731
            output = await aguarded(
                spec.policy,
                acall,
                tool=spec.name,
                call_id=call.id,
                args=call.args,
                key=call.key,
                ledger=ledger,
            )
        else:
            output = await _attempt_async(call, pool)
        spec.check_output(output)
    except GraphBubbleUp:
        raise
    except Exception as exc:
        call.error = exc
        return error_outcome(call.id, spec.name, exc, call.attempts, _perf() - t0)
    return ok_outcome(call.id, spec.name, output, call.attempts, _perf() - t0)


async def arun_calls(
    calls: list[ToolCall],
    ledger: EffectLedger | None,
    pool: Callable[[], ThreadPoolExecutor],
) -> list[dict[str, Any]]:
    """Run ``calls`` concurrently with ``asyncio.gather``; outcomes in call order."""
    t0 = _perf()
    if len(calls) == 1:
        return [await _arun_one(calls[0], ledger, t0, pool)]
    return list(await asyncio.gather(*(_arun_one(c, ledger, t0, pool) for c in calls)))
