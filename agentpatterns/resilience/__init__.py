"""Pattern 5, error handling: classified retries with a per-run budget, circuit breakers,
fallbacks, exactly-once side effects (effect ledger), rollback with compensation, error
routing and escalation to a human. See the module docstrings and the README section."""

from agentpatterns.resilience.breaker import BreakerState, CircuitBreaker
from agentpatterns.resilience.classify import ErrorClass, classify_error, retry_after
from agentpatterns.resilience.escalation import (
    EscalationRequest,
    HumanDecision,
    escalate_to_human,
)
from agentpatterns.resilience.fallback import (
    Degraded,
    Escalate,
    Escalation,
    Fallback,
    LastGood,
    dependency_failure,
)
from agentpatterns.resilience.guard import aguarded, guarded
from agentpatterns.resilience.ledger import Effect, EffectLedger
from agentpatterns.resilience.retry import Retry, RetryBudget, retry_scope
from agentpatterns.resilience.rollback import arollback, last_where, rollback
from agentpatterns.resilience.routing import error_router

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "Degraded",
    "Effect",
    "EffectLedger",
    "ErrorClass",
    "Escalate",
    "Escalation",
    "EscalationRequest",
    "Fallback",
    "HumanDecision",
    "LastGood",
    "Retry",
    "RetryBudget",
    "aguarded",
    "arollback",
    "classify_error",
    "dependency_failure",
    "error_router",
    "escalate_to_human",
    "guarded",
    "last_where",
    "retry_after",
    "retry_scope",
    "rollback",
]
