"""graphs/langgraph.json: every entry loads and is a compiled graph; LangGraph's dev server
serves them on 127.0.0.1 and runs them over HTTP (skipped without ``langgraph-cli[inmem]``)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

GRAPHS_DIR = Path(__file__).resolve().parents[2] / "graphs"
CONFIG = json.loads((GRAPHS_DIR / "langgraph.json").read_text())

pytestmark = pytest.mark.usefixtures("tau2")


def _load(entry: str) -> Any:
    path, _, var = entry.partition(":")
    spec = importlib.util.spec_from_file_location("lg_entry", GRAPHS_DIR / path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, var)


def test_config_shape() -> None:
    assert CONFIG["dependencies"] == ["."]
    assert set(CONFIG["graphs"]) == {
        "customer_service",
        "order_processing",
        "report_generation",
        "diagnosis",
    }


@pytest.mark.parametrize("graph_id", sorted(CONFIG["graphs"]))
def test_every_entry_loads_compiled(graph_id: str) -> None:
    graph = _load(CONFIG["graphs"][graph_id])
    assert hasattr(graph, "invoke") and hasattr(graph, "get_graph")
    drawn = graph.get_graph()
    assert len(drawn.nodes) >= 4
    assert graph.name == graph_id


def test_builders_compile_with_a_checkpointer() -> None:
    from importlib.metadata import entry_points

    from langgraph.checkpoint.memory import InMemorySaver

    eps = {ep.name: ep for ep in entry_points(group="agentpatterns.graphs")}
    assert set(eps) == set(CONFIG["graphs"])
    for ep in eps.values():
        builder = ep.load()()
        assert builder.compile(checkpointer=InMemorySaver()).get_graph().nodes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ok(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"langgraph dev exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/ok", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("langgraph dev did not answer /ok in time")


@pytest.mark.skipif(
    importlib.util.find_spec("langgraph_cli") is None
    or importlib.util.find_spec("langgraph_api") is None,
    reason="langgraph-cli[inmem] is not installed (pip install 'langgraph-cli[inmem]')",
)
def test_langgraph_dev_serves_the_graphs(tmp_path: Path) -> None:
    from langgraph_sdk import get_sync_client

    from graphs.order_processing import DEMO_ORDER

    exe = shutil.which("langgraph", path=str(Path(sys.executable).parent)) or "langgraph"
    port = _free_port()
    env = {**os.environ, "LANGGRAPH_CLI_NO_ANALYTICS": "1"}
    cmd = [exe, "dev", "--host", "127.0.0.1", "--port", str(port), "--no-browser", "--no-reload"]
    # the shipped config with its paths made absolute, so the server's state lands in tmp_path
    config = {
        "dependencies": [str(GRAPHS_DIR)],
        "graphs": {k: v.replace("./", f"{GRAPHS_DIR}/", 1) for k, v in CONFIG["graphs"].items()},
    }
    (tmp_path / "langgraph.json").write_text(json.dumps(config))
    cmd += ["--config", str(tmp_path / "langgraph.json")]
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ok(url, proc)
        with get_sync_client(url=url) as client:
            out = client.runs.wait(None, "order_processing", input={"order": DEMO_ORDER})
            assert out["status"] == "done" and out["charge"]["amount"] == 59.97
            thread = client.threads.create()
            paused = client.runs.wait(thread["thread_id"], "diagnosis", input={"patient": 3})
            assert paused["__interrupt__"][0]["value"]["node"] == "sign_off"
            done = client.runs.wait(
                thread["thread_id"],
                "diagnosis",
                command={"resume": {"approve": True, "clinician": "Dr. Test"}},
            )
            assert done["status"] == "done" and "Signed off" in done["answer"]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()
