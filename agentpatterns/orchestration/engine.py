"""The executor engine: worker pools plus running a selection to outcomes.

Shared by :func:`~agentpatterns.orchestration.tool_executor` and
:func:`~agentpatterns.orchestration.tool_step`; the per-call machinery (timeouts, limits,
guarded calls) is in :mod:`agentpatterns.orchestration.executor`.
"""

from __future__ import annotations

import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import thread as _cf_thread
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp

from agentpatterns.errors import ConfigurationError
from agentpatterns.orchestration.executor import (
    ToolCall,
    arun_calls,
    raise_fail_fast,
    run_calls,
)
from agentpatterns.orchestration.outcomes import error_outcome

if TYPE_CHECKING:
    from agentpatterns.orchestration.registry import ToolRegistry
    from agentpatterns.resilience import EffectLedger

__all__ = ["Executor"]


class _DaemonPool(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose workers are daemon threads that are not joined at exit.

    A timed-out sync tool may hang for ever; with the standard pool the interpreter would
    wait for it at exit. Relies on ``concurrent.futures.thread`` internals (CPython 3.11+).
    """

    def _adjust_thread_count(self) -> None:
        if self._idle_semaphore.acquire(timeout=0):
            return

        def weakref_cb(_: Any, q: Any = self._work_queue) -> None:
            q.put(None)

        if len(self._threads) < self._max_workers:
            t = threading.Thread(
                name=f"{self._thread_name_prefix}_{len(self._threads)}",
                target=_cf_thread._worker,  # type: ignore[attr-defined]
                args=(
                    weakref.ref(self, weakref_cb),
                    self._work_queue,
                    self._initializer,  # type: ignore[attr-defined]
                    self._initargs,  # type: ignore[attr-defined]
                ),
                daemon=True,
            )
            t.start()
            self._threads.add(t)  # type: ignore[attr-defined]


class Executor:
    """Runs a selection (see ``select_calls``) to outcomes; shared by the executor nodes.

    Owns the worker pools (created on first use, ``max_workers`` daemon threads each: one for
    tool bodies, one driving guarded calls so that a guard waiting for an attempt never holds
    a worker the attempt needs). Daemon workers do not hold up interpreter exit when a
    timed-out tool never returns.
    """

    def __init__(
        self, registry: ToolRegistry, *, ledger: EffectLedger | None, max_workers: int
    ) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError(f"max_workers must be an int >= 1, got {max_workers!r}")
        self.registry = registry
        self.ledger = ledger
        self.max_workers = max_workers
        self.pools: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()

    def _pool(self, kind: str) -> ThreadPoolExecutor:
        pool = self.pools.get(kind)
        if pool is None:
            with self._lock:
                pool = self.pools.get(kind)
                if pool is None:
                    pool = self.pools[kind] = _DaemonPool(
                        self.max_workers, thread_name_prefix=f"agentpatterns-{kind}"
                    )
        return pool

    def _tool_pool(self) -> ThreadPoolExecutor:
        return self._pool("tool")

    def _driver_pool(self) -> ThreadPoolExecutor:
        return self._pool("guard")

    def _prepare(
        self, selection: list[dict[str, Any]], config: RunnableConfig
    ) -> tuple[list[ToolCall | None], list[dict[str, Any] | None], list[ToolCall]]:
        calls: list[ToolCall | None] = []
        outcomes: list[dict[str, Any] | None] = []
        runnable: list[ToolCall] = []
        spec = self.registry.spec
        for entry in selection:
            refusal = entry.get("refusal")
            if refusal:
                calls.append(None)
                outcomes.append(
                    error_outcome(
                        entry["id"],
                        entry["name"],
                        None,
                        0,
                        0.0,
                        error_type=refusal["error_type"],
                        message=refusal["message"],
                    )
                )
                continue
            try:
                call = ToolCall(spec(entry["name"]), entry["id"], entry["args"], config)
            except GraphBubbleUp:
                raise
            except Exception as exc:  # e.g. the policy's idempotency_key(args) raised
                calls.append(None)
                outcomes.append(error_outcome(entry["id"], entry["name"], exc, 0, 0.0))
                continue
            calls.append(call)
            outcomes.append(None)
            runnable.append(call)
        return calls, outcomes, runnable

    @staticmethod
    def _merge(
        calls: list[ToolCall | None],
        outcomes: list[dict[str, Any] | None],
        ran: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        it = iter(ran)
        merged = [o if o is not None else next(it) for o in outcomes]
        raise_fail_fast(calls, merged)
        return merged

    @property
    def _ledger(self) -> EffectLedger | None:
        return self.ledger if self.ledger is not None else self.registry.ledger

    def run(self, selection: list[dict[str, Any]], config: RunnableConfig) -> list[dict[str, Any]]:
        """Outcomes of ``selection`` in call order (threads)."""
        if not selection:
            return []
        calls, outcomes, runnable = self._prepare(selection, config)
        ran = (
            run_calls(runnable, self._tool_pool, self._driver_pool, self._ledger)
            if runnable
            else []
        )
        return self._merge(calls, outcomes, ran)

    async def arun(
        self, selection: list[dict[str, Any]], config: RunnableConfig
    ) -> list[dict[str, Any]]:
        """Outcomes of ``selection`` in call order (asyncio)."""
        if not selection:
            return []
        calls, outcomes, runnable = self._prepare(selection, config)
        ran = await arun_calls(runnable, self._ledger, self._tool_pool) if runnable else []
        return self._merge(calls, outcomes, ran)

    def shutdown(self, wait: bool = False) -> None:
        """Stop the worker pools (timed-out calls still running are not interrupted)."""
        for pool in self.pools.values():
            pool.shutdown(wait=wait)
        self.pools.clear()
