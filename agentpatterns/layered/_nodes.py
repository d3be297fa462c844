"""Orchestrator, executor and merge nodes of a layered graph (sync and async in one)."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from langgraph._internal._runnable import RunnableCallable
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END
from langgraph.types import Send
from pydantic import BaseModel

from agentpatterns import events
from agentpatterns.errors import LayerDepthError
from agentpatterns.layered._decompose import Decomposer, normalize_subtasks
from agentpatterns.layered._types import (
    Executor,
    ScopedContext,
    Subtask,
    subtask_of,
    subtask_record,
)

__all__ = ["LayerFrame", "LayerRuntime", "current_frame", "mark"]

MERGE = "merge"
_FAILED_STATUSES = frozenset({"failed", "timed_out", "escalated"})
_LAYERED_OUT = frozenset({"subtasks", "results", "status", "handoffs"})
ORCHESTRATOR = "orchestrator"
#: Errors never worth re-running: the same input fails the same way.
_NOT_RETRYABLE = frozenset({"LayerDepthError", "ContextContractError", "ValidationError"})


@dataclass(frozen=True, slots=True)
class LayerFrame:
    """Where the current call chain is: depth of the running layer, its bound, layer names."""

    depth: int
    max_depth: int
    chain: tuple[str, ...]


_FRAME: ContextVar[LayerFrame | None] = ContextVar("agentpatterns_layer_frame", default=None)


def current_frame() -> LayerFrame | None:
    """The layer frame of the executor currently running (``None`` outside any layer)."""
    return _FRAME.get()


def mark(obj: Any, **marker: Any) -> Any:
    """Merge ``marker`` into ``obj.__agentpatterns__`` (and into a RunnableCallable's funcs)."""
    targets = [obj]
    if isinstance(obj, RunnableCallable):
        targets += [f for f in (obj.func, obj.afunc) if f is not None]
    for target in targets:
        existing = dict(getattr(target, "__agentpatterns__", None) or {})
        existing.update(marker)
        target.__agentpatterns__ = existing
    return obj


def _run_sync(fn: Any, *args: Any) -> Any:
    """Run an async executor from a sync graph (in a helper thread if a loop is running)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(fn(*args))
    ctx = contextvars.copy_context()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(ctx.run, lambda: asyncio.run(fn(*args))).result()


def _reset(state: Mapping[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Drop a previous task's results, failures and hand-offs (same thread, new task)."""
    for key in ("results", "failures"):
        if state.get(key):
            update[key] = dict.fromkeys(state[key])
    if state.get("handoffs"):
        update["handoffs"] = None
    return update


def _nbytes(obj: Any) -> int:
    try:
        return len(json.dumps(obj, default=str, separators=(",", ":")).encode())
    except (TypeError, ValueError):
        return len(repr(obj).encode())


def _record(sub: Any) -> dict[str, Any]:
    """A subtask as kept in state (a ``Subtask`` from a checkpoint of an older version passes)."""
    return subtask_record(sub) if isinstance(sub, Subtask) else sub


def _frame_record(frame: LayerFrame) -> dict[str, Any]:
    """A frame as carried in a ``Send`` payload: plain data, no library type in checkpoints."""
    return {"depth": frame.depth, "max_depth": frame.max_depth, "chain": list(frame.chain)}


def _frame_of(data: Any) -> LayerFrame:
    if isinstance(data, LayerFrame):
        return data
    return LayerFrame(data["depth"], data["max_depth"], tuple(data["chain"]))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class LayerRuntime:
    """Everything the nodes of one layered graph share."""

    def __init__(
        self,
        *,
        name: str,
        decompose: Any,
        executors: Mapping[str, Executor],
        graphs: Mapping[str, Any],
        max_depth: int,
        on_failure: str,
        max_retries: int,
        measure_bytes: bool,
    ) -> None:
        self.name = name
        self.executors = executors
        self.graphs = graphs  # executor name -> compiled graph (graph executors only)
        self.decomposer = Decomposer(decompose, executors)
        self.max_depth = max_depth
        self.on_failure = on_failure
        self.max_retries = max_retries
        self.measure_bytes = measure_bytes
        self.declared = {n: frozenset(e.context_keys) for n, e in executors.items()}

    # ---------------------------------------------------------------- orchestrator
    def _frame(self, state: Mapping[str, Any]) -> LayerFrame:
        parent = _FRAME.get()
        if parent is None:
            depth = max(int(state.get("layer_depth") or 1), 1)
            return LayerFrame(depth, self.max_depth, (self.name,))
        return LayerFrame(
            parent.depth + 1, min(parent.max_depth, self.max_depth), (*parent.chain, self.name)
        )

    def _plan(self, state: Mapping[str, Any], raw: Any, frame: LayerFrame) -> dict[str, Any]:
        subtasks = normalize_subtasks(raw, self.executors, depth=frame.depth + 1)
        update: dict[str, Any] = {"subtasks": [subtask_record(s) for s in subtasks]}
        if state.get("layer_depth") != frame.depth:
            update["layer_depth"] = frame.depth
        if state.get("status") is not None:  # a previous task on this thread
            update["status"] = "running"
        if state.get("reason") is not None:
            update["reason"] = None
        return _reset(state, update)

    def _failed(
        self, state: Mapping[str, Any], exc: BaseException, frame: LayerFrame | None
    ) -> dict[str, Any]:
        update: dict[str, Any] = {"subtasks": [], "status": "failed", "reason": _describe(exc)}
        _reset(state, update)
        if frame is not None:
            update["layer_depth"] = frame.depth
        events.emit("node_error", node=ORCHESTRATOR, layer=self.name, error_type=type(exc).__name__)
        return update

    def _check_depth(self, frame: LayerFrame) -> None:
        if frame.depth > frame.max_depth:
            raise LayerDepthError(
                f"layer {self.name!r} at depth {frame.depth} exceeds max_depth "
                f"{frame.max_depth}; chain: {' -> '.join(frame.chain)}",
                node=ORCHESTRATOR,
            )

    def orchestrate(self, state: dict[str, Any]) -> dict[str, Any]:
        frame: LayerFrame | None = None
        try:
            frame = self._frame(state)
            self._check_depth(frame)
            return self._plan(state, self.decomposer(state), frame)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            return self._failed(state, exc, frame)

    async def aorchestrate(self, state: dict[str, Any]) -> dict[str, Any]:
        frame: LayerFrame | None = None
        try:
            frame = self._frame(state)
            self._check_depth(frame)
            return self._plan(state, await self.decomposer.acall(state), frame)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            return self._failed(state, exc, frame)

    # ---------------------------------------------------------------- hand-off
    def _route_frame(self, state: Mapping[str, Any]) -> LayerFrame:
        parent = _FRAME.get()
        return LayerFrame(
            int(state.get("layer_depth") or 1),
            min(parent.max_depth, self.max_depth) if parent else self.max_depth,
            (*parent.chain, self.name) if parent else (self.name,),
        )

    def _send(self, state: Mapping[str, Any], sub: dict[str, Any], frame: dict[str, Any]) -> Send:
        t0 = time.perf_counter()
        executor = sub["executor"]
        context = {k: state[k] for k in self.declared[executor] if k in state}
        size = _nbytes([context, sub["inputs"]]) if self.measure_bytes else 0
        payload = {  # plain data only: pending Sends are checkpointed
            "subtask": sub,
            "context": context,
            "frame": frame,
            "t0": t0,
            "copy_ms": (time.perf_counter() - t0) * 1000.0,
            "bytes": size,
        }
        return Send(executor, payload)

    def route_plan(self, state: dict[str, Any]) -> Any:
        if state.get("status") == "failed":
            return MERGE
        subtasks: list[Any] = state.get("subtasks") or []
        frame = _frame_record(self._route_frame(state))
        return [self._send(state, _record(s), frame) for s in subtasks] or MERGE

    # ---------------------------------------------------------------- executors
    def _start(
        self, payload: dict[str, Any]
    ) -> tuple[Subtask, ScopedContext, dict[str, Any], LayerFrame]:
        sub = subtask_of(payload["subtask"])
        ms = (time.perf_counter() - payload["t0"]) * 1000.0
        frame = _frame_of(payload["frame"])
        record = {
            "layer": frame.depth,
            "executor": sub.executor,
            "subtask": sub.id,
            "ms": ms,
            "copy_ms": payload["copy_ms"],
            "bytes": payload["bytes"],
        }
        events.emit("handoff", **record)
        ctx = ScopedContext(payload["context"], self.declared[sub.executor], sub.executor)
        return sub, ctx, record, frame

    def _graph_input(self, name: str, sub: Subtask, ctx: ScopedContext) -> dict[str, Any]:
        data = {**ctx.to_dict(), **sub.inputs}
        channels = getattr(self.graphs[name], "input_channels", None)
        if isinstance(channels, (list, tuple)):
            data = {k: v for k, v in data.items() if k in channels}
        return data

    def _finish(
        self, sub: Subtask, raw: Any, record: dict[str, Any], is_graph: bool
    ) -> dict[str, Any]:
        ex = self.executors[sub.executor]
        update: dict[str, Any] = {"handoffs": [record]}
        failures: dict[str, Any] = {}
        result = raw
        if isinstance(raw, Mapping):
            if raw.keys() >= _LAYERED_OUT:  # a nested layered graph's final state
                update["handoffs"] = [record, *raw.get("handoffs", [])]
                if raw.get("status") == "failed":
                    raise NestedLayerFailed(str(raw.get("reason")))
                for cid, info in (raw.get("failures") or {}).items():
                    failures[f"{sub.id}/{cid}"] = {**info, "nested": True}
                result = raw.get("results", {})
            elif is_graph and raw.get("status") in _FAILED_STATUSES:  # e.g. an FSM's `failed`
                raise GraphExecutorFailed(f"ended {raw['status']}: {raw.get('reason')}")
            if ex.result_key is not None:
                result = raw[ex.result_key]
        if ex.result_model is not None and not isinstance(result, BaseModel):
            result = ex.result_model.model_validate(result)
        if sub.attempt > 1:
            failures[sub.id] = None  # a retry succeeded: clear the earlier failure
        update["results"] = {sub.id: result}
        if failures:
            update["failures"] = failures
        if ex.output_key is not None:
            update[ex.output_key] = result
        return update

    def _failure(self, sub: Subtask, exc: BaseException, record: dict[str, Any]) -> dict[str, Any]:
        name = type(exc).__name__
        info = {
            "executor": sub.executor,
            "error_type": name,
            "message": str(exc),
            "attempt": sub.attempt,
            "layer": record["layer"],
            "retryable": name not in _NOT_RETRYABLE and "LayerDepthError" not in str(exc),
        }
        events.emit("node_error", node=sub.executor, layer=self.name, error_type=name)
        return {"failures": {sub.id: info}, "handoffs": [record]}

    def executor_node(self, name: str) -> RunnableCallable:
        ex = self.executors[name]
        graph = self.graphs.get(name)
        fn = ex.run
        is_async = graph is None and inspect.iscoroutinefunction(fn)

        def run(payload: dict[str, Any]) -> dict[str, Any]:
            sub, ctx, record, frame = self._start(payload)
            token = _FRAME.set(frame)
            try:
                if graph is not None:
                    raw = graph.invoke(self._graph_input(name, sub, ctx))
                elif is_async:
                    raw = _run_sync(fn, sub, ctx)
                else:
                    raw = fn(sub, ctx)
                return self._finish(sub, raw, record, graph is not None)
            except GraphBubbleUp:
                raise
            except Exception as exc:
                return self._failure(sub, exc, record)
            finally:
                _FRAME.reset(token)

        async def arun(payload: dict[str, Any]) -> dict[str, Any]:
            sub, ctx, record, frame = self._start(payload)
            token = _FRAME.set(frame)
            try:
                if graph is not None:
                    raw = await graph.ainvoke(self._graph_input(name, sub, ctx))
                elif is_async:
                    raw = await fn(sub, ctx)
                else:
                    raw = await asyncio.to_thread(fn, sub, ctx)
                return self._finish(sub, raw, record, graph is not None)
            except GraphBubbleUp:
                raise
            except Exception as exc:
                return self._failure(sub, exc, record)
            finally:
                _FRAME.reset(token)

        node = RunnableCallable(run, arun, name=name, trace=False)
        return mark(
            node,
            layer=self.name,
            layer_role="executor",
            executor=name,
            context_keys=tuple(ex.context_keys),
            **dict(ex.metadata),
        )

    # ---------------------------------------------------------------- merge
    def _retriable(self, state: Mapping[str, Any]) -> list[dict[str, Any]]:
        if self.on_failure != "retry":
            return []
        failures = state.get("failures") or {}
        out: list[dict[str, Any]] = []
        for sub in state.get("subtasks") or []:
            sub = _record(sub)
            info = failures.get(sub["id"])
            if info and info.get("retryable") and info["attempt"] <= self.max_retries:
                out.append({**sub, "attempt": info["attempt"] + 1})
        return out

    def merge(self, state: dict[str, Any]) -> dict[str, Any]:
        subtasks = [_record(s) for s in state.get("subtasks") or []]
        if state.get("status") == "failed" and not subtasks:
            return {}
        if self._retriable(state):
            return {"status": "retrying"}
        failures = state.get("failures") or {}
        failed = [s["id"] for s in subtasks if s["id"] in failures]
        if not failed:
            return {"status": "done"}
        detail = "; ".join(
            f"{i} ({failures[i]['error_type']}: {failures[i]['message']})" for i in failed
        )
        reason = f"{len(failed)} of {len(subtasks)} subtasks failed: {detail}"
        all_failed = len(failed) == len(subtasks)
        status = "failed" if self.on_failure == "fail_all" or all_failed else "partial"
        return {"status": status, "reason": reason}

    def route_merge(self, state: dict[str, Any]) -> Any:
        if state.get("status") != "retrying":
            return END
        frame = _frame_record(self._route_frame(state))
        return [self._send(state, s, frame) for s in self._retriable(state)]


class NestedLayerFailed(Exception):
    """A nested layered graph ended ``failed``; its reason becomes this executor's failure."""


class GraphExecutorFailed(Exception):
    """A graph executor ended in a failed terminal status (``failed``, ``timed_out``, ...)."""
