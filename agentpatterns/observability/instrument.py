"""Wrapping nodes and graph runs in spans (the hot path of :mod:`agentpatterns.observability`).

How the spans get their parents, under sync, async, parallel ``Send`` branches and
subgraphs:

* ``Observability.instrument(builder)`` replaces every node's runnable by a wrapper that
  opens ``invoke_node {node}`` and makes it the current span while the node runs, and patches
  ``builder.compile`` so that the compiled graph's class gets traced ``stream`` / ``astream``
  (``invoke``, ``ainvoke``, ``batch`` and ``astream_events`` all go through those two).
* The traced ``stream`` opens ``invoke_workflow {graph}`` when iteration starts and attaches
  it (with the run's id) to the OpenTelemetry context *only while LangGraph's generator runs*
  (around each ``next``), then detaches before handing the chunk to the caller. LangGraph
  starts node tasks inside that window, and both its thread pool (sync) and asyncio tasks
  copy the current ``contextvars`` context, so every node span, including parallel ``Send``
  branches, is a child of the run span without any bookkeeping. Nothing stays attached
  between chunks, so an abandoned generator never corrupts the caller's context.
* A node that is a compiled graph (or calls one that LangGraph can see) gets its graph
  instrumented in place, so a subgraph run is ``invoke_workflow {sub}`` under the parent's
  ``invoke_node {node}``, with its own node spans below.
* Tools and chat models called inside a node start their spans in LangChain callbacks that
  run in the node's context, so their parent is the node span (see ``callbacks.py``).
"""

from __future__ import annotations

import contextlib
import functools
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph._internal._constants import CONFIG_KEY_RUNTIME, INTERRUPT
from langgraph._internal._runnable import RunnableCallable
from langgraph.errors import GraphBubbleUp, GraphInterrupt
from langgraph.types import Command
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from agentpatterns.observability import conventions as c

if TYPE_CHECKING:
    from agentpatterns.observability.core import Observability

__all__ = ["RUN_KEY", "RunScope", "instrument_builder", "instrument_compiled"]

RUN_KEY = otel_context.create_key("agentpatterns.run")
#: Set by the traced ``invoke`` for the ``stream`` call it makes (not traced twice).
_DIRECT: ContextVar[Any] = ContextVar("agentpatterns_direct_stream", default=None)
_MARK = "__agentpatterns__"


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
            self.run_id = str(given) if given is not None else uuid.uuid4().hex
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
            _set_error(obs, span, exc, error)
        elif self.interrupted or isinstance(exc, GraphInterrupt):
            status = "interrupted"
            span.set_attribute(c.WORKFLOW_INTERRUPTED, True)
        if obs.capture_content and self.output is not None:
            span.set_attribute(c.WORKFLOW_OUTPUT, obs._json(self.output))
        span.end()
        obs._record_duration(c.OP_WORKFLOW, self.graph, duration, error)
        if obs._audit is not None and not self.nested:
            data = {"error": obs.redactor.redact_text(str(exc))} if error else self.output
            obs._audit.record(
                "output",
                run_id=self.run_id,
                thread_id=self.thread_id,
                graph=self.graph,
                status=status,
                error_type=error,
                duration_ms=duration * 1000.0,
                data=data,
            )


def _set_error(obs: Observability, span: Span, exc: BaseException, kind: str) -> None:
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


# --- nodes --------------------------------------------------------------------------------
class _NodeProbe:
    """Precomputed per-node data and the begin / end / fail steps of a node span."""

    __slots__ = ("metric_attrs", "name", "obs", "span_name")

    def __init__(self, obs: Observability, name: str) -> None:
        self.obs = obs
        self.name = name
        self.span_name = f"invoke_node {name}"
        self.metric_attrs = {c.OPERATION: c.OP_NODE, c.NODE_NAME: name}

    def begin(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        ctx = otel_context.get_current()
        run: RunScope | None = ctx.get(RUN_KEY)  # type: ignore[assignment]
        attrs: dict[str, Any] = {c.OPERATION: c.OP_NODE, c.NODE_NAME: self.name}
        ns = ckpt = step = attempt = thread = None
        cfg = var_child_runnable_config.get()
        if cfg is not None:
            meta = cfg.get("metadata")
            if meta:
                step = meta.get("langgraph_step")
                if step is not None:
                    attrs[c.NODE_STEP] = step
            conf = cfg.get("configurable")
            info = getattr(conf.get(CONFIG_KEY_RUNTIME), "execution_info", None) if conf else None
            if info is not None:
                attempt, ckpt, ns, thread = (
                    info.node_attempt,
                    info.checkpoint_id,
                    info.checkpoint_ns,
                    info.thread_id,
                )
                attrs[c.NODE_ATTEMPT] = attempt
                if ckpt:
                    attrs[c.NODE_CHECKPOINT_ID] = ckpt
                if ns and "|" in ns:  # inside a subgraph: the path tells where
                    attrs[c.NODE_CHECKPOINT_NS] = ns
        obs = self.obs
        span = obs._tracer.start_span(self.span_name, ctx, attributes=attrs)
        if obs.capture_content and args:
            span.set_attribute(c.NODE_INPUT, obs._json(args[0]))
        token = otel_context.attach(trace.set_span_in_context(span, ctx))
        if ns:
            obs._node_spans[ns] = span
        if run is not None:
            thread = run.thread_id
        return (span, token, time.perf_counter(), run, ns, step, attempt, ckpt, thread)

    def end(self, state: tuple[Any, ...], out: Any) -> None:
        span, token, start, run, ns, step, attempt, ckpt, thread = state
        duration = time.perf_counter() - start
        otel_context.detach(token)
        obs = self.obs
        if ns:
            obs._node_spans.pop(ns, None)
        update = out
        if type(out) is not dict:
            update = out.update if isinstance(out, Command) else None
            if isinstance(update, list | tuple):
                update = dict(update)  # pyright: ignore[reportUnknownArgumentType]
        keys: tuple[str, ...] = ()
        transitions = None
        if type(update) is dict or isinstance(update, dict):
            keys = tuple(update)  # pyright: ignore[reportUnknownArgumentType]
            if keys:
                span.set_attribute(c.NODE_KEYS, ",".join(keys))  # a str: 5x cheaper than a list
                transitions = update.get("transitions")  # pyright: ignore
        if transitions:
            obs._transitions(span, self.name, transitions, run, thread)
        if obs.capture_content:
            span.set_attribute(c.NODE_OUTPUT, obs._json(update if update is not None else out))
        span.end()
        if obs.node_metrics:
            obs._duration.record(duration, self.metric_attrs)
        if obs._rules:
            obs._observe_rules(c.OP_NODE, self.name, duration, None)
        run_id = run.run_id if run is not None else None
        audit = obs._audit
        if audit is not None:
            if update is not None and not audit.content:
                data: Any = {"keys": keys}
            else:
                data = dict(update) if type(update) is dict else update  # pyright: ignore
            audit.append(
                (
                    time.time(),
                    "node",
                    run_id or "",
                    thread,
                    run.graph if run is not None else None,
                    self.name,
                    None,
                    "ok",
                    step,
                    attempt,
                    ckpt,
                    duration * 1000.0,
                    None,
                    data,
                )
            )
        if obs._logger is not None:
            obs._log_state_change(self.name, keys, update, step, run_id, thread)

    def fail(self, state: tuple[Any, ...], exc: BaseException) -> None:
        span, token, start, run, ns, step, attempt, ckpt, thread = state
        duration = time.perf_counter() - start
        otel_context.detach(token)
        obs = self.obs
        if ns:
            obs._node_spans.pop(ns, None)
        if isinstance(exc, GraphBubbleUp):  # interrupt / parent command: not an error
            status, error, data = "interrupted", None, None
            span.set_attribute(c.NODE_INTERRUPTED, isinstance(exc, GraphInterrupt))
        else:
            status, error = "error", c.error_type(exc)
            _set_error(obs, span, exc, error)
            data = {"error": obs.redactor.redact_text(str(exc))}
        span.end()
        if obs.node_metrics:
            obs._record_duration(c.OP_NODE, self.name, duration, error, self.metric_attrs)
        elif obs._rules:
            obs._observe_rules(c.OP_NODE, self.name, duration, error)
        if obs._audit is not None:
            obs._audit.record(
                "node",
                run_id=run.run_id if run is not None else "",
                thread_id=thread,
                graph=run.graph if run is not None else None,
                node=self.name,
                step=step,
                attempt=attempt,
                checkpoint_id=ckpt,
                status=status,
                error_type=error,
                duration_ms=duration * 1000.0,
                data=data,
            )


def _mark(fn: Any, original: Any) -> None:
    marker = dict(getattr(original, _MARK, None) or {})
    marker["instrumented"] = True
    with contextlib.suppress(AttributeError, TypeError):
        setattr(fn, _MARK, marker)


def _wrap_funcs(
    probe: _NodeProbe, func: Callable[..., Any] | None, afunc: Callable[..., Any] | None
) -> tuple[Any, Any]:
    new_func = new_afunc = None
    if func is not None:
        f = func

        @functools.wraps(f)
        def sync_node(*args: Any, **kwargs: Any) -> Any:
            state = probe.begin(args)
            try:
                out = f(*args, **kwargs)
            except BaseException as exc:
                probe.fail(state, exc)
                raise
            probe.end(state, out)
            return out

        _mark(sync_node, f)
        new_func = sync_node
    if afunc is not None:
        af = afunc

        @functools.wraps(af)
        async def async_node(*args: Any, **kwargs: Any) -> Any:
            state = probe.begin(args)
            try:
                out = await af(*args, **kwargs)
            except BaseException as exc:
                probe.fail(state, exc)
                raise
            probe.end(state, out)
            return out

        _mark(async_node, af)
        new_afunc = async_node
    return new_func, new_afunc


def _is_instrumented(runnable: Any) -> bool:
    for fn in (getattr(runnable, "func", None), getattr(runnable, "afunc", None)):
        if fn is not None and (getattr(fn, _MARK, None) or {}).get("instrumented"):
            return True
    return False


def wrap_runnable(obs: Observability, name: str, runnable: Any) -> Any:
    """A runnable that runs ``runnable`` inside an ``invoke_node {name}`` span."""
    if _is_instrumented(runnable):
        return runnable
    _instrument_subgraph(obs, runnable)
    probe = _NodeProbe(obs, name)
    if type(runnable) is RunnableCallable:
        # Same object shape (signature-derived kwargs injection is kept), new functions.
        clone = RunnableCallable.__new__(RunnableCallable)
        vars(clone).update(vars(runnable))
        clone.func, clone.afunc = _wrap_funcs(probe, runnable.func, runnable.afunc)
        return clone
    inner: Runnable[Any, Any] = runnable

    def call(input: Any, config: RunnableConfig) -> Any:
        return inner.invoke(input, config)

    async def acall(input: Any, config: RunnableConfig) -> Any:
        return await inner.ainvoke(input, config)

    func, afunc = _wrap_funcs(probe, call, acall)
    return RunnableCallable(func, afunc, name=name, trace=False)


def _instrument_subgraph(obs: Observability, runnable: Any) -> None:
    from langgraph.pregel import Pregel
    from langgraph.pregel._utils import find_subgraph_pregel

    try:
        sub = find_subgraph_pregel(runnable)
    except Exception:
        sub = None
    if isinstance(sub, Pregel):
        instrument_compiled(obs, sub)


def instrument_builder(obs: Observability, builder: Any) -> Any:
    """Wrap every node of a ``StateGraph`` and make its compiled graphs traced."""
    for name, spec in builder.nodes.items():
        spec.runnable = wrap_runnable(obs, name, spec.runnable)
    if not getattr(builder, "_agentpatterns_instrumented", False):
        original = builder.compile

        @functools.wraps(original)
        def compile(*args: Any, **kwargs: Any) -> Any:
            for name, spec in builder.nodes.items():  # nodes added after instrument()
                spec.runnable = wrap_runnable(obs, name, spec.runnable)
            compiled = original(*args, **kwargs)
            compiled.__class__ = traced_class(obs, type(compiled))
            return compiled

        builder.compile = compile
        builder._agentpatterns_instrumented = True
    return builder


def instrument_compiled(obs: Observability, graph: Any) -> Any:
    """Instrument an already compiled graph in place (its nodes and its runs)."""
    if getattr(type(graph), "_agentpatterns_obs", None) is not None:
        return graph
    from langgraph.pregel._read import DEFAULT_BOUND

    for name, node in graph.nodes.items():
        bound = node.bound
        if name != "__start__" and bound is not DEFAULT_BOUND and isinstance(bound, Runnable):
            node.bound = wrap_runnable(obs, name, bound)
            node.__dict__.pop("node", None)  # drop the cached bound+writers sequence
    graph.__class__ = traced_class(obs, type(graph))
    return graph
