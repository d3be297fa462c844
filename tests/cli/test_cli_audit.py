"""``agentpatterns audit query|count|retain``: the real audit CLI mounted on the main app,
on the records of a real graph run, and its bad-input cases (clear stderr, non-zero exit,
no file created)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, TypedDict

from langgraph.graph import START, StateGraph
from typer.testing import CliRunner

from agentpatterns.cli import app
from agentpatterns.observability import AuditLog, Observability


class S(TypedDict, total=False):
    x: int
    email: str


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _audited_runs(url: str) -> None:
    b = StateGraph(S)
    b.add_node("plan", lambda s: {"x": s["x"] + 1})
    b.add_node("act", lambda s: {"x": s["x"] * 10})
    b.add_edge(START, "plan")
    b.add_edge("plan", "act")
    with AuditLog(url) as log:
        graph = Observability(audit=log).instrument(b).compile(name="g")
        for thread in ("t1", "t2"):
            graph.invoke(
                {"x": 1, "email": "ann@example.com"}, {"configurable": {"thread_id": thread}}
            )


def test_query_finds_a_graph_runs_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    _audited_runs(url)
    out = cli("audit", "query", "--thread", "t1", "--url", url, "--json")
    assert out.exit_code == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["kind"], r["node"]) for r in rows] == [
        ("input", None),
        ("node", "plan"),
        ("node", "act"),
        ("output", None),
    ]
    assert {r["thread_id"] for r in rows} == {"t1"}
    assert rows[0]["data"] == {"x": 1, "email": "[REDACTED:email]"}
    assert rows[-1]["data"]["x"] == 20
    text = cli("audit", "query", "-t", "t2", "--node", "act", "--url", url)
    assert text.exit_code == 0 and text.stdout.count("\n") == 1 and "act" in text.stdout


def test_count_and_retain_through_the_main_app(tmp_path: Path, monkeypatch: Any) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    _audited_runs(url)
    with AuditLog(url) as log:
        log.record("event", run_id="old", ts=time.time() - 40 * 86400)
    monkeypatch.setenv("AGENTPATTERNS_AUDIT_URL", url)  # --url from the environment
    assert cli("audit", "count").stdout.strip() == "9"
    assert cli("audit", "retain", "--days", "30").stdout.strip() == "1"
    assert cli("audit", "retain", "--max-records", "4").stdout.strip() == "4"
    assert cli("audit", "count").stdout.strip() == "4"
    assert cli("audit", "retain").exit_code != 0  # neither --days nor --max-records


def test_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "nope.db"
    for args in (("query", "--thread", "d1"), ("count",), ("retain", "--days", "1")):
        out = cli("audit", *args, "--url", f"sqlite:///{db}")
        assert out.exit_code == 1, out.output
        assert "no audit log at" in out.stderr and "does not exist" in out.stderr
        assert not db.exists()
    assert list(tmp_path.iterdir()) == []


def test_malformed_url_and_bad_input_are_clear_errors(tmp_path: Path) -> None:
    for url in ("sqlite:/x.db", "mysql://h/db", "nothing"):
        out = cli("audit", "count", "--url", url)
        assert out.exit_code == 2 and "bad --url" in out.stderr, (url, out.output)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    out = cli("audit", "count", "--url", f"sqlite:///{junk}")
    assert out.exit_code == 1 and "cannot open the audit log" in out.stderr
    _audited_runs(url := f"sqlite:///{tmp_path / 'ok.db'}")
    out = cli("audit", "query", "--url", url, "--since", "yesterday")
    assert out.exit_code == 2 and "--since" in out.stderr
    assert list(tmp_path.iterdir()) and not (tmp_path / "x.db").exists()


def test_audit_help_lists_the_sub_commands() -> None:
    out = cli("audit", "--help")
    assert out.exit_code == 0
    assert all(name in out.stdout for name in ("query", "count", "retain"))
