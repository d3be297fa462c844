"""Pattern 3, tool orchestration: registry with contracts and policies, selector -> parallel
executor -> aggregator nodes, and ``add_tool_orchestration`` to mount them on any graph."""

from agentpatterns.orchestration.graph import ToolOrchestrationState, add_tool_orchestration
from agentpatterns.orchestration.nodes import (
    Merge,
    OrchestrationNode,
    default_merge,
    select_calls,
    tool_aggregator,
    tool_executor,
    tool_selector,
    tool_step,
)
from agentpatterns.orchestration.policy import ToolPolicy
from agentpatterns.orchestration.registry import (
    DEFAULT_MAX_ARG_BYTES,
    RegisteredTool,
    ToolRegistry,
)

__all__ = [
    "DEFAULT_MAX_ARG_BYTES",
    "Merge",
    "OrchestrationNode",
    "RegisteredTool",
    "ToolOrchestrationState",
    "ToolPolicy",
    "ToolRegistry",
    "add_tool_orchestration",
    "default_merge",
    "select_calls",
    "tool_aggregator",
    "tool_executor",
    "tool_selector",
    "tool_step",
]
