"""Metrics from events, metric alert rules through the Alerter, log events, from_env."""

from __future__ import annotations

import contextlib
from typing import Any, TypedDict

import pytest
from langgraph.graph import START, StateGraph

from agentpatterns.alerts import Alerter, CallableSink
from agentpatterns.errors import ConfigurationError
from agentpatterns.events import emit
from agentpatterns.observability import ErrorRateAlert, LatencyAlert, Observability
from agentpatterns.testing.otel import OTelCapture


def test_event_counters_respond_and_unsubscribe_on_close(otel: OTelCapture) -> None:
    obs = Observability(**otel.providers())
    emit("retry", target="lookup", attempt=2, delay=0.1, error_type="ConnectionError")
    emit("retry", target="lookup", attempt=3, delay=0.2, error_type="ConnectionError")
    emit("breaker_state", name="payments", old="closed", new="open")
    emit("rollback", thread_id="t", to="abc", compensated=2)
    emit("escalation", thread_id="t", reason="card declined for ann@example.com")
    emit("tool_error", tool="charge", error_type="TimeoutError")
    emit("transition", frm="plan", to="execute", reason="ok")
    emit("something_new", x=1)  # unknown kinds are ignored
    assert otel.counter_total("agentpatterns.retries", **{"agentpatterns.target": "lookup"}) == 2
    assert (
        otel.counter_total("agentpatterns.breaker.state_changes", **{"agentpatterns.new": "open"})
        == 1
    )
    assert otel.counter_total("agentpatterns.rollbacks") == 1
    assert otel.counter_total("agentpatterns.escalations") == 1
    assert otel.counter_total("agentpatterns.tool.errors", **{"agentpatterns.tool": "charge"}) == 1
    assert otel.counter_total("agentpatterns.transitions", **{"agentpatterns.to": "execute"}) == 1
    for point in otel.metric_points("agentpatterns.escalations"):
        assert "agentpatterns.reason" not in point.attributes  # free text never on metrics
    obs.close()
    emit("rollback", thread_id="t", to="abc", compensated=0)
    assert otel.counter_total("agentpatterns.rollbacks") == 1


def test_events_go_to_the_audit_log_redacted(otel: OTelCapture) -> None:
    from agentpatterns.observability import AuditLog

    with AuditLog("memory:") as log:
        obs = Observability(**otel.providers(), audit=log)
        emit("escalation", thread_id="t-9", reason="call ann@example.com")
        (row,) = log.query(kind="event")
        assert (row.thread_id, row.status) == ("t-9", "escalation")
        assert row.data["reason"] == "call [REDACTED:email]"
        obs.close()


class S(TypedDict, total=False):
    x: int


def flaky_graph(obs: Observability, fail_every: int) -> Any:
    calls = {"n": 0}

    def node(state: S) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] % fail_every == 0:
            raise ConnectionError("down")
        return {"x": 1}

    b = StateGraph(S)
    b.add_node("call", node)
    b.add_edge(START, "call")
    return obs.instrument(b).compile(name="flaky")


def test_error_rate_rule_fires_through_the_alerter(otel: OTelCapture) -> None:
    got: list[Any] = []
    alerter = Alerter([CallableSink(got.append)])
    rule = ErrorRateAlert("invoke_workflow", threshold=0.4, window_seconds=60, min_count=5)
    obs = Observability(**otel.providers(), alerter=alerter, alert_rules=[rule])
    graph = flaky_graph(obs, fail_every=2)
    for _ in range(8):
        with contextlib.suppress(ConnectionError):
            graph.invoke({"x": 0})
    assert len(got) == 1  # deduplicated by the Alerter
    assert got[0].name == "error_rate:invoke_workflow"
    assert got[0].attrs["errors"] >= 2
    errors = [
        p
        for p in otel.metric_points("gen_ai.client.operation.duration")
        if p.attributes.get("error.type") == "ConnectionError"
    ]
    assert sum(p.count for p in errors) == 4
    obs.close()


def test_latency_rule() -> None:
    rule = LatencyAlert(
        "execute_tool", p95_seconds=0.5, window_seconds=60, min_count=20, name="slow"
    )
    fired = [
        rule.observe("execute_tool", "slow", d, None, now=float(i))
        for i, d in enumerate([0.1] * 19 + [0.9, 0.9])
    ]
    assert fired[:20] == [None] * 20  # one slow call in 20 is under the p95
    assert fired[20] is not None and fired[20].name == "latency_p95:slow"
    assert rule.observe("execute_tool", "other", 9.0, None, now=7.0) is None
    with pytest.raises(ConfigurationError):
        ErrorRateAlert("chat", threshold=0)


def test_node_metrics_and_state_change_log_events(otel: OTelCapture) -> None:
    obs = Observability(**otel.providers(), node_metrics=True, log_state_changes=True)
    b = StateGraph(S)
    b.add_node("inc", lambda s: {"x": s["x"] + 1})
    b.add_edge(START, "inc")
    obs.instrument(b).compile(name="g").invoke({"x": 41}, {"configurable": {"thread_id": "t"}})
    ops = {
        (p.attributes["gen_ai.operation.name"], p.attributes.get("agentpatterns.node.name"))
        for p in otel.metric_points("gen_ai.client.operation.duration")
    }
    assert ops == {("invoke_node", "inc"), ("invoke_workflow", None)}
    (log,) = otel.logs.get_finished_logs()
    record = getattr(log, "log_record", log)
    assert record.event_name == "agentpatterns.state_change"
    assert record.body == {"node": "inc", "keys": ["x"]}  # keys, never values
    assert record.attributes["gen_ai.conversation.id"] == "t"
    assert record.trace_id != 0  # correlated with the node span
    obs.close()


def test_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "svc-test")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    monkeypatch.setenv("AGENTPATTERNS_AUDIT_URL", f"sqlite:///{tmp_path / 'env.db'}")
    obs = Observability.from_env()
    assert obs.capture_content is True
    assert obs._audit is not None
    provider = obs._tracer.resource if hasattr(obs._tracer, "resource") else None
    assert provider is None or provider.attributes["service.name"] == "svc-test"
    assert Observability.from_env(capture_content=False).capture_content is False
    obs.close()
    assert obs._audit._closed  # owned by from_env: closed with it
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ConfigurationError, match="zipkin"):
        Observability.from_env()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ConfigurationError, match="grpc"):
        Observability.from_env()
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
    monkeypatch.delenv("AGENTPATTERNS_AUDIT_URL")
    assert Observability().capture_content is False


def test_never_touches_global_providers(otel: OTelCapture) -> None:
    from opentelemetry import metrics, trace

    before = (trace.get_tracer_provider(), metrics.get_meter_provider())
    Observability(**otel.providers()).close()
    Observability.from_env().close()
    assert (trace.get_tracer_provider(), metrics.get_meter_provider()) == before
