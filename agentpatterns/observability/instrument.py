"""Wrapping nodes and graph runs in spans (the hot path of :mod:`agentpatterns.observability`).

How the spans get their parents, under sync, async, parallel ``Send`` branches and
subgraphs:

* ``Observability.instrument(builder)`` replaces every node's runnable by a wrapper that
  opens ``invoke_node {node}`` and makes it the current span while the node runs, and patches
  ``builder.compile`` so that the compiled graph's class (``runs.py``) gets traced ``invoke``,
  ``ainvoke``, ``stream`` and ``astream`` (``batch`` and ``astream_events`` go through them).
* The traced ``invoke`` opens ``invoke_workflow {graph}`` and attaches it (with the run's id)
  to the OpenTelemetry context for the duration of LangGraph's call. The traced ``stream``
  opens it when iteration starts and attaches
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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph._internal._constants import CONFIG_KEY_RUNTIME
from langgraph._internal._runnable import RunnableCallable
from langgraph.errors import GraphBubbleUp, GraphInterrupt
from langgraph.types import Command
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes

from agentpatterns.observability import conventions as c
from agentpatterns.observability.runs import RUN_KEY, RunScope, set_error, traced_class

if TYPE_CHECKING:
    from agentpatterns.observability.core import Observability

__all__ = [
    "direct_attributes",
    "instrument_builder",
    "instrument_compiled",
    "start_span",
    "wrap_runnable",
]

_MARK = "__agentpatterns__"


# --- nodes --------------------------------------------------------------------------------
def direct_attributes(tracer: Any) -> bool:
    """Whether node spans may take their attributes without the SDK's per-value cleaning:
    an SDK tracer whose sampler never looks at attributes (the built-in ones)."""
    try:
        from opentelemetry.sdk.trace import Tracer as SdkTracer
        from opentelemetry.sdk.trace import sampling
    except ImportError:  # pragma: no cover - the SDK is a dependency
        return False
    if type(tracer) is not SdkTracer:
        return False
    sampler = getattr(tracer, "sampler", None)
    builtin = (sampling.DEFAULT_ON, sampling.DEFAULT_OFF, sampling.ALWAYS_ON, sampling.ALWAYS_OFF)
    return any(sampler is s for s in builtin) or type(sampler) in (
        sampling.TraceIdRatioBased,
        sampling.ParentBasedTraceIdRatio,
    )


def start_span(tracer: Any, name: str, ctx: Any, attrs: dict[str, Any], direct: bool) -> Any:
    """``tracer.start_span(name, ctx, attributes=attrs)``; with ``direct`` the attributes,
    already valid (str/int values, known keys), are written into the SDK span's attribute map
    in one step instead of being copied and cleaned value by value (about a third of the
    cost of a node span). Falls back to the public path whenever a limit could apply."""
    if not direct:
        return tracer.start_span(name, ctx, attributes=attrs)
    span = tracer.start_span(name, ctx)
    bounded = getattr(span, "_attributes", None)
    if (
        type(bounded) is BoundedAttributes
        and bounded.max_value_len is None
        and (bounded.maxlen is None or len(attrs) <= bounded.maxlen - len(bounded))
    ):
        bounded._dict.update(attrs)  # pyright: ignore[reportPrivateUsage]
    else:
        span.set_attributes(attrs)
    return span


class _NodeProbe:
    """Precomputed per-node data and the begin / end / fail steps of a node span."""

    __slots__ = ("direct", "metric_attrs", "name", "obs", "span_name")

    def __init__(self, obs: Observability, name: str) -> None:
        self.obs = obs
        self.name = name
        self.span_name = f"invoke_node {name}"
        self.metric_attrs = {c.OPERATION: c.OP_NODE, c.NODE_NAME: name}
        self.direct = direct_attributes(obs._tracer)

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
        span = start_span(obs._tracer, self.span_name, ctx, attrs, self.direct)
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
            if audit.durable:
                audit.write_now()
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
            set_error(obs, span, exc, error)
            data = {"error": obs.redactor.redact_text(str(exc))}
        span.end()
        if obs.node_metrics:
            obs._record_duration(c.OP_NODE, self.name, duration, error, self.metric_attrs)
        elif obs._rules:
            obs._observe_rules(c.OP_NODE, self.name, duration, error)
        audit = obs._audit
        if audit is not None:
            audit.record(
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
            if error is not None or audit.durable:  # on disk before the error propagates
                audit.write_now()


def _mark(fn: Any, *originals: Any) -> None:
    """Give ``fn`` the merged markers of ``originals`` (first one wins) plus ``instrumented``."""
    marker: dict[str, Any] = {}
    for original in originals:
        for key, value in (getattr(original, _MARK, None) or {}).items():
            marker.setdefault(key, value)
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
    # The closures carry no markers: keep the node's own (e.g. an OrchestrationNode's
    # ``tool_node`` / ``registry``) and its functions' so readiness still sees them.
    sources = (runnable, getattr(runnable, "func", None), getattr(runnable, "afunc", None))
    for fn in (func, afunc):
        _mark(fn, *sources)
    wrapped = RunnableCallable(func, afunc, name=name, trace=False)
    _mark(wrapped, *sources)
    return wrapped


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
