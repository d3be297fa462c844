"""``guarded`` / ``aguarded``: the one place a tool call meets every resilience policy.

The tool executor (``agentpatterns.orchestration``) calls these with the tool's
``ToolPolicy``. Wrapping order, outermost first::

    ledger.run_once(key)          if policy.side_effect and a ledger is given
      fallback (on failure)       if policy.fallback
        breaker                   if policy.breaker
          retry                   if policy.retry
            call()                the tool call, per-attempt timeout already applied

With a ``reconcile`` hook on the policy, every *re*-attempt of a side effect first asks
``reconcile(args)`` whether the previous attempt actually happened (e.g. the write committed
and only the response was lost), and returns that result instead of writing again.

Example:
    >>> from types import SimpleNamespace
    >>> from agentpatterns.resilience import EffectLedger, Retry, guarded
    >>> policy = SimpleNamespace(retry=Retry(), breaker=None, fallback=None, side_effect=True,
    ...                          reconcile=None)
    >>> ledger = EffectLedger("memory:")
    >>> [guarded(policy, lambda: "sent", tool="notify", call_id="c1", args={}, key="t:c1",
    ...          ledger=ledger) for _ in range(2)]
    ['sent', 'sent']
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from langchain_core.runnables.config import var_child_runnable_config

from agentpatterns.resilience.ledger import EffectLedger

__all__ = ["aguarded", "guarded"]


class _Parts(NamedTuple):
    retry: Any
    breaker: Any
    fallback: Any
    side_effect: bool
    reconcile: Any
    thread_id: str | None


def _parts(policy: Any, key: str | None) -> _Parts:
    """The policy's pieces (absent ones are None) and the thread the call belongs to."""
    side_effect = bool(getattr(policy, "side_effect", False))
    return _Parts(
        retry=getattr(policy, "retry", None),
        breaker=getattr(policy, "breaker", None),
        fallback=getattr(policy, "fallback", None),
        side_effect=side_effect,
        reconcile=getattr(policy, "reconcile", None) if side_effect else None,
        thread_id=_thread_of(key) if key else None,
    )


def _reconciling(
    call: Callable[[], Any], reconcile: Callable[[dict[str, Any]], Any] | None, args: dict[str, Any]
) -> Callable[[], Any]:
    if reconcile is None:
        return call
    attempts = [0]

    def checked() -> Any:
        attempts[0] += 1
        if attempts[0] > 1:
            found = reconcile(dict(args))
            if found is not None:
                return found
        return call()

    return checked


def _areconciling(
    acall: Callable[[], Awaitable[Any]],
    reconcile: Callable[[dict[str, Any]], Any] | None,
    args: dict[str, Any],
) -> Callable[[], Awaitable[Any]]:
    if reconcile is None:
        return acall
    attempts = [0]

    async def checked() -> Any:
        attempts[0] += 1
        if attempts[0] > 1:
            found = reconcile(dict(args))
            if hasattr(found, "__await__"):
                found = await found
            if found is not None:
                return found
        return await acall()

    return checked


def guarded(
    policy: Any,
    call: Callable[[], Any],
    *,
    tool: str,
    call_id: str,
    args: dict[str, Any],
    key: str | None,
    ledger: EffectLedger | None,
) -> Any:
    """Run ``call`` under ``policy`` (a ``ToolPolicy`` or anything with its attributes).

    Raises:
        RetryExhaustedError, CircuitOpenError, FallbackExhaustedError, EffectInDoubtError,
        or the tool's own permanent error; the executor turns them into error results.
    """
    retry, breaker, fallback, side_effect, reconcile, thread_id = _parts(policy, key)
    inner = _reconciling(call, reconcile, args)
    if retry is not None:
        retried, inner = inner, (lambda: retry.call_as(tool, retried, thread_id))
    if breaker is not None:
        broken, inner = inner, (lambda: breaker.call(broken))
    if fallback is not None:
        primary = inner

        def named(**kwargs: Any) -> Any:
            return primary()

        named.__name__ = tool
        inner = lambda: fallback.call(named, **args)  # noqa: E731
    if side_effect and ledger is not None and key is not None:
        return ledger.run_once(
            key, inner, tool=tool, args=args, thread_id=thread_id, reconcile=reconcile
        )
    return inner()


async def aguarded(
    policy: Any,
    acall: Callable[[], Awaitable[Any]],
    *,
    tool: str,
    call_id: str,
    args: dict[str, Any],
    key: str | None,
    ledger: EffectLedger | None,
) -> Any:
    """Async form of :func:`guarded`; nothing blocks the event loop."""
    retry, breaker, fallback, side_effect, reconcile, thread_id = _parts(policy, key)
    inner = _areconciling(acall, reconcile, args)
    if retry is not None:
        retried = inner

        async def with_retry() -> Any:
            return await retry.acall_as(tool, retried, thread_id)

        inner = with_retry
    if breaker is not None:
        broken = inner

        async def with_breaker() -> Any:
            return await breaker.acall(broken)

        inner = with_breaker
    if fallback is not None:
        primary = inner

        async def named(**kwargs: Any) -> Any:
            return await primary()

        named.__name__ = tool

        async def with_fallback() -> Any:
            return await fallback.acall(named, **args)

        inner = with_fallback
    if side_effect and ledger is not None and key is not None:
        return await ledger.arun_once(
            key, inner, tool=tool, args=args, thread_id=thread_id, reconcile=reconcile
        )
    return await inner()


def _thread_of(key: str) -> str | None:
    """The thread id of a default key ``{thread_id}:{checkpoint_ns}:{tool_call_id}``; for a
    business key, the thread of the current LangGraph run."""
    config = var_child_runnable_config.get()
    if config:
        thread_id = config.get("configurable", {}).get("thread_id")
        if thread_id is not None:
            return str(thread_id)
    return key.split(":", 1)[0] if ":" in key else None
