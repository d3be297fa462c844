"""The payment gateway as LangChain tools, with contracts and the charge's compensation.

``charge_payment`` is the side effect: under the tool executor its idempotency key is the
call's effect key (``config["configurable"]["agentpatterns_effect_key"]``), so a retried or
replayed call returns the first charge instead of charging twice. Its compensation refunds
what remains of the charge. ``refund_payment`` cannot be undone (no compensation), and
``get_charge`` is a read.

Example:
    >>> from tools.payments import PaymentGateway, tools
    >>> gw = PaymentGateway("memory:")
    >>> charge = {t.name: t for t in tools(gw)}["charge_payment"]
    >>> cfg = {"configurable": {"agentpatterns_effect_key": "thread-1::call-1"}}
    >>> a = charge.invoke({"payment_method_id": "card_1", "amount": 5}, config=cfg)
    >>> b = charge.invoke({"payment_method_id": "card_1", "amount": 5}, config=cfg)
    >>> a["charge_id"] == b["charge_id"], gw.count("charges")
    (True, 1)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field

from tools._common import current_effect_key, pack_tool, result_id
from tools.payments.gateway import Charge, PaymentError, PaymentGateway, Refund

if TYPE_CHECKING:
    from agentpatterns.orchestration import ToolPolicy

__all__ = ["ChargeArgs", "ChargeIdArgs", "RefundArgs", "compensation", "policies", "tools"]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChargeArgs(_Args):
    payment_method_id: str = Field(max_length=64, description="Payment method to charge.")
    amount: float = Field(gt=0, le=1_000_000, description="Amount, at most 2 decimals.")
    currency: str = Field(default="USD", pattern=r"^[A-Za-z]{3}$", description="ISO 4217.")
    description: str = Field(default="", max_length=500, description="Shown on the statement.")


class ChargeIdArgs(_Args):
    charge_id: str = Field(max_length=64, description="Charge id, e.g. 'ch_...'.")


class RefundArgs(ChargeIdArgs):
    amount: float | None = Field(
        default=None, gt=0, le=1_000_000, description="Amount to refund; omit for all that remains."
    )
    reason: str = Field(default="", max_length=500, description="Why.")


def tools(gateway: PaymentGateway) -> list[BaseTool]:
    """``charge_payment`` (side effect), ``refund_payment`` (side effect), ``get_charge``."""

    def charge_payment(**kw: Any) -> dict[str, Any]:
        return gateway.charge(effect_key=current_effect_key(), **kw).model_dump()

    def refund_payment(**kw: Any) -> dict[str, Any]:
        return gateway.refund(effect_key=current_effect_key(), **kw).model_dump()

    def get_charge(charge_id: str) -> dict[str, Any]:
        return gateway.get_charge(charge_id).model_dump()

    specs: list[tuple[Callable[..., Any], type[BaseModel], str, bool]] = [
        (charge_payment, ChargeArgs, "Charge an amount to a payment method (once per call).", True),
        (refund_payment, RefundArgs, "Refund all or part of a charge.", True),
        (get_charge, ChargeIdArgs, "Get a charge and how much of it was refunded.", False),
    ]
    return [
        pack_tool(fn, model, description, pack="payments", side_effect=side_effect)
        for fn, model, description, side_effect in specs
    ]


def _charge_id(result: Any) -> str:
    return str(result_id(result, Charge, "charge_id", PaymentError, plain_string=True))


def compensation(gateway: PaymentGateway) -> Callable[[dict[str, Any], Any], Refund]:
    """``compensate(args, result)`` for ``charge_payment``: refund what remains of it."""

    def compensate(args: dict[str, Any], result: Any) -> Refund:
        return gateway.compensate_charge(_charge_id(result))

    return compensate


def policies(gateway: PaymentGateway) -> dict[str, ToolPolicy]:
    """Default ``ToolPolicy`` per payment tool (charge: side effect + compensation)."""
    from agentpatterns.orchestration import ToolPolicy

    return {
        "charge_payment": ToolPolicy(side_effect=True, compensate=compensation(gateway)),
        "refund_payment": ToolPolicy(side_effect=True),
        "get_charge": ToolPolicy(),
    }
