"""Pattern 2, state machines: declared states and transitions, checked at build time and
enforced at run time, and the canonical plan -> execute -> validate agent graph."""

from agentpatterns.fsm.agent import AgentGraphState, Rule, RulePlanner, build_agent_graph
from agentpatterns.fsm.conditions import Condition, Goto, goto, key, when
from agentpatterns.fsm.machine import StateMachine, describe
from agentpatterns.fsm.state import TERMINALS, AgentState, TransitionRecord, append_transitions

__all__ = [
    "TERMINALS",
    "AgentGraphState",
    "AgentState",
    "Condition",
    "Goto",
    "Rule",
    "RulePlanner",
    "StateMachine",
    "TransitionRecord",
    "append_transitions",
    "build_agent_graph",
    "describe",
    "goto",
    "key",
    "when",
]
