"""``Retry``: classified retries on tenacity strategies, bounded by a per-run budget.

A :class:`Retry` takes tenacity's own stop and wait strategies
(``stop_after_attempt(3) | stop_after_delay(30)``, ``wait_exponential_jitter(...)``), retries
only transient and rate-limited errors (see :mod:`.classify`; a 429 waits at least its
``Retry-After``), and draws every retry from a :class:`RetryBudget` shared by the whole run,
so that retries can never loop however many tools and nodes retry.

Budget scoping (which retries count as "one run"):

1. ``with retry_scope():`` around ``graph.invoke(...)`` (or ``budget.scope()``) gives that
   invocation a fresh budget. LangGraph copies context variables into every node task and
   tool thread, so all retries of the run, sync or async, draw on it.
2. Without a scope, the budget is keyed by the LangGraph ``thread_id`` of the running node
   (read from the current ``RunnableConfig``) and becomes a sliding window: at most
   ``max_retries`` retries in any ``max_seconds`` on that thread (still never a loop, and a
   long-lived thread is not starved). Outside any graph, the key is the process.

Example:
    >>> from tenacity import stop_after_attempt, wait_none
    >>> from agentpatterns.resilience import Retry
    >>> calls = []
    >>> def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise ConnectionError("jitter")
    ...     return "ok"
    >>> Retry(stop=stop_after_attempt(5), wait=wait_none()).call(flaky), len(calls)
    ('ok', 3)
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from langgraph.errors import GraphBubbleUp
from langgraph.types import RetryPolicy
from tenacity import RetryCallState, stop_after_attempt, wait_exponential_jitter
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from agentpatterns.errors import ConfigurationError, RetryExhaustedError
from agentpatterns.events import emit
from agentpatterns.resilience.classify import ErrorClass, classify_error, retry_after

__all__ = ["Retry", "RetryBudget", "retry_scope"]

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryBudget:
    """Retries allowed to one run in total: ``max_retries`` attempts after failures and
    ``max_seconds`` from the first retry (waits included)."""

    max_retries: int = 20
    max_seconds: float = 120.0

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.max_seconds <= 0:
            raise ConfigurationError(f"invalid retry budget {self!r}")

    def scope(self) -> AbstractContextManager[None]:
        """A fresh budget for everything run inside the ``with`` block."""
        return retry_scope()


@dataclass
class _Usage:
    """Retries taken. In a scope: totals since the run's first retry. Keyed by thread
    (no scope): a sliding window, at most ``max_retries`` in any ``max_seconds``."""

    window: bool = False
    retries: int = 0
    started: float | None = None
    times: deque[float] = field(default_factory=deque[float])
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, budget: RetryBudget, delay: float) -> str | None:
        """Take one retry; return None if granted, else why not."""
        now = time.monotonic()
        with self.lock:
            if self.window:
                times = self.times
                while times and now - times[0] > budget.max_seconds:
                    times.popleft()
                if len(times) >= budget.max_retries:
                    return (
                        f"retry budget of {budget.max_retries} retries per "
                        f"{budget.max_seconds:g} s used up"
                    )
                times.append(now)
                return None
            if self.retries >= budget.max_retries:
                return f"retry budget of {budget.max_retries} retries used up"
            start = self.started if self.started is not None else now
            if now + delay - start > budget.max_seconds:
                return f"retry budget of {budget.max_seconds:g} s used up"
            self.started, self.retries = start, self.retries + 1
            return None


_scope: contextvars.ContextVar[dict[RetryBudget, _Usage] | None] = contextvars.ContextVar(
    "agentpatterns_retry_scope", default=None
)
_keyed: OrderedDict[tuple[RetryBudget, str], _Usage] = OrderedDict()
_keyed_lock = threading.Lock()
_KEYED_MAX = 4096


@contextmanager
def _scope_cm() -> Iterator[None]:
    token = _scope.set({})
    try:
        yield
    finally:
        _scope.reset(token)


def retry_scope() -> AbstractContextManager[None]:
    """Give the code inside the ``with`` block (e.g. one ``graph.invoke``) fresh budgets.

    Example:
        >>> from agentpatterns.resilience import retry_scope
        >>> with retry_scope():
        ...     pass  # graph.invoke(inputs, config)
    """
    return _scope_cm()


def _current_thread_id() -> str:
    from langchain_core.runnables.config import var_child_runnable_config

    config = var_child_runnable_config.get()
    if config:
        thread_id = config.get("configurable", {}).get("thread_id")
        if thread_id is not None:
            return f"thread:{thread_id}"
    return "process"


def _usage_for(budget: RetryBudget, thread_id: str | None = None) -> _Usage:
    scoped = _scope.get()
    if scoped is not None:
        usage = scoped.get(budget)
        if usage is None:
            usage = scoped.setdefault(budget, _Usage())
        return usage
    key = (budget, f"thread:{thread_id}" if thread_id is not None else _current_thread_id())
    with _keyed_lock:
        usage = _keyed.get(key)
        if usage is None:
            usage = _keyed[key] = _Usage(window=True)
            if len(_keyed) > _KEYED_MAX:
                _keyed.popitem(last=False)
        else:
            _keyed.move_to_end(key)
        return usage


def _thread_from_traceback(exc: BaseException) -> str | None:
    """The LangGraph thread of a failed node attempt. LangGraph calls ``retry_on`` outside
    the node's config context; its retry loop (the frame that caught ``exc``) holds the
    task's ``config``. Only runs on failures. None if not found (then: no scope key)."""
    tb = exc.__traceback__
    if tb is None:
        return None
    config = tb.tb_frame.f_locals.get("config")
    if isinstance(config, dict):
        thread_id = config.get("configurable", {}).get("thread_id")  # pyright: ignore
        if thread_id is not None:
            return str(thread_id)
    return None


def _max_attempts(stop: Any) -> int | None:
    if isinstance(stop, stop_after_attempt):
        return stop.max_attempt_number
    found = [n for s in getattr(stop, "stops", ()) if (n := _max_attempts(s)) is not None]
    return min(found) if found else None


@dataclass(frozen=True)
class Retry:
    """Retry transient and rate-limited failures; never permanent ones.

    Args:
        stop: A tenacity stop strategy (combine with ``|``); default 3 attempts.
        wait: A tenacity wait strategy; default exponential with jitter, 0.1 s to 10 s.
        budget: Per-run retry budget shared by every Retry that uses the same budget;
            ``None`` disables it (not recommended).
        classify: ``exc -> "transient" | "rate_limited" | "permanent"``.
        max_retry_after: Cap (s) on an honoured Retry-After; a longer one exhausts.
        name: Label used in events and errors (default: the callable's name).
        sleep: ``time.sleep`` replacement (tests); async calls use ``asyncio.sleep``.

    Raises (from ``call``/``acall``):
        RetryExhaustedError: attempts, delay or budget used up (``cause`` = last error).
        The original exception: a permanent error, raised at once.

    Example:
        >>> from tenacity import stop_after_attempt, stop_after_delay
        >>> retry = Retry(stop=stop_after_attempt(3) | stop_after_delay(30))
        >>> retry.retry_on(TimeoutError()), retry.retry_on(KeyError("x"))
        (True, False)
    """

    stop: stop_base = field(default_factory=lambda: stop_after_attempt(3))
    wait: wait_base = field(
        default_factory=lambda: wait_exponential_jitter(multiplier=0.1, max=10.0, jitter=0.1)
    )
    budget: RetryBudget | None = field(default_factory=RetryBudget)
    classify: Callable[[BaseException], ErrorClass] = classify_error
    max_retry_after: float = 60.0
    name: str | None = None
    sleep: Callable[[float], None] = time.sleep

    # --- classification ---------------------------------------------------------------
    def retry_on(self, exc: BaseException) -> bool:
        """True when ``exc`` is worth retrying (transient or rate-limited)."""
        if isinstance(exc, GraphBubbleUp):
            return False
        return self.classify(exc) != "permanent"

    # --- decision shared by sync and async --------------------------------------------
    def _next_delay(
        self, state: RetryCallState, exc: BaseException, target: str, thread_id: str | None = None
    ) -> float:
        """Delay before the next attempt, or raise (original error or RetryExhaustedError)."""
        kind = self.classify(exc)
        if kind == "permanent" or isinstance(exc, GraphBubbleUp):
            raise exc
        attempt = state.attempt_number
        state.outcome_timestamp = time.monotonic()
        state.set_exception((type(exc), exc, exc.__traceback__))
        reason: str | None = None
        delay = 0.0
        if self.stop(state):
            reason = f"gave up after {attempt} attempt(s)"
        else:
            delay = float(self.wait(state))
            if kind == "rate_limited":
                hint = retry_after(exc)
                if hint is not None:
                    if hint > self.max_retry_after:
                        reason = (
                            f"Retry-After {hint:g} s exceeds max_retry_after "
                            f"{self.max_retry_after:g} s"
                        )
                    delay = max(delay, hint)
            state.upcoming_sleep = delay
            if reason is None and self.budget is not None:
                reason = _usage_for(self.budget, thread_id).take(self.budget, delay)
        if reason is not None:
            emit(
                "retry_exhausted",
                target=target,
                attempts=attempt,
                error_type=type(exc).__name__,
                reason=reason,
            )
            raise RetryExhaustedError(
                f"{target}: {reason}", node=target, attempt=attempt, cause=exc
            ) from exc
        emit(
            "retry",
            target=target,
            attempt=attempt,
            delay=delay,
            error_type=type(exc).__name__,
            classification=kind,
        )
        state.prepare_for_next_attempt()
        return delay

    def _target(self, fn: Callable[..., Any]) -> str:
        return self.name or getattr(fn, "__name__", None) or type(fn).__name__

    # --- sync -------------------------------------------------------------------------
    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)``, retrying per this policy."""
        try:
            return fn(*args, **kwargs)  # the happy path costs one try block
        except GraphBubbleUp:
            raise
        except Exception as exc:
            return self._again(self._target(fn), exc, fn, args, kwargs)

    def call_as(self, target: str, fn: Callable[[], T], thread_id: str | None = None) -> T:
        """``call(fn)`` reporting ``target`` (e.g. the tool name) in events and errors;
        ``thread_id`` keys the budget when no :func:`retry_scope` is active."""
        try:
            return fn()
        except GraphBubbleUp:
            raise
        except Exception as exc:
            return self._again(self.name or target, exc, fn, (), {}, thread_id)

    def _again(
        self,
        target: str,
        error: Exception,
        fn: Callable[..., T],
        args: Any,
        kwargs: Any,
        thread_id: str | None = None,
    ) -> T:
        state = RetryCallState(None, fn, args, kwargs)  # pyright: ignore[reportArgumentType]
        while True:
            self.sleep(self._next_delay(state, error, target, thread_id))
            try:
                return fn(*args, **kwargs)
            except GraphBubbleUp:
                raise
            except Exception as exc:
                error = exc

    # --- async ------------------------------------------------------------------------
    async def acall(self, afn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``afn(*args, **kwargs)``, retrying per this policy (sleeps with asyncio)."""
        try:
            return await afn(*args, **kwargs)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            return await self._aagain(self._target(afn), exc, afn, args, kwargs)

    async def acall_as(
        self, target: str, afn: Callable[[], Awaitable[T]], thread_id: str | None = None
    ) -> T:
        """Async :meth:`call_as`."""
        try:
            return await afn()
        except GraphBubbleUp:
            raise
        except Exception as exc:
            return await self._aagain(self.name or target, exc, afn, (), {}, thread_id)

    async def _aagain(
        self,
        target: str,
        error: Exception,
        afn: Callable[..., Awaitable[T]],
        args: Any,
        kwargs: Any,
        thread_id: str | None = None,
    ) -> T:
        state = RetryCallState(None, afn, args, kwargs)  # pyright: ignore[reportArgumentType]
        while True:
            await asyncio.sleep(self._next_delay(state, error, target, thread_id))
            try:
                return await afn(*args, **kwargs)
            except GraphBubbleUp:
                raise
            except Exception as exc:
                error = exc

    def wrap(self, fn: Callable[P, T]) -> Callable[P, T]:
        """``fn`` wrapped with this policy (marked ``__agentpatterns__ = {"retry": self}``)."""

        def wrapped(*args: P.args, **kwargs: P.kwargs) -> T:
            return self.call(fn, *args, **kwargs)

        wrapped.__name__ = getattr(fn, "__name__", "wrapped")
        marker = dict(getattr(fn, "__agentpatterns__", {}) or {})
        marker["retry"] = self
        wrapped.__agentpatterns__ = marker  # type: ignore[attr-defined]
        return wrapped

    # --- LangGraph node retry ---------------------------------------------------------
    def as_retry_policy(self) -> RetryPolicy:
        """This policy as a LangGraph ``RetryPolicy`` for ``add_node(retry_policy=...)``.

        ``max_attempts`` comes from a ``stop_after_attempt`` in ``stop`` (default 3); the
        backoff from the wait strategy's ``initial``/``multiplier``, ``exp_base`` and
        ``max``. ``retry_on`` uses this classifier (404 not retried, ``TimeoutError`` is)
        and draws on the run's budget. LangGraph sleeps its own backoff, so a Retry-After
        longer than that is not honoured here; use ``call`` inside the node for that.
        """
        wait: Any = self.wait
        initial = float(getattr(wait, "multiplier", 0.5) or 0.5)
        initial = max(initial, float(getattr(wait, "min", 0.0) or 0.0))
        jitter = float(getattr(wait, "jitter", 0.0) or 0.0)

        def retry_on(exc: Exception) -> bool:
            if not self.retry_on(exc):
                return False
            if self.budget is not None:
                usage = _usage_for(self.budget, _thread_from_traceback(exc))
                reason = usage.take(self.budget, initial)
                if reason is not None:
                    emit(
                        "retry_exhausted",
                        target=self.name or "node",
                        attempts=None,
                        error_type=type(exc).__name__,
                        reason=reason,
                    )
                    return False
            emit(
                "retry",
                target=self.name or "node",
                attempt=None,
                delay=initial,
                error_type=type(exc).__name__,
                classification=self.classify(exc),
            )
            return True

        return RetryPolicy(
            initial_interval=initial,
            backoff_factor=float(getattr(wait, "exp_base", 2.0) or 2.0),
            max_interval=float(getattr(wait, "max", 128.0) or 128.0),
            max_attempts=_max_attempts(self.stop) or 3,
            jitter=jitter >= 1.0,  # LangGraph's jitter adds up to 1 s
            retry_on=retry_on,
        )
