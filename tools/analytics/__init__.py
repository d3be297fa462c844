"""Read-only report queries over the retail store (see ``tools.analytics.reports``)."""

from tools.analytics.reports import (
    CustomerSpend,
    GiftCardLiability,
    ProductSales,
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
from tools.analytics.toolkit import (
    OUTPUT_MODELS,
    NoArgs,
    StatusArgs,
    TopCustomersArgs,
    policies,
    tools,
)

__all__ = [
    "OUTPUT_MODELS",
    "CustomerSpend",
    "GiftCardLiability",
    "NoArgs",
    "ProductSales",
    "Revenue",
    "SalesReport",
    "StatusArgs",
    "StatusCounts",
    "TopCustomers",
    "TopCustomersArgs",
    "gift_card_liability",
    "order_status_counts",
    "policies",
    "revenue",
    "sales_by_product_type",
    "tools",
    "top_customers",
]
