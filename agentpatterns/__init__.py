"""agentpatterns: production patterns for LangGraph agents.

The names users need most are re-exported here; everything else lives in the subpackages.
"""

from agentpatterns.checkpoint import open_checkpointer
from agentpatterns.errors import AgentPatternsError

__all__ = ["AgentPatternsError", "open_checkpointer"]
__version__ = "0.1.0"
