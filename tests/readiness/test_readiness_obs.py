"""check_readiness on graphs instrumented by the real observability package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

from agentpatterns.layered import Executor, build_layered_graph
from agentpatterns.readiness import check_readiness

obs_mod = pytest.importorskip("agentpatterns.observability")


def _layered() -> Any:
    return build_layered_graph(
        decompose=lambda s: [{"executor": "w"}], executors=[Executor("w", lambda s, c: 1)]
    )


def test_traced_graph_without_content_fails_io_logging_only() -> None:
    obs = obs_mod.Observability(TracerProvider(), MeterProvider(), capture_content=False)
    try:
        g = obs.instrument(_layered()).compile()
        assert g.invoke({"task": 0})["status"] == "done"
        report = check_readiness(g)
        assert report["monitoring"].passed
        assert report["tool_call_logging"].passed
        io = report["io_logging"]
        assert not io.passed and "not recorded" in io.reason and "AuditLog" in io.hint
    finally:
        obs.close()


def test_traced_graph_with_audit_log_passes_logging(tmp_path: Path) -> None:
    audit = obs_mod.AuditLog(f"sqlite:///{tmp_path / 'audit.db'}")
    obs = obs_mod.Observability(TracerProvider(), MeterProvider(), audit=audit)
    try:
        g = obs.instrument(_layered()).compile()
        report = check_readiness(g)
        assert report["io_logging"].passed and "audit log" in report["io_logging"].reason
        assert report["monitoring"].passed
    finally:
        obs.close()
        audit.close()
