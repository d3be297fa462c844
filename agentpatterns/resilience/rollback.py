"""``rollback``: rewind a thread to an earlier checkpoint and compensate newer side effects.

The rewind is LangGraph's own fork: ``update_state(target.config, None, as_node="__copy__")``
copies the target checkpoint as the thread's newest one (same values, same pending nodes),
so the next ``invoke(None, config)`` continues from there and the history stays auditable.

Then the ledger effects of the thread claimed *after* the target checkpoint was written
(done and not yet compensated) are undone, newest first, with ``compensations[tool](args,
result)``; each success is marked ``compensated`` in the ledger at once, so calling
``rollback`` again after a failure only retries what is left. A ``rollback`` event is
emitted.

Escalation path: a failing compensation emits ``compensation_failed`` (the default alert
rules page on it) and raises :class:`CompensationError` whose ``details`` hold ``config``
(the rewound thread: already rewound), ``key``, ``tool`` and ``pending`` (keys still to
compensate). Catch it and route the thread to a human, e.g.
``graph.update_state(err.details["config"], {"status": "escalated"})`` or a node made by
:func:`~agentpatterns.resilience.escalate_to_human`; once the human fixed the effect by hand,
``ledger.mark_compensated(key)`` and call ``rollback`` again.

Example:
    >>> from agentpatterns.resilience import last_where
    >>> to = last_where(lambda snap: snap.values.get("status") == "validated")
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import StateSnapshot

from agentpatterns.errors import CompensationError, RollbackError
from agentpatterns.events import emit
from agentpatterns.resilience.ledger import Effect, EffectLedger

__all__ = ["arollback", "last_where", "rollback"]

Target = str | Callable[[StateSnapshot], bool]
Compensation = Callable[[dict[str, Any], Any], Any]


def last_where(predicate: Callable[[StateSnapshot], bool]) -> Callable[[StateSnapshot], bool]:
    """Rollback target: the newest checkpoint whose snapshot satisfies ``predicate``."""

    def target(snapshot: StateSnapshot) -> bool:
        return bool(predicate(snapshot))

    target.__name__ = f"last_where({getattr(predicate, '__name__', 'predicate')})"
    return target


def _thread_id(config: RunnableConfig) -> str:
    thread_id = config.get("configurable", {}).get("thread_id")
    if thread_id is None:
        raise RollbackError("rollback needs config['configurable']['thread_id']")
    return str(thread_id)


def _pick(history: list[StateSnapshot], to: Target, thread_id: str) -> StateSnapshot:
    for snap in history:  # newest first
        checkpoint_id = snap.config.get("configurable", {}).get("checkpoint_id")
        if (checkpoint_id == to) if isinstance(to, str) else to(snap):
            return snap
    what = f"checkpoint {to!r}" if isinstance(to, str) else f"a checkpoint matching {to!r}"
    raise RollbackError(f"cannot roll back thread {thread_id!r}: no {what}", node=thread_id)


def _origin(history: list[StateSnapshot], snap: StateSnapshot) -> StateSnapshot:
    """A fork made by an earlier rollback stands for the checkpoint it copied: same parent,
    not itself a fork. Effects are compared with the original's time."""
    if (snap.metadata or {}).get("source") != "fork":
        return snap
    parent = (snap.parent_config or {}).get("configurable", {}).get("checkpoint_id")
    for other in reversed(history):  # oldest first: the original precedes its copies
        other_parent = (other.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        if other_parent == parent and (other.metadata or {}).get("source") != "fork":
            return other
    return snap


def _after(ledger: EffectLedger | None, thread_id: str, snap: StateSnapshot) -> list[Effect]:
    if ledger is None:
        return []
    since = datetime.fromisoformat(snap.created_at).timestamp() if snap.created_at else 0.0
    effects = [
        e
        for e in ledger.effects(thread_id)
        if e.status == "done" and not e.compensated and e.claimed_at >= since
    ]
    return sorted(effects, key=lambda e: e.seq, reverse=True)


def _failed(
    effect: Effect, exc: BaseException, config: RunnableConfig, pending: list[Effect]
) -> CompensationError:
    emit(
        "compensation_failed",
        key=effect.key,
        tool=effect.tool,
        error_type=type(exc).__name__,
        thread_id=effect.thread_id,
    )
    return CompensationError(
        f"compensation of {effect.tool} ({effect.key}) failed; thread rewound, "
        f"{len(pending)} effect(s) left to compensate: escalate to a human",
        node=effect.tool,
        cause=exc,
        config=config,
        key=effect.key,
        tool=effect.tool,
        pending=[e.key for e in pending],
    )


def _compensator(effect: Effect, compensations: Mapping[str, Compensation]) -> Compensation:
    comp = compensations.get(effect.tool)
    if comp is None:
        raise CompensationError(
            f"no compensation registered for tool {effect.tool!r} ({effect.key})",
            node=effect.tool,
            key=effect.key,
            tool=effect.tool,
        )
    return comp


def rollback(
    graph: Any,
    config: RunnableConfig,
    *,
    to: Target,
    ledger: EffectLedger | None = None,
    compensations: Mapping[str, Compensation] | None = None,
) -> RunnableConfig:
    """Rewind ``config``'s thread to ``to`` and compensate the side effects recorded after it.

    Args:
        graph: A compiled graph with a checkpointer.
        config: The thread's config (``thread_id``).
        to: A checkpoint id, or a predicate over ``StateSnapshot`` (newest match wins; see
            :func:`last_where`).
        ledger: The effect ledger the tools wrote to; ``None`` rewinds only.
        compensations: ``{tool_name: fn(args, result)}``.

    Returns:
        The config of the new head checkpoint; ``graph.invoke(None, config)`` continues.

    Raises:
        RollbackError: no such checkpoint. CompensationError: a compensation failed or is
            missing (alerted; see the module docs for the escalation path).
    """
    thread_id = _thread_id(config)
    base: RunnableConfig = {"configurable": {"thread_id": thread_id, **_ns(config)}}
    history = list(graph.get_state_history(base))
    snap = _pick(history, to, thread_id)
    effects = _after(ledger, thread_id, _origin(history, snap))
    new_config = graph.update_state(snap.config, None, as_node="__copy__")
    done = 0
    for i, effect in enumerate(effects):
        try:
            comp = _compensator(effect, compensations or {})
            result = comp(effect.args, effect.result)
            if inspect.isawaitable(result):
                raise TypeError("async compensation used from rollback(); use arollback()")
        except Exception as exc:
            raise _failed(effect, exc, new_config, effects[i:]) from exc
        assert ledger is not None
        ledger.mark_compensated(effect.key)
        done += 1
    emit("rollback", thread_id=thread_id, to=_id(snap), compensated=done)
    return new_config


async def arollback(
    graph: Any,
    config: RunnableConfig,
    *,
    to: Target,
    ledger: EffectLedger | None = None,
    compensations: Mapping[str, Compensation] | None = None,
) -> RunnableConfig:
    """Async :func:`rollback` (async savers; compensations may be sync or async)."""
    import asyncio

    thread_id = _thread_id(config)
    base: RunnableConfig = {"configurable": {"thread_id": thread_id, **_ns(config)}}
    history = [s async for s in graph.aget_state_history(base)]
    snap = _pick(history, to, thread_id)
    effects = await asyncio.to_thread(_after, ledger, thread_id, _origin(history, snap))
    new_config = await graph.aupdate_state(snap.config, None, as_node="__copy__")
    done = 0
    for i, effect in enumerate(effects):
        try:
            comp = _compensator(effect, compensations or {})
            result = comp(effect.args, effect.result)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            raise _failed(effect, exc, new_config, effects[i:]) from exc
        assert ledger is not None
        await asyncio.to_thread(ledger.mark_compensated, effect.key)
        done += 1
    emit("rollback", thread_id=thread_id, to=_id(snap), compensated=done)
    return new_config


def _ns(config: RunnableConfig) -> dict[str, Any]:
    ns = config.get("configurable", {}).get("checkpoint_ns")
    return {"checkpoint_ns": ns} if ns else {}


def _id(snap: StateSnapshot) -> str | None:
    return snap.config.get("configurable", {}).get("checkpoint_id")
