"""``Observability``: traces, metrics, log events, audit and alerts for any LangGraph graph.

Example:
    >>> from typing import TypedDict
    >>> from langgraph.graph import START, StateGraph
    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    >>> class S(TypedDict):
    ...     x: int
    >>> exporter = InMemorySpanExporter()
    >>> provider = TracerProvider()
    >>> provider.add_span_processor(SimpleSpanProcessor(exporter))
    >>> obs = Observability(tracer_provider=provider)
    >>> builder = StateGraph(S)
    >>> _ = builder.add_node("inc", lambda s: {"x": s["x"] + 1}).add_edge(START, "inc")
    >>> graph = obs.instrument(builder).compile(name="demo")
    >>> graph.invoke({"x": 1}, {"configurable": {"thread_id": "t1"}})
    {'x': 2}
    >>> sorted(s.name for s in exporter.get_finished_spans())
    ['invoke_node inc', 'invoke_workflow demo']
    >>> obs.close()
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.trace import Span

from agentpatterns.events import Event, subscribe
from agentpatterns.observability import conventions as c
from agentpatterns.observability.instrument import instrument_builder, instrument_compiled
from agentpatterns.observability.redact import Redactor
from agentpatterns.observability.runs import RunScope

if TYPE_CHECKING:
    from agentpatterns.alerts import Alerter
    from agentpatterns.observability.alerting import MetricRule
    from agentpatterns.observability.audit import AuditLog
    from agentpatterns.observability.callbacks import ObservabilityCallbackHandler

__all__ = ["Observability"]


def _version() -> str:
    from agentpatterns import __version__

    return __version__


class Observability:
    """OpenTelemetry instrumentation for LangGraph graphs; never sets global providers.

    Args:
        tracer_provider: Where spans go; ``None`` uses the global provider (a no-op until
            the application sets one).
        meter_provider: Where metrics go; ``None`` uses the global provider.
        logger_provider: Where log events go (OpenTelemetry logs API, ``opentelemetry._logs``
            in SDK 1.45). ``None`` uses the global one if an SDK provider is set, else log
            events are skipped entirely.
        redactor: Applied to every value before it is recorded anywhere.
        audit: An :class:`~agentpatterns.observability.AuditLog` that receives the run's
            input, node changes, transitions, tool calls, output and errors.
        capture_content: Put (redacted) inputs, outputs, tool arguments and results on spans
            and log events. ``None`` reads ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
            (default off).
        alerter: An :class:`agentpatterns.alerts.Alerter` that ``alert_rules`` fire through.
        alert_rules: Metric rules (:class:`ErrorRateAlert`, :class:`LatencyAlert`).
        log_state_changes: Emit one ``agentpatterns.state_change`` log event per node run
            (off by default: an SDK log record costs about as much as a span; transition
            log events are always emitted when a logger provider is available).
        node_metrics: Also record every node run in ``gen_ai.client.operation.duration``
            (off by default: node durations are on the spans; workflow, tool and chat
            durations are always recorded).
        auto_callbacks: Add :meth:`callbacks` to every traced run's config (tool and chat
            model spans without touching call sites).

    Use :meth:`instrument` on a ``StateGraph`` (or a compiled graph) and :meth:`close` (or
    ``with``) at the end. See the README section for the span tree.
    """

    def __init__(
        self,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
        redactor: Redactor | None = None,
        audit: AuditLog | None = None,
        capture_content: bool | None = None,
        alerter: Alerter | None = None,
        *,
        alert_rules: Iterable[MetricRule] = (),
        log_state_changes: bool = False,
        node_metrics: bool = False,
        auto_callbacks: bool = True,
        _owned: Iterable[Any] = (),
    ) -> None:
        from agentpatterns.observability.env import env_capture_content

        version = _version()
        self.redactor = redactor if redactor is not None else Redactor.default()
        self.capture_content = (
            env_capture_content() if capture_content is None else bool(capture_content)
        )
        self._tracer = trace.get_tracer(c.SCOPE, version, tracer_provider=tracer_provider)
        meter = metrics.get_meter(c.SCOPE, version, meter_provider=meter_provider)
        self._duration = meter.create_histogram(
            c.DURATION,
            unit="s",
            description="GenAI operation duration (workflow, node, tool, chat)",
        )
        self._token_usage = meter.create_histogram(
            c.TOKEN_USAGE, unit="{token}", description="Tokens used by chat model calls"
        )
        self._counters = {
            kind: meter.create_counter(name, unit="1", description=f"'{kind}' events")
            for kind, name in c.EVENT_COUNTERS.items()
        }
        self._logger = _logger(logger_provider, version) if log_state_changes else None
        self._event_logger = _logger(logger_provider, version)
        self._audit = audit
        self.node_metrics = node_metrics
        self._alerter = alerter
        self._rules: tuple[MetricRule, ...] = tuple(alert_rules)
        self._auto_callbacks = auto_callbacks
        self._handler: ObservabilityCallbackHandler | None = None
        self._classes: dict[type, type] = {}
        self._node_spans: dict[str, Span] = {}
        self._owned = tuple(_owned)
        self._unsubscribe = subscribe(self._on_event)
        self._closed = False

    @classmethod
    def from_env(cls, **overrides: Any) -> Observability:
        """Build from the standard ``OTEL_*`` variables (see ``env.py``): service name and
        resource, ``OTEL_{TRACES,METRICS,LOGS}_EXPORTER`` = ``console``/``otlp``/``none``,
        ``OTEL_SDK_DISABLED``, the content-capture variable, and ``AGENTPATTERNS_AUDIT_URL``.
        Providers it creates are private to this object and shut down by :meth:`close`."""
        from agentpatterns.observability.env import from_env_kwargs

        kwargs = from_env_kwargs()
        owned = kwargs.pop("_owned")
        kwargs.update(overrides)
        return cls(**kwargs, _owned=owned)

    # --- public -----------------------------------------------------------------------------
    def instrument(self, graph: Any) -> Any:
        """Wrap every node of ``graph`` (a ``StateGraph``: returned, compile as usual; or a
        compiled graph: instrumented in place and returned). Compiled subgraphs used as
        nodes are instrumented too."""
        if hasattr(graph, "nodes") and hasattr(graph, "add_node"):
            return instrument_builder(self, graph)
        return instrument_compiled(self, graph)

    def callbacks(self) -> ObservabilityCallbackHandler:
        """The LangChain callback handler for tool and chat-model spans (one per object)."""
        if self._handler is None:
            from agentpatterns.observability.callbacks import ObservabilityCallbackHandler

            self._handler = ObservabilityCallbackHandler(self)
        return self._handler

    def flush(self) -> None:
        """Write out the audit log's queue (spans and metrics follow their processors)."""
        if self._audit is not None:
            self._audit.flush()

    def close(self) -> None:
        """Unsubscribe from events, flush the audit log, shut down providers this object
        created (``from_env``); injected providers and audit logs stay open."""
        if self._closed:
            return
        self._closed = True
        self._unsubscribe()
        self.flush()
        for owned in self._owned:
            with contextlib.suppress(Exception):  # best effort: exporters may be gone
                owned.shutdown()

    def __enter__(self) -> Observability:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- used by the wrappers ---------------------------------------------------------------
    def _json(self, value: Any) -> str:
        return json.dumps(self.redactor.redact(value), ensure_ascii=False, default=str)

    def _with_callbacks(self, config: Any) -> Any:
        if not self._auto_callbacks:
            return config
        from agentpatterns.observability.callbacks import with_handler

        return with_handler(config, self.callbacks())

    def _record_duration(
        self,
        op: str,
        name: str | None,
        duration: float,
        error: str | None,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        if attrs is None:
            attrs = {c.OPERATION: op}
            if name is not None:
                attrs[
                    c.WORKFLOW_NAME
                    if op == c.OP_WORKFLOW
                    else c.TOOL_NAME
                    if op == c.OP_TOOL
                    else c.REQUEST_MODEL
                    if op == c.OP_CHAT
                    else c.NODE_NAME
                ] = name
        if error is not None:
            attrs = {**attrs, c.ERROR_TYPE: error}
        self._duration.record(duration, attrs)
        if self._rules:
            self._observe_rules(op, name, duration, error)

    def _observe_rules(self, op: str, name: str | None, duration: float, error: str | None) -> None:
        now = time.time()
        for rule in self._rules:
            alert = rule.observe(op, name, duration, error, now)
            if alert is not None and self._alerter is not None:
                self._alerter.fire(alert)

    def _transitions(
        self, span: Span, node: str, transitions: Any, run: RunScope | None, thread: str | None
    ) -> None:
        if not isinstance(transitions, list | tuple):
            transitions = [transitions]
        text = self.redactor.redact_text
        for item in transitions:  # pyright: ignore[reportUnknownVariableType]
            if not isinstance(item, dict):
                continue
            get = item.get  # pyright: ignore[reportUnknownMemberType]
            attrs: dict[str, Any] = {
                c.TRANSITION_FROM: str(get("from", "")),
                c.TRANSITION_TO: str(get("to", "")),
            }
            if get("reason") is not None:
                attrs[c.TRANSITION_REASON] = text(str(get("reason")))
            if isinstance(get("step"), int):
                attrs[c.TRANSITION_STEP] = get("step")
            span.add_event(c.TRANSITION_EVENT, attrs)
            run_id = run.run_id if run is not None else ""
            if self._audit is not None:
                self._audit.record(
                    "transition",
                    run_id=run_id,
                    thread_id=thread,
                    node=node,
                    graph=run.graph if run is not None else None,
                    data={
                        "from": attrs[c.TRANSITION_FROM],
                        "to": attrs[c.TRANSITION_TO],
                        "reason": get("reason"),
                        "elapsed_ms": get("elapsed_ms"),
                    },
                )
            if self._event_logger is not None:
                self._event_logger.emit(
                    event_name=c.LOG_TRANSITION,
                    body=f"{attrs[c.TRANSITION_FROM]} -> {attrs[c.TRANSITION_TO]}",
                    attributes={**attrs, c.NODE_NAME: node, c.RUN_ID: run_id},
                )

    def _log_state_change(
        self,
        node: str,
        keys: tuple[str, ...],
        update: Any,
        step: Any,
        run_id: str | None,
        thread: str | None,
    ) -> None:
        assert self._logger is not None
        attrs: dict[str, Any] = {c.NODE_NAME: node, c.NODE_KEYS: keys}
        if step is not None:
            attrs[c.NODE_STEP] = step
        if run_id:
            attrs[c.RUN_ID] = run_id
        if thread is not None:
            attrs[c.CONVERSATION_ID] = thread
        body: Any = {"node": node, "keys": list(keys)}
        if self.capture_content and update is not None:
            body["values"] = self.redactor.redact(update)
        self._logger.emit(event_name=c.LOG_STATE_CHANGE, body=body, attributes=attrs)

    def _on_event(self, event: Event) -> None:
        counter = self._counters.get(event.kind)
        if counter is None:
            return
        attrs: dict[str, Any] = {}
        for key in c.EVENT_COUNTER_ATTRS:
            value = event.attrs.get(key)
            if isinstance(value, str | int | float | bool):
                attrs[f"agentpatterns.{key}"] = value
        counter.add(1, attrs)
        if self._audit is not None and event.kind != "transition":
            self._audit.record(
                "event",
                run_id=str(event.attrs.get("run_id", "")),
                thread_id=_str_or_none(event.attrs.get("thread_id")),
                tool=_str_or_none(event.attrs.get("tool")),
                status=event.kind,
                error_type=_str_or_none(event.attrs.get("error_type")),
                data=dict(event.attrs),
                ts=event.time,
            )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _logger(provider: Any, version: str) -> Any:
    from opentelemetry import _logs

    if provider is None:
        provider = _logs.get_logger_provider()
        if type(provider).__name__ in ("NoOpLoggerProvider", "ProxyLoggerProvider"):
            return None  # no SDK logger provider: skip log events entirely (zero cost)
    return provider.get_logger(c.SCOPE, version)
