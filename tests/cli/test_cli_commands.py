"""The ``agentpatterns`` CLI: run / resume / history / rollback / graphs, the wired
sub-commands, and every bad-input case (clear stderr, non-zero exit, nothing changed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agentpatterns.cli import app

EMAIL = "sofia.rossi2645@example.com"
CANCEL = {"request": "Cancel order #W5918442, I no longer need it", "email": EMAIL}
ORDER = {
    "order": {
        "order_id": "O-7",
        "email": "ann@example.com",
        "payment_method_id": "credit_card_4242",
        "items": [{"sku": "MUG-BLUE", "qty": 2, "price": 10.0}],
    }
}


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def tau2() -> None:
    from agentpatterns.errors import ConfigurationError
    from tools.retail.data import data_dir

    try:
        data_dir()
    except ConfigurationError as exc:
        pytest.skip(f"τ² retail data absent: {exc}")


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def ok_json(*args: str) -> Any:
    result = cli(*args, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_graphs_lists_the_registered_graphs() -> None:
    rows = ok_json("graphs")
    assert {r["name"] for r in rows} == {
        "customer_service",
        "order_processing",
        "report_generation",
        "diagnosis",
    }
    assert cli("graphs").exit_code == 0


@pytest.mark.usefixtures("tau2")
def test_run_confirm_resume_history(tmp_path: Path) -> None:
    out = ok_json("run", "customer_service", json.dumps(CANCEL), "--thread", "c1")
    assert out["status"] == "paused" and out["path"][-1] == "confirm"
    assert out["interrupts"][0]["value"]["calls"][0]["name"] == "cancel_pending_order"
    assert (tmp_path / ".agentpatterns" / "runs.db").exists()
    done = ok_json("resume", "c1", "--value", '"yes"')
    assert done["status"] == "done"
    assert done["answer"] == "Done: cancel order #W5918442 (no longer needed)."
    rows = ok_json("history", "c1")
    assert rows[0]["status"] == "done" and rows[-1]["source"] == "input"
    assert cli("history", "c1").exit_code == 0
    other = {**CANCEL, "request": "Cancel order #W5500815, I no longer need it"}
    text = cli("run", "customer_service", json.dumps(other), "--thread", "c2")
    assert text.exit_code == 0 and "resume with" in text.stdout


@pytest.mark.usefixtures("tau2")
def test_order_rollback_to_checkpoint_compensates(tmp_path: Path) -> None:
    from tools.payments import PaymentGateway

    out = ok_json("run", "order_processing", json.dumps(ORDER), "--thread", "o1")
    assert out["status"] == "done"
    again = ok_json("rollback", "o1", "--to", "last-validated")
    assert again["compensated"] == 0  # the head is validated: nothing after it
    rows = ok_json("history", "o1")
    before_charge = next(r for r in rows if r["state"] == "charge" and r["source"] == "loop")
    back = ok_json("rollback", "o1", "--to", before_charge["checkpoint_id"])
    assert back["compensated"] == 3 and back["next"] == ["charge"]
    gateway = PaymentGateway(str(tmp_path / ".agentpatterns" / "order_processing" / "payments.db"))
    try:
        assert gateway.balance("credit_card_4242") == 0.0
    finally:
        gateway.close()


@pytest.mark.usefixtures("tau2")
def test_diagnosis_sign_off_through_the_cli() -> None:
    paused = ok_json("run", "diagnosis", '{"patient": 3}', "--thread", "d1")
    assert paused["status"] == "paused"
    bad = cli("resume", "d1", "--value", "{not json")
    assert bad.exit_code == 2 and "not valid JSON" in bad.stderr
    done = ok_json("resume", "d1", "--value", '{"approve": true, "clinician": "Dr. T"}')
    assert done["status"] == "done" and "Signed off by Dr. T" in done["answer"]
    url = "sqlite:///.agentpatterns/diagnosis/audit.db"
    audit = cli("audit", "query", "--thread", "d1", "--url", url, "--json")
    assert audit.exit_code == 0, audit.stderr
    assert {json.loads(line)["kind"] for line in audit.stdout.splitlines()} >= {
        "input",
        "node",
        "output",
    }


@pytest.mark.usefixtures("tau2")
def test_module_attr_specs_and_trace(tmp_path: Path) -> None:
    (tmp_path / "mygraph.py").write_text(
        "from typing import TypedDict\n"
        "from langgraph.graph import START, StateGraph\n"
        "class S(TypedDict):\n    x: int\n"
        "graph = StateGraph(S)\n"
        "graph.add_node('inc', lambda s: {'x': s['x'] + 1})\n"
        "graph.add_edge(START, 'inc')\n"
    )
    out = ok_json("run", "mygraph:graph", '{"x": 1}', "--checkpointer", "memory:")
    assert out["values"] == {"x": 2} and out["status"] == "done"
    traced = cli("run", "mygraph:graph", '{"x": 1}', "--trace", "console", "-c", "memory:")
    assert traced.exit_code == 0 and "invoke_node inc" in traced.stderr
    report = ok_json("run", "graphs.report_generation.graph:build", '{"task": "revenue"}')
    assert report["answer"].startswith("# Report: revenue")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["run", "no-such-graph"], 2, "unknown graph 'no-such-graph'"),
        (["run", "order_processing", "{bad json"], 2, "INPUT_JSON is not valid JSON"),
        (["run", "order_processing", "[1, 2]"], 2, "must be a JSON object"),
        (["run", "order_processing", "@missing.json"], 2, "cannot read INPUT_JSON file"),
        (["run", "nosuchmodule:graph"], 2, "cannot load 'nosuchmodule:graph'"),
        (["run", "order_processing", "-c", "mongodb://x"], 1, "UnsupportedURLError"),
        (["resume", "ghost"], 1, "no thread 'ghost'"),
        (["history", "ghost"], 1, "no thread 'ghost'"),
        (["rollback", "ghost", "--to", "last-validated"], 1, "no thread 'ghost'"),
    ],
)
def test_bad_input_changes_nothing(
    args: list[str], code: int, message: str, tmp_path: Path
) -> None:
    result = cli(*args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert message in result.stderr and result.stdout == ""
    assert not (tmp_path / ".agentpatterns").exists()  # nothing created


@pytest.mark.usefixtures("tau2")
def test_bad_targets_on_a_real_thread_change_nothing() -> None:
    ok_json("run", "order_processing", json.dumps(ORDER), "--thread", "o2")
    before = ok_json("history", "o2")
    missing = cli("rollback", "o2", "--to", "no-such-checkpoint")
    assert missing.exit_code == 1 and "no checkpoint 'no-such-checkpoint'" in missing.stderr
    finished = cli("resume", "o2")
    assert finished.exit_code == 1 and "nothing to resume" in finished.stderr
    answer = cli("resume", "o2", "--value", "true")
    assert answer.exit_code == 1 and "nothing to resume" in answer.stderr
    assert ok_json("history", "o2") == before
    other = cli("resume", "o2", "--graph", "nope")
    assert other.exit_code == 2 and "unknown graph" in other.stderr


def test_checks_recommend_and_eval_are_wired() -> None:
    rec = ok_json("recommend", "--tools", "5", "--predictable")
    assert rec
    check = cli("check", "graphs.order_processing.graph:make_graph", "--json")
    assert check.exit_code in (0, 1) and json.loads(check.stdout)
    assert cli("eval", "--help").exit_code == 0


def test_eval_without_the_harness(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "evals.cli", None)
    result = cli("eval", "--suite", "tau2-retail")
    assert result.exit_code == 1 and "eval harness is not available" in result.stderr


def test_real_subprocess_help_and_no_static_graph_imports() -> None:
    exe = Path(sys.executable).with_name("agentpatterns")
    done = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for command in ("run", "resume", "history", "rollback", "graphs", "check", "eval", "audit"):
        assert command in done.stdout
    code = (
        "import sys, agentpatterns.cli; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('graphs', 'evals')]; "
        "assert not bad, bad"
    )
    env = {**os.environ, "PYTHONPATH": ""}
    check = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert check.returncode == 0, check.stderr
