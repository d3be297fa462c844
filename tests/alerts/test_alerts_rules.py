"""Alerts: rules, dedupe, rate limit, sinks (webhook against a real local HTTP server)."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from agentpatterns.alerts import (
    DEFAULT_RULES,
    Alert,
    Alerter,
    CallableSink,
    ErrorRateRule,
    EventRule,
    LoggingSink,
    WebhookSink,
)
from agentpatterns.events import emit


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_event_rule_dedupes_per_group_and_formats() -> None:
    got: list[Alert] = []
    clock = _Clock()
    rule = EventRule(
        "breaker_state",
        where=lambda a: a["new"] == "open",
        severity="critical",
        group_by=("name",),
        message="breaker {name} is {new}",
    )
    with Alerter([CallableSink(got.append)], rules=[rule], dedupe_seconds=60, clock=clock):
        emit("breaker_state", name="a", old="closed", new="open")
        emit("breaker_state", name="a", old="closed", new="open")
        emit("breaker_state", name="b", old="closed", new="open")
        emit("breaker_state", name="a", old="open", new="half_open")  # filtered by where
        clock.now += 61
        emit("breaker_state", name="a", old="half_open", new="open")
    emit("breaker_state", name="c", old="closed", new="open")  # detached: ignored
    assert [a.message for a in got] == [
        "breaker a is open",
        "breaker b is open",
        "breaker a is open",
    ]
    assert got[0].severity == "critical"


def test_rate_limit_drops_beyond_max_per_minute() -> None:
    got: list[Alert] = []
    clock = _Clock()
    alerter = Alerter([CallableSink(got.append)], max_per_minute=3, clock=clock)
    sent = [alerter.fire(Alert(f"a{i}", "warning", "m")) for i in range(5)]
    assert sent == [True, True, True, False, False]
    assert alerter.dropped == 2
    clock.now += 60
    assert alerter.fire(Alert("a9", "info", "m"))
    assert len(got) == 4


def test_error_rate_rule_fires_once_over_threshold() -> None:
    got: list[Alert] = []
    rule = ErrorRateRule(
        ("tool_error",), threshold=0.5, window_seconds=60, min_events=4, of=("transition",)
    )
    with Alerter([CallableSink(got.append)], rules=[rule]):
        emit("transition", frm="a", to="b")
        emit("tool_error", tool="x")  # 1/2: below min_events
        emit("retry", target="x")  # not in numerator or denominator
        emit("transition", frm="b", to="c")
        emit("tool_error", tool="x")  # 2/4 = 50 %: fires
        emit("tool_error", tool="x")  # deduplicated
    assert len(got) == 1
    assert got[0].name == "error_rate" and got[0].attrs["errors"] == 2


def test_error_rate_rejects_bad_threshold() -> None:
    with pytest.raises(ValueError):
        ErrorRateRule("tool_error", threshold=2)


def test_failing_sink_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def boom(alert: Alert) -> None:
        raise RuntimeError("sink down")

    got: list[Alert] = []
    alerter = Alerter([CallableSink(boom), CallableSink(got.append)])
    with caplog.at_level(logging.ERROR, "agentpatterns.alerts"):
        assert alerter.fire(Alert("x", "critical", "m"))
    assert got and "sink" in caplog.text


def test_logging_sink_and_default_rules(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.INFO, "agentpatterns.alerts"),
        Alerter([LoggingSink()], rules=DEFAULT_RULES),
    ):
        emit("compensation_failed", key="k1", tool="refund", error_type="ValueError")
        emit("transition", frm="a", to="b")
    assert "ALERT compensation_failed [critical]" in caplog.text


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_webhook_sink_posts_json_to_local_server() -> None:
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sink = WebhookSink(f"http://127.0.0.1:{server.server_address[1]}/alerts", timeout=2.0)
        with Alerter([sink], rules=DEFAULT_RULES):
            emit("breaker_state", name="payments", old="closed", new="open")
            emit("breaker_state", name="payments", old="half_open", new="open")
        assert sink.sent == 1 and sink.failed == 0
        assert _Hook.received[0]["name"] == "breaker_open"
        assert _Hook.received[0]["attrs"]["name"] == "payments"
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    port = server.server_address[1]
    server.server_close()  # nothing listens on this port now
    sink = WebhookSink(f"http://127.0.0.1:{port}/", timeout=0.5)
    with caplog.at_level(logging.WARNING, "agentpatterns.alerts"):
        sink.send(Alert("x", "warning", "m"))
    assert sink.failed == 1 and "webhook" in caplog.text
    with pytest.raises(ValueError):
        WebhookSink("ftp://x")
