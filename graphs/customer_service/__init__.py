"""Reference graph: the e-commerce customer-service agent (see ``graph``)."""

from graphs.customer_service.graph import CustomerServiceState, build, make_graph
from graphs.customer_service.planners import (
    ModelPlanner,
    PlanResult,
    RetailRulePlanner,
    ScriptedPlanner,
    script_from_task,
)

__all__ = [
    "CustomerServiceState",
    "ModelPlanner",
    "PlanResult",
    "RetailRulePlanner",
    "ScriptedPlanner",
    "build",
    "make_graph",
    "script_from_task",
]
