"""Pattern 1: an orchestrator layer over executor layers with scoped context hand-off."""

from agentpatterns.layered._nodes import LayerFrame, current_frame
from agentpatterns.layered._types import (
    Executor,
    Handoff,
    LayeredState,
    OnFailure,
    ScopedContext,
    Subtask,
    SubtaskPlan,
    append_handoffs,
    merge_dicts,
)
from agentpatterns.layered.builder import LayerInfo, build_layered_graph, layer_info
from agentpatterns.layered.metrics import record_handoff_metrics

__all__ = [
    "Executor",
    "Handoff",
    "LayerFrame",
    "LayerInfo",
    "LayeredState",
    "OnFailure",
    "ScopedContext",
    "Subtask",
    "SubtaskPlan",
    "append_handoffs",
    "build_layered_graph",
    "current_frame",
    "layer_info",
    "merge_dicts",
    "record_handoff_metrics",
]
