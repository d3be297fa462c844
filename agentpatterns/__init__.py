"""agentpatterns: production patterns for LangGraph agents.

The names users need most are re-exported here; everything else lives in the subpackages
(``agentpatterns.fsm``, ``.orchestration``, ``.layered``, ``.observability``,
``.resilience``, ``.checkpoint``, ``.alerts``, ``.selector``, ``.readiness``, ``.testing``).
"""

from agentpatterns.alerts import Alerter
from agentpatterns.checkpoint import open_checkpointer
from agentpatterns.errors import AgentPatternsError
from agentpatterns.fsm import AgentState, RulePlanner, StateMachine, build_agent_graph, goto, when
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
