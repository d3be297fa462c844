"""LangChain callbacks for tool and chat-model spans (``Observability.callbacks()``).

Why parents stay right, including under async: the handler runs *inline* (``run_inline``),
so LangChain calls it in the tool's or model's own context, where the current span is the
``invoke_node`` span that the node wrapper attached. The span is started with that context
as parent and kept in a ``run_id -> span`` map until the matching ``*_end`` / ``*_error``
callback; nothing is attached across callbacks (which is what loses parents in other
instrumentations). If a tool runs somewhere that did not copy the context (a bare thread),
the handler falls back to the node span found by the ``langgraph_checkpoint_ns`` metadata
LangGraph puts on every child run.

Chain callbacks are ignored (nodes are traced by the wrappers), so the handler costs
nothing on node-only graphs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from opentelemetry import context as otel_context
from opentelemetry import trace

from agentpatterns.observability import conventions as c
from agentpatterns.observability.instrument import direct_attributes, start_span
from agentpatterns.observability.runs import RUN_KEY, RunScope, set_error

if TYPE_CHECKING:
    from agentpatterns.observability.core import Observability

__all__ = ["ObservabilityCallbackHandler", "with_handler"]


class ObservabilityCallbackHandler(BaseCallbackHandler):
    """``execute_tool {tool}`` and ``chat {model}`` spans, metrics and audit records."""

    run_inline = True
    raise_error = False
    ignore_chain = True  # pyright: ignore[reportAssignmentType, reportIncompatibleMethodOverride]
    ignore_retriever = True  # pyright: ignore[reportAssignmentType, reportIncompatibleMethodOverride]
    ignore_retry = True  # pyright: ignore[reportAssignmentType, reportIncompatibleMethodOverride]
    ignore_custom_event = True  # pyright: ignore[reportAssignmentType, reportIncompatibleMethodOverride]

    def __init__(self, obs: Observability) -> None:
        super().__init__()
        self.obs = obs
        self._runs: dict[UUID, tuple[Any, ...]] = {}
        self._direct = direct_attributes(obs._tracer)

    def _parent(self, metadata: dict[str, Any] | None) -> Any:
        ctx = otel_context.get_current()
        if trace.get_current_span(ctx).get_span_context().is_valid:
            return ctx
        ns = (metadata or {}).get("langgraph_checkpoint_ns")
        span = self.obs._node_spans.get(ns) if ns else None
        return trace.set_span_in_context(span, ctx) if span is not None else ctx

    # --- tools ------------------------------------------------------------------------------
    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        obs = self.obs
        name = str(kwargs.get("name") or (serialized or {}).get("name") or "tool")
        call_id = kwargs.get("tool_call_id")
        if not call_id and metadata:
            # the tool executor's call (orchestration.executor.TOOL_CALL_METADATA); the name
            # check keeps a tool nested inside a tool from taking its caller's id
            call = metadata.get("agentpatterns_tool_call")
            tool = (serialized or {}).get("name", name)
            if isinstance(call, dict) and call.get("name") == tool:  # pyright: ignore[reportUnknownMemberType]
                call_id = call.get("id")  # pyright: ignore[reportUnknownMemberType]
        attrs: dict[str, Any] = {c.OPERATION: c.OP_TOOL, c.TOOL_NAME: name, c.TOOL_TYPE: "function"}
        if call_id:
            attrs[c.TOOL_CALL_ID] = str(call_id)
        ctx = self._parent(metadata)
        span = start_span(obs._tracer, f"execute_tool {name}", ctx, attrs, self._direct)
        args = inputs if inputs is not None else input_str
        if obs.capture_content:
            span.set_attribute(c.TOOL_ARGUMENTS, obs._json(args))
        run: RunScope | None = ctx.get(RUN_KEY)  # type: ignore[assignment]
        node = (metadata or {}).get("langgraph_node")
        self._runs[run_id] = (span, time.perf_counter(), name, call_id, args, run, node)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        entry = self._runs.pop(run_id, None)
        if entry is not None:
            self._tool_done(entry, output, None)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        entry = self._runs.pop(run_id, None)
        if entry is not None:
            self._tool_done(entry, None, error)

    def _tool_done(self, entry: tuple[Any, ...], output: Any, error: BaseException | None) -> None:
        obs = self.obs
        span, start, name, call_id, args, run, node = entry
        duration = time.perf_counter() - start
        kind = None
        result = getattr(output, "content", output)
        status = getattr(output, "status", "success")
        if error is not None:
            kind = c.error_type(error)
            set_error(obs, span, error, kind)
        elif status == "error":  # a ToolMessage reporting an error the tool handled
            kind = "tool_error"
            span.set_attribute(c.ERROR_TYPE, kind)
            span.set_status(trace.Status(trace.StatusCode.ERROR, "tool returned an error"))
        if obs.capture_content and error is None:
            span.set_attribute(c.TOOL_RESULT, obs._json(result))
        span.end()
        obs._record_duration(c.OP_TOOL, name, duration, kind)
        audit = obs._audit
        if audit is not None:
            data: dict[str, Any] = {"arguments": args}
            if error is not None:
                data["error"] = str(error)
            else:
                data["result"] = result
            audit.record(
                "tool",
                run_id=run.run_id if run is not None else "",
                thread_id=run.thread_id if run is not None else None,
                graph=run.graph if run is not None else None,
                node=node,
                tool=name,
                status="error" if kind else "ok",
                error_type=kind,
                duration_ms=duration * 1000.0,
                data={"call_id": call_id, **data},
            )
            if kind is not None or audit.durable:  # on disk before the error propagates
                audit.write_now()

    # --- chat models ------------------------------------------------------------------------
    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._llm_start(serialized, messages, run_id, metadata, kwargs)

    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._llm_start(serialized, prompts, run_id, metadata, kwargs)

    def _llm_start(
        self,
        serialized: dict[str, Any] | None,
        messages: Any,
        run_id: UUID,
        metadata: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> None:
        obs = self.obs
        meta = metadata or {}
        params = kwargs.get("invocation_params") or {}
        model = str(
            params.get("model")
            or params.get("model_name")
            or meta.get("ls_model_name")
            or (serialized or {}).get("name")
            or kwargs.get("name")
            or "model"
        )
        attrs: dict[str, Any] = {c.OPERATION: c.OP_CHAT, c.REQUEST_MODEL: model}
        if meta.get("ls_provider"):
            attrs[c.PROVIDER] = str(meta["ls_provider"])
        span = start_span(obs._tracer, f"chat {model}", self._parent(meta), attrs, self._direct)
        if obs.capture_content:
            span.set_attribute(c.INPUT_MESSAGES, obs._json(messages))
        self._runs[run_id] = (span, time.perf_counter(), model)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        entry = self._runs.pop(run_id, None)
        if entry is None:
            return
        obs = self.obs
        span, start, model = entry[:3]
        generations = [g for batch in getattr(response, "generations", []) for g in batch]
        usage: dict[str, Any] = {}
        reasons: list[str] = []
        for gen in generations:
            message = getattr(gen, "message", None)
            usage = dict(getattr(message, "usage_metadata", None) or usage)
            reason = (getattr(gen, "generation_info", None) or {}).get("finish_reason")
            if reason:
                reasons.append(str(reason))
        for key, attr, kind in (
            ("input_tokens", c.INPUT_TOKENS, "input"),
            ("output_tokens", c.OUTPUT_TOKENS, "output"),
        ):
            if isinstance(usage.get(key), int):
                span.set_attribute(attr, usage[key])
                obs._token_usage.record(
                    usage[key], {c.OPERATION: c.OP_CHAT, c.REQUEST_MODEL: model, c.TOKEN_TYPE: kind}
                )
        if reasons:
            span.set_attribute(c.FINISH_REASONS, reasons)
        if obs.capture_content:
            span.set_attribute(
                c.OUTPUT_MESSAGES,
                obs._json(
                    [getattr(g, "message", None) or getattr(g, "text", "") for g in generations]
                ),
            )
        span.end()
        obs._record_duration(c.OP_CHAT, model, time.perf_counter() - start, None)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        entry = self._runs.pop(run_id, None)
        if entry is None:
            return
        span, start, model = entry[:3]
        kind = c.error_type(error)
        set_error(self.obs, span, error, kind)
        span.end()
        self.obs._record_duration(c.OP_CHAT, model, time.perf_counter() - start, kind)


def with_handler(config: Any, handler: BaseCallbackHandler) -> Any:
    """``config`` with ``handler`` among its callbacks (unchanged if already there)."""
    config = dict(config) if config else {}
    callbacks = config.get("callbacks")
    if callbacks is None:
        config["callbacks"] = [handler]
    elif isinstance(callbacks, list):
        if handler not in callbacks:
            config["callbacks"] = [*callbacks, handler]
    elif isinstance(callbacks, BaseCallbackManager) and handler not in callbacks.handlers:
        manager = callbacks.copy()
        manager.add_handler(handler, inherit=True)
        config["callbacks"] = manager
    return config
