"""``EffectLedger``: exactly-once side effects across retries, crashes, replays and workers.

A side effect *claims* its idempotency key in the ledger (an atomic ``INSERT``, with an owner
token naming the process) **before** it runs, and stores its result **after**. Whoever comes
next with the same key — a retry, a resume after a crash, a replay or fork from an old
checkpoint, a second worker resuming the same thread — gets the stored result and the effect
does not run again.

A claim whose owner is gone (same host: the process no longer exists; other hosts: no
heartbeat for ``stale_after`` seconds) is *in doubt*: the effect may or may not have
happened. It is never silently re-run. The tool's ``reconcile(args)`` hook decides (it
returns the result if the effect happened, ``None`` if it did not and may run again);
without a hook, or if the hook raises, the record becomes ``in_doubt``, an
``effect_in_doubt`` event is emitted and :class:`EffectInDoubtError` is raised until
:meth:`EffectLedger.resolve` settles it. A live owner is waited for (up to
``wait_timeout``).

Results are stored as JSON: pydantic models as their JSON dump, LangChain messages (e.g. a
``ToolMessage``) restored as messages, anything else JSON-able, or its ``str``.

The ledger lives in ``agentpatterns_effects`` of the given database (the checkpointer's is
fine): ``memory:``, ``sqlite:///runs.db`` or ``postgresql://...``.

Example:
    >>> from agentpatterns.resilience import EffectLedger
    >>> ledger = EffectLedger("memory:")
    >>> charged = []
    >>> def charge():
    ...     charged.append(30)
    ...     return {"charge_id": "c1"}
    >>> for _ in range(3):  # a retry, a resume, a replay
    ...     result = ledger.run_once("t1::call_7", charge, tool="charge", args={"amount": 30})
    >>> result, len(charged)
    ({'charge_id': 'c1'}, 1)
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict
from pydantic import BaseModel

from agentpatterns.errors import EffectInDoubtError
from agentpatterns.events import emit
from agentpatterns.resilience._ledger_store import (
    EffectRecord,
    MemoryLedgerStore,
    open_ledger_store,
)

__all__ = ["Effect", "EffectLedger"]

_log = logging.getLogger("agentpatterns.resilience.ledger")
_HOST = socket.gethostname()
_PROCESS_TOKEN = uuid.uuid4().hex[:12]


_owner_token = f"{_HOST}|{os.getpid()}|{_PROCESS_TOKEN}"


def _reset_owner() -> None:
    global _owner_token
    _owner_token = f"{_HOST}|{os.getpid()}|{_PROCESS_TOKEN}"


os.register_at_fork(after_in_child=_reset_owner)  # a forked worker is another owner


def _owner() -> str:
    return _owner_token


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    return str(obj)


_ENCODER = json.JSONEncoder(default=_default)  # one encoder: json.dumps(default=) builds one


def dumps_value(value: Any) -> str:
    """JSON for a stored result (messages and pydantic models handled)."""
    if isinstance(value, BaseMessage):
        return json.dumps({"__lc_message__": message_to_dict(value)}, default=str)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return _ENCODER.encode(value)


def loads_value(text: str | None) -> Any:
    if text is None:
        return None
    value = json.loads(text)
    if isinstance(value, dict) and "__lc_message__" in value:
        return messages_from_dict([value["__lc_message__"]])[0]
    return value


@dataclass(frozen=True)
class Effect:
    """A side effect as recorded: what compensation needs (tool, args, result, order)."""

    key: str
    seq: int
    thread_id: str | None
    tool: str
    args: dict[str, Any]
    status: str
    result: Any
    claimed_at: float
    finished_at: float | None
    compensated: bool
    error: str | None = None

    @classmethod
    def from_record(cls, rec: EffectRecord) -> Effect:
        return cls(
            rec.key,
            rec.seq,
            rec.thread_id,
            rec.tool,
            json.loads(rec.args),
            rec.status,
            loads_value(rec.result),
            rec.claimed_at,
            rec.finished_at,
            rec.compensated,
            rec.error,
        )


_Plan = tuple[Literal["run", "result", "wait"], Any]


class EffectLedger:
    """Durable record of side effects keyed by idempotency key. Thread- and process-safe.

    Args:
        url: ``memory:``, ``sqlite:///path.db`` or ``postgresql://...``.
        stale_after: Seconds without heartbeat after which a claim from another host is
            treated as crashed.
        wait_timeout: Seconds to wait for a live owner to finish before raising.
    """

    def __init__(self, url: str, *, stale_after: float = 30.0, wait_timeout: float = 60.0) -> None:
        self.url = url
        self.stale_after = stale_after
        self.wait_timeout = wait_timeout
        self._store = open_ledger_store(url)
        self._memory = isinstance(self._store, MemoryLedgerStore)
        self._inflight: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"EffectLedger({self.url!r})"

    def close(self) -> None:
        """Stop the heartbeat and close the database connection."""
        self._stop.set()
        self._store.close()

    def __enter__(self) -> EffectLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- liveness ---------------------------------------------------------------------
    def _alive(self, rec: EffectRecord) -> bool:
        host, _, rest = rec.owner.partition("|")
        pid_text, _, token = rest.partition("|")
        if host == _HOST and pid_text.isdigit():
            pid = int(pid_text)
            if pid == os.getpid():
                # this process: a thread or task of ours runs it (every run ends in _finish);
                # the same pid with another token is an earlier process whose pid was reused
                return token == _PROCESS_TOKEN
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return time.time() - rec.heartbeat_at <= self.stale_after or self._memory
        return time.time() - rec.heartbeat_at <= self.stale_after

    def _start_heartbeat(self) -> None:
        if self._memory or self._beat is not None:
            return
        with self._lock:
            if self._beat is not None:
                return
            interval = max(0.05, self.stale_after / 3)

            def beat() -> None:
                while not self._stop.wait(interval):
                    keys = list(self._inflight.items())
                    if keys:
                        try:
                            self._store.heartbeat(keys)
                        except Exception:  # a failed beat only risks a stale claim
                            _log.warning("ledger heartbeat failed", exc_info=True)

            self._beat = threading.Thread(target=beat, name="ledger-heartbeat", daemon=True)
            self._beat.start()

    # --- claim / resolve --------------------------------------------------------------
    def _acquire(
        self,
        key: str,
        tool: str,
        args: Mapping[str, Any],
        thread_id: str | None,
        reconcile: Callable[[dict[str, Any]], Any] | None,
        owner: str,
        wait: bool = True,
    ) -> _Plan:
        now = time.time()
        claim = EffectRecord(
            key,
            0,
            thread_id,
            tool,
            dumps_value(dict(args)),
            "claimed",
            None,
            owner,
            now,
            now,
            None,
            None,
            False,
        )
        deadline = now + self.wait_timeout
        pause = 0.01
        while True:
            if self._store.claim(claim):
                return ("run", None)
            rec = self._store.get(key)
            if rec is None:
                continue
            if rec.status == "done":
                return ("result", loads_value(rec.result))
            if rec.status in ("failed", "compensated"):
                if not self._store.take_over(key, rec.owner, rec.status, owner):
                    continue
                if rec.status == "failed" and reconcile is not None:
                    # the failed call may have taken effect before it raised (a write that
                    # committed, a response that got lost): ask before running it again
                    return self._reconcile(rec, args, reconcile, owner)
                return ("run", None)
            if rec.status == "in_doubt":
                raise self._in_doubt(rec, "unresolved; call EffectLedger.resolve()")
            if self._alive(rec):
                if not wait:
                    return ("wait", None)
                if time.time() > deadline:
                    raise EffectInDoubtError(
                        f"effect {key!r} ({tool}) is still running elsewhere after "
                        f"{self.wait_timeout:g} s",
                        node=tool,
                        key=key,
                        owner=rec.owner,
                    )
                time.sleep(pause)
                pause = min(pause * 2, 0.25)
                continue
            if not self._store.take_over(key, rec.owner, "claimed", owner):
                continue  # another resumer got there first; look again
            return self._reconcile(rec, args, reconcile, owner)

    def _reconcile(
        self,
        rec: EffectRecord,
        args: Mapping[str, Any],
        reconcile: Callable[[dict[str, Any]], Any] | None,
        owner: str,
    ) -> _Plan:
        if reconcile is None:
            self._store.set_status(rec.key, owner, "in_doubt", error="owner crashed")
            raise self._in_doubt(rec, "its run crashed and the tool has no reconcile hook")
        try:
            found = reconcile(dict(args))
        except Exception as exc:
            self._store.set_status(rec.key, owner, "in_doubt", error=f"reconcile: {exc!r}")
            raise self._in_doubt(rec, f"reconcile raised {exc!r}") from exc
        if found is None:
            return ("run", None)
        text = dumps_value(found)
        self._store.set_status(rec.key, owner, "done", result=text)
        return ("result", loads_value(text))

    def _in_doubt(self, rec: EffectRecord, why: str) -> EffectInDoubtError:
        emit("effect_in_doubt", key=rec.key, tool=rec.tool, thread_id=rec.thread_id)
        return EffectInDoubtError(
            f"side effect {rec.key!r} ({rec.tool}) is in doubt: {why}", node=rec.tool, key=rec.key
        )

    def _finish(
        self, key: str, owner: str, result: Any = None, exc: BaseException | None = None
    ) -> Any:
        try:
            if exc is not None:
                self._store.set_status(key, owner, "failed", error=repr(exc)[:2000])
                return None
            text = dumps_value(result)
            if not self._store.set_status(key, owner, "done", result=text):
                _log.warning("effect %s finished after its claim was taken over", key)
            return result
        finally:
            self._inflight.pop(key, None)

    # --- public API -------------------------------------------------------------------
    def run_once(
        self,
        key: str,
        fn: Callable[[], Any],
        *,
        tool: str,
        args: Mapping[str, Any],
        thread_id: str | None = None,
        reconcile: Callable[[dict[str, Any]], Any] | None = None,
    ) -> Any:
        """Run ``fn()`` once per ``key`` ever; later calls return the stored result.

        Raises:
            EffectInDoubtError: a crashed claim that ``reconcile`` could not settle, or an
                owner that is still running after ``wait_timeout``.
            Whatever ``fn`` raises (the claim is released as ``failed``; may run again).
        """
        owner = _owner()
        action, value = self._acquire(key, tool, args, thread_id, reconcile, owner)
        if action == "result":
            return value
        self._inflight[key] = owner
        self._start_heartbeat()
        try:
            result = fn()
        except BaseException as exc:
            self._finish(key, owner, exc=exc)
            raise
        return self._finish(key, owner, result)

    async def arun_once(
        self,
        key: str,
        fn: Callable[[], Awaitable[Any]],
        *,
        tool: str,
        args: Mapping[str, Any],
        thread_id: str | None = None,
        reconcile: Callable[[dict[str, Any]], Any] | None = None,
    ) -> Any:
        """Async :meth:`run_once`; database work runs in a thread, off the event loop."""
        owner = _owner()
        if self._memory:
            action, value = self._acquire(key, tool, args, thread_id, reconcile, owner, False)
            if action == "wait":
                action, value = await asyncio.to_thread(
                    self._acquire, key, tool, args, thread_id, reconcile, owner
                )
        else:
            action, value = await asyncio.to_thread(
                self._acquire, key, tool, args, thread_id, reconcile, owner
            )
        if action == "result":
            return value
        self._inflight[key] = owner
        self._start_heartbeat()
        try:
            result = await fn()
        except BaseException as exc:
            if self._memory:
                self._finish(key, owner, exc=exc)
            else:
                await asyncio.to_thread(self._finish, key, owner, None, exc)
            raise
        if self._memory:
            return self._finish(key, owner, result)
        return await asyncio.to_thread(self._finish, key, owner, result)

    def get(self, key: str) -> Effect | None:
        """The effect recorded under ``key``, if any."""
        rec = self._store.get(key)
        return Effect.from_record(rec) if rec else None

    def effects(self, thread_id: str) -> list[Effect]:
        """Every effect of a thread in the order they were claimed."""
        return [Effect.from_record(r) for r in self._store.by_thread(thread_id)]

    async def aeffects(self, thread_id: str) -> list[Effect]:
        """Async :meth:`effects`."""
        return await asyncio.to_thread(self.effects, thread_id)

    def mark_compensated(self, key: str) -> None:
        """Record that ``key``'s effect was undone (it may then run again)."""
        self._store.set_status(key, None, "compensated")

    def resolve(self, key: str, *, result: Any = None, rerun: bool = False) -> None:
        """Settle an in-doubt effect by hand: it happened with ``result``, or (``rerun``)
        it did not and may run again."""
        if rerun:
            self._store.set_status(key, None, "failed", error="resolved: re-run allowed")
        else:
            self._store.set_status(key, None, "done", result=dumps_value(result))
