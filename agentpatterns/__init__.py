"""agentpatterns: production patterns for LangGraph agents.

The names users need most are re-exported here; everything else lives in the subpackages
(``agentpatterns.fsm``, ``.orchestration``, ``.layered``, ``.observability``,
``.resilience``, ``.checkpoint``, ``.alerts``, ``.selector``, ``.readiness``, ``.testing``).
Names are imported lazily (PEP 562) so that ``import agentpatterns.checkpoint`` in a process
resuming after a crash does not pay for every pattern's imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentpatterns._lazy import lazy_exports

if TYPE_CHECKING:
    from agentpatterns.alerts import Alerter
    from agentpatterns.checkpoint import open_checkpointer
    from agentpatterns.errors import AgentPatternsError
    from agentpatterns.fsm import (
        AgentState,
        RulePlanner,
        StateMachine,
        build_agent_graph,
        goto,
        when,
    )
    from agentpatterns.layered import Executor, Subtask, build_layered_graph
    from agentpatterns.observability import AuditLog, Observability, Redactor
    from agentpatterns.orchestration import ToolPolicy, ToolRegistry, add_tool_orchestration
    from agentpatterns.readiness import check_readiness
    from agentpatterns.resilience import (
        CircuitBreaker,
        EffectLedger,
        Fallback,
        Retry,
        escalate_to_human,
        rollback,
    )
    from agentpatterns.selector import WorkloadProfile, recommend

_LAZY = {
    "AgentPatternsError": "agentpatterns.errors",
    "AgentState": "agentpatterns.fsm",
    "Alerter": "agentpatterns.alerts",
    "AuditLog": "agentpatterns.observability",
    "CircuitBreaker": "agentpatterns.resilience",
    "EffectLedger": "agentpatterns.resilience",
    "Executor": "agentpatterns.layered",
    "Fallback": "agentpatterns.resilience",
    "Observability": "agentpatterns.observability",
    "Redactor": "agentpatterns.observability",
    "Retry": "agentpatterns.resilience",
    "RulePlanner": "agentpatterns.fsm",
    "StateMachine": "agentpatterns.fsm",
    "Subtask": "agentpatterns.layered",
    "ToolPolicy": "agentpatterns.orchestration",
    "ToolRegistry": "agentpatterns.orchestration",
    "WorkloadProfile": "agentpatterns.selector",
    "add_tool_orchestration": "agentpatterns.orchestration",
    "build_agent_graph": "agentpatterns.fsm",
    "build_layered_graph": "agentpatterns.layered",
    "check_readiness": "agentpatterns.readiness",
    "escalate_to_human": "agentpatterns.resilience",
    "goto": "agentpatterns.fsm",
    "open_checkpointer": "agentpatterns.checkpoint",
    "recommend": "agentpatterns.selector",
    "rollback": "agentpatterns.resilience",
    "when": "agentpatterns.fsm",
}

__all__ = [
    "AgentPatternsError",
    "AgentState",
    "Alerter",
    "AuditLog",
    "CircuitBreaker",
    "EffectLedger",
    "Executor",
    "Fallback",
    "Observability",
    "Redactor",
    "Retry",
    "RulePlanner",
    "StateMachine",
    "Subtask",
    "ToolPolicy",
    "ToolRegistry",
    "WorkloadProfile",
    "add_tool_orchestration",
    "build_agent_graph",
    "build_layered_graph",
    "check_readiness",
    "escalate_to_human",
    "goto",
    "open_checkpointer",
    "recommend",
    "rollback",
    "when",
]
__version__ = "0.1.0"

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
