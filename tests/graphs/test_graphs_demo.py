"""``make demo`` (``python -m graphs.demo``) runs offline, quickly, and shows every pattern."""

from __future__ import annotations

import time
from pathlib import Path

import pytest


@pytest.mark.usefixtures("tau2")
def test_demo_runs_and_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from graphs import demo

    monkeypatch.chdir(tmp_path)
    started = time.perf_counter()
    demo.main()
    elapsed = time.perf_counter() - started
    out = capsys.readouterr().out
    for text in (
        "Done: cancel order #W5918442",  # the answer
        "LostResponseFault",  # retries, including after a lost response
        "1 in the store's write log",  # ... and the write happened once
        "compensated modify_pending_order_address",  # rollback with compensation
        "retried by ops",  # escalation, then a human's retry
        "Ana (support) approved",  # escalation to a human
        "audit log",
        "traces",
    ):
        assert text in out, text
    home = tmp_path / ".agentpatterns" / "demo"
    for name in ("audit.db", "traces.jsonl", "runs.db", "retail.db"):
        assert (home / name).stat().st_size > 0, name
    assert elapsed < 60
