"""Payment gateway on SQLite honouring idempotency keys (see ``tools.payments.gateway``)."""

from tools.payments.gateway import (
    Charge,
    IdempotencyConflictError,
    PaymentError,
    PaymentGateway,
    Refund,
)
from tools.payments.toolkit import (
    ChargeArgs,
    ChargeIdArgs,
    RefundArgs,
    compensation,
    policies,
    tools,
)

__all__ = [
    "Charge",
    "ChargeArgs",
    "ChargeIdArgs",
    "IdempotencyConflictError",
    "PaymentError",
    "PaymentGateway",
    "Refund",
    "RefundArgs",
    "compensation",
    "policies",
    "tools",
]
