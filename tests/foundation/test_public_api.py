"""The top-level re-exports and the subpackages' __all__ lists are importable and honest."""

from __future__ import annotations

import importlib

import agentpatterns

SUBPACKAGES = [
    "agentpatterns.fsm",
    "agentpatterns.orchestration",
    "agentpatterns.layered",
    "agentpatterns.observability",
    "agentpatterns.resilience",
    "agentpatterns.checkpoint",
    "agentpatterns.alerts",
    "agentpatterns.selector",
    "agentpatterns.readiness",
    "agentpatterns.errors",
]

DESIGN_NAMES = {  # DESIGN.md "Public API (the contract)"
    "agentpatterns.checkpoint": ["open_checkpointer"],
    "agentpatterns.fsm": ["StateMachine", "AgentState", "build_agent_graph"],
    "agentpatterns.orchestration": ["ToolRegistry", "ToolPolicy", "add_tool_orchestration"],
    "agentpatterns.layered": ["build_layered_graph", "Subtask"],
    "agentpatterns.observability": ["Observability", "Redactor", "AuditLog"],
    "agentpatterns.resilience": [
        "Retry",
        "CircuitBreaker",
        "Fallback",
        "EffectLedger",
        "rollback",
        "escalate_to_human",
    ],
    "agentpatterns.selector": ["recommend", "WorkloadProfile"],
    "agentpatterns.readiness": ["check_readiness"],
}


def test_every_name_in_all_exists() -> None:
    for name in agentpatterns.__all__:
        assert hasattr(agentpatterns, name), name
    for module_name in SUBPACKAGES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            assert hasattr(module, name), f"{module_name}.{name}"


def test_design_contract_names_are_public() -> None:
    for module_name, names in DESIGN_NAMES.items():
        module = importlib.import_module(module_name)
        for name in names:
            assert name in module.__all__, f"{module_name} does not export {name}"
            assert getattr(agentpatterns, name) is getattr(module, name)


def test_library_does_not_import_the_folders_below_it() -> None:
    """DESIGN.md: evals -> graphs -> tools -> agentpatterns; never the other way round."""
    import ast
    from pathlib import Path

    root = Path(agentpatterns.__file__).parent
    offenders: list[str] = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in {"graphs", "evals", "tools", "bench"}:
                    offenders.append(f"{path.relative_to(root)}: {name}")
    assert offenders == []
