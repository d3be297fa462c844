"""Graph runs: the ``invoke_workflow`` span, its context and the traced compiled-graph class.

See ``instrument.py`` for how parents are kept right. The traced ``invoke``/``ainvoke``
attach the run context once around LangGraph's call; ``stream``/``astream`` attach it only
while LangGraph's generator runs (around each ``next``), so nothing stays attached between
chunks.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from random import getrandbits
from typing import TYPE_CHECKING, Any

from langgraph._internal._constants import INTERRUPT
from langgraph.errors import GraphBubbleUp, GraphInterrupt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from agentpatterns.observability import conventions as c

if TYPE_CHECKING:
    from agentpatterns.observability.core import Observability

__all__ = ["RUN_KEY", "RunScope", "set_error", "traced_class"]

RUN_KEY = otel_context.create_key("agentpatterns.run")
#: Set by the traced ``invoke`` for the ``stream`` call it makes (not traced twice).
_DIRECT: ContextVar[Any] = ContextVar("agentpatterns_direct_stream", default=None)


class RunScope:
    """One graph run: its span, ids and what the run's nodes need to record."""

    __slots__ = ("ctx", "graph", "interrupted", "nested", "output", "run_id", "span", "start",
                 "thread_id")  # fmt: skip

    def __init__(self, obs: Observability, graph: str, input: Any, config: Any) -> None:
        parent_ctx = otel_context.get_current()
        parent: RunScope | None = parent_ctx.get(RUN_KEY)  # type: ignore[assignment]
        conf = (config or {}).get("configurable") or {}
        thread = conf.get("thread_id")
        self.thread_id = str(thread) if thread is not None else None
        self.nested = parent is not None
        if parent is not None:
            self.run_id = parent.run_id
            self.thread_id = self.thread_id or parent.thread_id
        else:
            given = (config or {}).get("run_id")
            # 128 random bits as 32 hex digits, like uuid4().hex without the urandom syscall
            self.run_id = str(given) if given is not None else f"{getrandbits(128):032x}"
        self.graph = graph
        self.interrupted = False
        self.output: Any = None
        attrs: dict[str, Any] = {
            c.OPERATION: c.OP_WORKFLOW,
            c.WORKFLOW_NAME: graph,
            c.RUN_ID: self.run_id,
        }
        if self.thread_id is not None:
            attrs[c.CONVERSATION_ID] = self.thread_id
        self.span: Span = obs._tracer.start_span(
            f"invoke_workflow {graph}", parent_ctx, attributes=attrs
        )
        if obs.capture_content:
            self.span.set_attribute(c.WORKFLOW_INPUT, obs._json(input))
        self.ctx = otel_context.set_value(
            RUN_KEY, self, trace.set_span_in_context(self.span, parent_ctx)
        )
        self.start = time.perf_counter()
        if obs._audit is not None and not self.nested:
            obs._audit.record(
                "input", run_id=self.run_id, thread_id=self.thread_id, graph=graph, data=input
            )

    def observe(self, chunk: Any) -> None:
        """Remember the last full state and whether the run was interrupted."""
        payload = chunk
        if type(chunk) is tuple:
            if len(chunk) == 3:  # (namespace, mode, payload) with subgraphs=True
                if chunk[0]:
                    return
                chunk = chunk[1:]
            if len(chunk) == 2 and type(chunk[0]) is str:
                mode, payload = chunk
                if mode == "values":
                    self.output = payload
                    return
            else:
                return
        elif type(chunk) is dict and "type" in chunk and "data" in chunk:  # version="v2"
            if chunk.get("ns"):
                return
            if chunk.get("interrupts"):
                self.interrupted = True
            if chunk["type"] == "values":
                self.output = chunk["data"]
                return
            payload = chunk["data"]
        if type(payload) is dict and INTERRUPT in payload:
            self.interrupted = True

    def observe_result(self, out: Any) -> None:
        """Take the output (and interrupts) from what ``invoke`` returned."""
        interrupts = getattr(out, "interrupts", None)  # version="v2" GraphOutput
        value = getattr(out, "value", out) if interrupts is not None else out
        if interrupts or (type(value) is dict and INTERRUPT in value):
            self.interrupted = True
        self.output = value

    def finish(self, obs: Observability, exc: BaseException | None = None) -> None:
        span = self.span
        duration = time.perf_counter() - self.start
        status, error = "ok", None
        if exc is not None and not isinstance(exc, GraphBubbleUp):
            status, error = "error", c.error_type(exc)
            set_error(obs, span, exc, error)
        elif self.interrupted or isinstance(exc, GraphInterrupt):
            status = "interrupted"
            span.set_attribute(c.WORKFLOW_INTERRUPTED, True)
        if obs.capture_content and self.output is not None:
            span.set_attribute(c.WORKFLOW_OUTPUT, obs._json(self.output))
        span.end()
        obs._record_duration(c.OP_WORKFLOW, self.graph, duration, error)
        audit = obs._audit
        if audit is not None and not self.nested:
            data = {"error": obs.redactor.redact_text(str(exc))} if error else self.output
            audit.record(
                "output",
                run_id=self.run_id,
                thread_id=self.thread_id,
                graph=self.graph,
                status=status,
                error_type=error,
                duration_ms=duration * 1000.0,
                data=data,
            )
            if error is not None or audit.durable:  # on disk before the error propagates
                audit.write_now()


def set_error(obs: Observability, span: Span, exc: BaseException, kind: str) -> None:
    span.set_attribute(c.ERROR_TYPE, kind)
    message = obs.redactor.redact_text(str(exc))
    span.add_event(c.EXCEPTION_EVENT, {c.EXCEPTION_TYPE: kind, c.EXCEPTION_MESSAGE: message})
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {message}"))


# --- graph runs ---------------------------------------------------------------------------
def _traced_stream(
    obs: Observability, graph: Any, input: Any, config: Any, inner: Callable[[], Iterator[Any]]
) -> Iterator[Any]:
    scope = RunScope(obs, graph.name, input, config)
    attach, detach = otel_context.attach, otel_context.detach
    try:
        token = attach(scope.ctx)
        try:
            it = inner()
        finally:
            detach(token)
        while True:
            token = attach(scope.ctx)
            try:
                chunk = next(it)
            except StopIteration:
                break
            finally:
                detach(token)
            scope.observe(chunk)
            yield chunk
    except GeneratorExit:
        scope.finish(obs)
        raise
    except BaseException as exc:
        scope.finish(obs, exc)
        raise
    scope.finish(obs)


async def _atraced_stream(
    obs: Observability, graph: Any, input: Any, config: Any, inner: Callable[[], AsyncIterator[Any]]
) -> AsyncIterator[Any]:
    scope = RunScope(obs, graph.name, input, config)
    attach, detach = otel_context.attach, otel_context.detach
    try:
        token = attach(scope.ctx)
        try:
            it = inner()
        finally:
            detach(token)
        while True:
            token = attach(scope.ctx)
            try:
                chunk = await it.__anext__()
            except StopAsyncIteration:
                break
            finally:
                detach(token)
            scope.observe(chunk)
            yield chunk
    except GeneratorExit:
        scope.finish(obs)
        raise
    except BaseException as exc:
        scope.finish(obs, exc)
        raise
    scope.finish(obs)


def traced_class(obs: Observability, base: type) -> type:
    """A subclass of the compiled graph's class whose ``stream``/``astream`` open the run
    span. One class per (Observability, base class); ``copy``/``with_config`` keep it."""
    cached = obs._classes.get(base)
    if cached is not None:
        return cached

    def invoke(self: Any, input: Any, config: Any = None, **kwargs: Any) -> Any:
        # The whole run happens inside this call: attach once (cheaper than per chunk).
        config = obs._with_callbacks(config)
        scope = RunScope(obs, self.name, input, config)
        token = otel_context.attach(scope.ctx)
        direct = _DIRECT.set(self)
        try:
            out = base.invoke(self, input, config, **kwargs)
        except BaseException as exc:
            _DIRECT.reset(direct)
            otel_context.detach(token)
            scope.finish(obs, exc)
            raise
        _DIRECT.reset(direct)
        otel_context.detach(token)
        scope.observe_result(out)
        scope.finish(obs)
        return out

    async def ainvoke(self: Any, input: Any, config: Any = None, **kwargs: Any) -> Any:
        config = obs._with_callbacks(config)
        scope = RunScope(obs, self.name, input, config)
        token = otel_context.attach(scope.ctx)
        direct = _DIRECT.set(self)
        try:
            out = await base.ainvoke(self, input, config, **kwargs)
        except BaseException as exc:
            _DIRECT.reset(direct)
            otel_context.detach(token)
            scope.finish(obs, exc)
            raise
        _DIRECT.reset(direct)
        otel_context.detach(token)
        scope.observe_result(out)
        scope.finish(obs)
        return out

    def stream(self: Any, input: Any, config: Any = None, **kwargs: Any) -> Iterator[Any]:
        if _DIRECT.get() is self:  # called by our invoke: already traced
            _DIRECT.set(None)
            return base.stream(self, input, config, **kwargs)
        config = obs._with_callbacks(config)
        return _traced_stream(
            obs, self, input, config, lambda: base.stream(self, input, config, **kwargs)
        )

    def astream(self: Any, input: Any, config: Any = None, **kwargs: Any) -> AsyncIterator[Any]:
        if _DIRECT.get() is self:
            _DIRECT.set(None)
            return base.astream(self, input, config, **kwargs)
        config = obs._with_callbacks(config)
        return _atraced_stream(
            obs, self, input, config, lambda: base.astream(self, input, config, **kwargs)
        )

    cls = type(
        base.__name__,
        (base,),
        {
            "invoke": invoke,
            "ainvoke": ainvoke,
            "stream": stream,
            "astream": astream,
            "__module__": base.__module__,
            "__qualname__": base.__qualname__,
            "_agentpatterns_obs": obs,
        },
    )
    obs._classes[base] = cls
    return cls
