"""The report queries as read-only LangChain tools with input and output contracts.

Each tool returns the ``model_dump()`` of its output model; :data:`OUTPUT_MODELS` maps tool
names to those models for ``ToolPolicy(output_model=...)``. No tool has a side effect.

Example:
    >>> from tools.retail import RetailStore
    >>> from tools.analytics import tools
    >>> report = {t.name: t for t in tools(RetailStore("memory:"))}["order_status_counts"]
    >>> report.invoke({})["counts"]["pending"]
    423
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ConfigDict, Field

from tools.analytics.reports import (
    GiftCardLiability,
    Revenue,
    SalesReport,
    StatusCounts,
    TopCustomers,
    gift_card_liability,
    order_status_counts,
    revenue,
    sales_by_product_type,
    top_customers,
)
from tools.retail.store import RetailStore

if TYPE_CHECKING:
    from agentpatterns.orchestration import ToolPolicy

__all__ = ["OUTPUT_MODELS", "NoArgs", "StatusArgs", "TopCustomersArgs", "policies", "tools"]

Statuses = list[str] | None


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusArgs(NoArgs):
    statuses: Statuses = Field(
        default=None,
        max_length=10,
        description=("Order statuses to count, e.g. ['delivered']; omit for all but 'cancelled'."),
    )


class TopCustomersArgs(StatusArgs):
    limit: int = Field(default=10, ge=1, le=100, description="How many customers.")


OUTPUT_MODELS: dict[str, type[BaseModel]] = {
    "order_status_counts": StatusCounts,
    "sales_by_product_type": SalesReport,
    "top_customers": TopCustomers,
    "revenue_report": Revenue,
    "gift_card_liability": GiftCardLiability,
}


def tools(store: RetailStore) -> list[BaseTool]:
    """The five report tools bound to ``store``."""

    def order_status_counts_(**_: Any) -> dict[str, Any]:
        return order_status_counts(store).model_dump()

    def sales_by_product_type_(statuses: Statuses = None) -> dict[str, Any]:
        return sales_by_product_type(store, statuses).model_dump()

    def top_customers_(limit: int = 10, statuses: Statuses = None) -> dict[str, Any]:
        return top_customers(store, limit, statuses).model_dump()

    def revenue_report(statuses: Statuses = None) -> dict[str, Any]:
        return revenue(store, statuses).model_dump()

    def gift_card_liability_(**_: Any) -> dict[str, Any]:
        return gift_card_liability(store).model_dump()

    specs = [
        ("order_status_counts", order_status_counts_, NoArgs, "Count orders per status."),
        (
            "sales_by_product_type",
            sales_by_product_type_,
            StatusArgs,
            "Units sold and revenue per product type.",
        ),
        ("top_customers", top_customers_, TopCustomersArgs, "Customers with the highest spend."),
        (
            "revenue_report",
            revenue_report,
            StatusArgs,
            "Orders, items and revenue of orders in a set of statuses.",
        ),
        (
            "gift_card_liability",
            gift_card_liability_,
            NoArgs,
            "Number of gift cards and their total balance.",
        ),
    ]
    out: list[BaseTool] = []
    for name, fn, model, description in specs:
        tool = StructuredTool.from_function(
            func=fn, name=name, args_schema=model, description=description
        )
        tool.metadata = {"side_effect": False, "pack": "analytics"}
        out.append(tool)
    return out


def policies() -> dict[str, ToolPolicy]:
    """A ``ToolPolicy`` per report tool that checks its output against its model."""
    from agentpatterns.orchestration import ToolPolicy

    return {name: ToolPolicy(output_model=model) for name, model in OUTPUT_MODELS.items()}
