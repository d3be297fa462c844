"""The notebooks: stored clean, generated from one source, public API only, and they run.

Each notebook is executed top to bottom with nbclient in a fresh kernel of the current venv
(ipykernel's ``python3`` spec), with its working folder and ``TMPDIR`` in a pytest temporary
folder so nothing is written into the checkout. A failing cell fails the test; the whole
notebook must finish within 60 s; key outputs are checked. Every notebook is one test, so
xdist runs them in parallel (``pytest -n 2``).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
PUBLIC_ROOTS = ("agentpatterns", "tools", "graphs", "evals")
BUDGET_S = 60.0

#: Substrings that must appear in a notebook's outputs (stream, Markdown or plain text).
EXPECTED: dict[str, list[str]] = {
    "01_state_machine": [
        "final status: done",
        "```mermaid\nstateDiagram-v2",
        "MachineDefinitionError: unreachable states",
        "| illegal transition | failed |",
        "| endless loop | failed |",
        "| hung state | timed_out |",
        "agent status: done",
    ],
    "02_tool_orchestration": [
        "| c4 | cancel_pending_order | error | ToolPermissionError",
        "| c5 | get_order_details | error | ToolContractError",
        "| c7 | carrier_status | error | StepTimeoutError",
        "| c8 | delete_database | error | UnknownToolError",
        "final answer: Your order #W5918442 is pending",
        "all ok: True",
    ],
    "03_layered": [
        "status: done",
        "status: partial",
        "ContextContractError",
        "LayerDefinitionError:",
        "recursive status: failed",
        "# Report: revenue and top customers",
    ],
    "04_observability": [
        "final status: done",
        "invoke_workflow customer_service",
        "· · execute_tool cancel_pending_order",
        '"email": "[REDACTED:email]"',
        "audit records for ticket-1001",
        "| error_rate:invoke_workflow | critical |",
    ],
    "05_error_handling": [
        "| Retry | 30/30 |",
        "tool invocations: 15",
        "| ledger + reconcile | replay | 20 | 8 | 20 | 0 |",
        "final status: failed",
        "after rollback: {'card charged': 0.0",
        "final status: done | receipt:",
        "| breaker_open | critical |",
    ],
    "06_choosing_patterns": [
        "```mermaid\nflowchart TD",
        "| customer service (16 tools) | multi_tool_agent | layered (full), tool_orchestration",
        "hand-rolled agent: NOT READY",
        "support agent: READY",
        "a run of it ends: done",
        "| customer_service |",
        "| diagnosis |",
    ],
    "07_eval_harness": [
        "54 episodes in",
        "<image/png>",
        "| full | flaky-30 | 1 | 1 |",
        "| full | lost-response | 1 | 1 |",
        "4 figures",
        "# Eval report: tau2-retail",
    ],
}

#: Notebooks that read the τ²-bench retail data (skipped, like tests/tools, when it is absent).
NEEDS_TAU2 = {
    "02_tool_orchestration",
    "03_layered",
    "04_observability",
    "06_choosing_patterns",
    "07_eval_harness",
}

#: Text that must never appear in outputs (redaction works end to end).
FORBIDDEN: dict[str, list[str]] = {
    "04_observability": ["sofia.rossi2645@example.com"],
}


def _load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_notebooks_build", NOTEBOOKS / "_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = _load_build()
NAMES = [n for n in BUILD.NOTEBOOKS if (NOTEBOOKS / f"{n}.ipynb").exists()]


def _read(name: str) -> Any:
    import nbformat

    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def _code(nb: Any) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


# --- static checks (fast) -------------------------------------------------------------------
def test_every_listed_notebook_exists_and_is_stored_without_outputs() -> None:
    assert NAMES, "no notebooks found"
    for name in NAMES:
        nb = _read(name)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [], f"{name}: stored outputs (strip them)"
                assert cell.execution_count is None, f"{name}: stored execution count"
            assert "execution" not in cell.metadata, f"{name}: stored execution timing"


def test_stored_notebooks_match_their_generator() -> None:
    assert BUILD.main(["--check", *NAMES]) == 0, "run: python notebooks/_build.py"


def _private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split("."))


def test_notebooks_use_only_the_public_api() -> None:
    problems: list[str] = []
    for name in NAMES:
        for source in _code(_read(name)):
            lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
            tree = ast.parse("\n".join(lines))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        if alias.name.split(".")[0] in PUBLIC_ROOTS and _private(alias.name):
                            problems.append(f"{name}: import {alias.name}")
                elif isinstance(node, ast.ImportFrom) and node.module:
                    module = node.module
                    if module.split(".")[0] not in PUBLIC_ROOTS:
                        continue
                    if _private(module):
                        problems.append(f"{name}: from {module} import ...")
                        continue
                    imported = importlib.import_module(module)
                    public = getattr(imported, "__all__", None)
                    for alias in node.names:
                        is_module = hasattr(imported, "__path__") and (
                            importlib.util.find_spec(f"{module}.{alias.name}") is not None
                        )
                        if alias.name.startswith("_") or (
                            public is not None and alias.name not in public and not is_module
                        ):
                            problems.append(f"{name}: {alias.name} is not in {module}.__all__")
            for bad in ("draw_mermaid_png", "draw_png", "MermaidDrawMethod.API"):
                if bad in source:
                    problems.append(f"{name}: {bad} (calls a web service or graphviz)")
            if re.search(r"postgres(ql)?://", source):
                problems.append(f"{name}: uses PostgreSQL (notebooks use SQLite or memory)")
    assert not problems, "\n".join(problems)


# --- execution --------------------------------------------------------------------------------
def _outputs_text(nb: Any) -> str:
    parts: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type in ("display_data", "execute_result"):
                data = out.get("data", {})
                parts.append(data.get("text/markdown") or data.get("text/plain", ""))
                if "image/png" in data:
                    parts.append("<image/png>")
    return "\n".join(parts)


@pytest.mark.notebook
@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_offline_top_to_bottom(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient import NotebookClient

    if name in NEEDS_TAU2:
        from agentpatterns.errors import ConfigurationError
        from tools.retail import data_dir

        try:
            data_dir()
        except ConfigurationError as exc:
            pytest.skip(f"τ² retail data absent: {exc}")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebooks' scratch folders land here
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    before = sorted(p.name for p in NOTEBOOKS.iterdir())
    nb = _read(name)
    client = NotebookClient(
        nb,
        timeout=120,  # per cell; the notebook as a whole must finish within BUDGET_S
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        allow_errors=False,
    )
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    elapsed = time.perf_counter() - started
    assert client.kc is None  # kernel shut down
    assert elapsed < BUDGET_S, f"{name} took {elapsed:.1f} s (budget {BUDGET_S:.0f} s)"
    text = _outputs_text(nb)
    missing = [s for s in EXPECTED.get(name, []) if s not in text]
    assert not missing, f"{name}: outputs lack {missing}"
    leaked = [s for s in FORBIDDEN.get(name, []) if s in text]
    assert not leaked, f"{name}: outputs show {leaked}"
    after = sorted(p.name for p in NOTEBOOKS.iterdir())
    assert after == before, "the notebook wrote into notebooks/"
