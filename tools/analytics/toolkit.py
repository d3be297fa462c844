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

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field

from tools._common import pack_tool
from tools.analytics import reports
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
    "order_status_counts": reports.StatusCounts,
    "sales_by_product_type": reports.SalesReport,
    "top_customers": reports.TopCustomers,
    "revenue_report": reports.Revenue,
    "gift_card_liability": reports.GiftCardLiability,
}


def tools(store: RetailStore) -> list[BaseTool]:
    """The five report tools bound to ``store``."""

    def order_status_counts(**_: Any) -> dict[str, Any]:
        return reports.order_status_counts(store).model_dump()

    def sales_by_product_type(statuses: Statuses = None) -> dict[str, Any]:
        return reports.sales_by_product_type(store, statuses).model_dump()

    def top_customers(limit: int = 10, statuses: Statuses = None) -> dict[str, Any]:
        return reports.top_customers(store, limit, statuses).model_dump()

    def revenue_report(statuses: Statuses = None) -> dict[str, Any]:
        return reports.revenue(store, statuses).model_dump()

    def gift_card_liability(**_: Any) -> dict[str, Any]:
        return reports.gift_card_liability(store).model_dump()

    specs = [
        (order_status_counts, NoArgs, "Count orders per status."),
        (sales_by_product_type, StatusArgs, "Units sold and revenue per product type."),
        (top_customers, TopCustomersArgs, "Customers with the highest spend."),
        (revenue_report, StatusArgs, "Orders, items and revenue of orders in a set of statuses."),
        (gift_card_liability, NoArgs, "Number of gift cards and their total balance."),
    ]
    return [
        pack_tool(fn, model, description, pack="analytics", side_effect=False)
        for fn, model, description in specs
    ]


def policies() -> dict[str, ToolPolicy]:
    """A ``ToolPolicy`` per report tool that checks its output against its model."""
    from agentpatterns.orchestration import ToolPolicy

    return {name: ToolPolicy(output_model=model) for name, model in OUTPUT_MODELS.items()}
