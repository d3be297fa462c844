"""``agentpatterns audit`` sub-app: query filters, JSON output, count, retain."""

from __future__ import annotations

import json
import time
from typing import Any

from typer.testing import CliRunner

from agentpatterns.observability import AuditLog
from agentpatterns.observability.audit_cli import audit_app


def test_audit_cli(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    now = time.time()
    with AuditLog(url) as log:
        log.record("node", run_id="r1", thread_id="t1", node="plan", data={"x": 1}, ts=now - 10)
        log.record(
            "tool",
            run_id="r1",
            thread_id="t1",
            tool="charge",
            status="error",
            error_type="TimeoutError",
            data={"email": "a.b@example.com"},
            ts=now - 5,
        )
        log.record("node", run_id="r2", thread_id="t2", node="plan", ts=now - 86400 * 3)
    runner = CliRunner()
    out = runner.invoke(audit_app, ["query", "--url", url, "--thread", "t1", "--json"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.output.splitlines()]
    assert [r["kind"] for r in rows] == ["node", "tool"]
    assert rows[1]["data"] == {"email": "[REDACTED:email]"}
    out = runner.invoke(audit_app, ["query", "--url", url, "--status", "error"])
    assert out.exit_code == 0 and "charge" in out.output and out.output.count("\n") == 1
    out = runner.invoke(audit_app, ["query", "--url", url, "--since", "-1h", "--json"])
    assert len(out.output.splitlines()) == 2
    assert runner.invoke(audit_app, ["count", "--url", url]).output.strip() == "3"
    assert runner.invoke(audit_app, ["retain", "--url", url, "--days", "1"]).output.strip() == "1"
    assert runner.invoke(audit_app, ["retain", "--url", url]).exit_code != 0
