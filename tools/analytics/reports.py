"""Read-only report queries over the retail store, with pydantic output models.

Every query is parameterised SQL over :class:`~tools.retail.store.RetailStore` tables (JSON
columns read with SQLite's ``json_each`` / ``json_extract``); nothing is ever written.
"Revenue" is the sum of the item prices of the orders counted; money is rounded to cents.
A status filter of ``None`` means every order except ``cancelled`` ones.

Example:
    >>> from tools.retail import RetailStore
    >>> store = RetailStore("memory:")
    >>> order_status_counts(store).total
    1000
    >>> revenue(store, ["pending"]).orders
    423
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from tools.retail.store import RetailStore

__all__ = [
    "CustomerSpend",
    "GiftCardLiability",
    "ProductSales",
    "Revenue",
    "SalesReport",
    "StatusCounts",
    "TopCustomers",
    "gift_card_liability",
    "order_status_counts",
    "revenue",
    "sales_by_product_type",
    "top_customers",
]


class StatusCounts(BaseModel):
    """How many orders are in each status."""

    total: int
    counts: dict[str, int]


class ProductSales(BaseModel):
    """Units and revenue of one product type."""

    product_id: str
    name: str
    units: int
    revenue: float


class SalesReport(BaseModel):
    """Sales per product type, highest revenue first."""

    statuses: list[str] | None
    rows: list[ProductSales]


class CustomerSpend(BaseModel):
    """What one customer ordered."""

    user_id: str
    name: str
    orders: int
    spend: float


class TopCustomers(BaseModel):
    """The customers with the highest spend, highest first."""

    statuses: list[str] | None
    rows: list[CustomerSpend]


class Revenue(BaseModel):
    """Orders, items and revenue of the orders in a set of statuses."""

    statuses: list[str] | None
    orders: int
    items: int
    revenue: float


class GiftCardLiability(BaseModel):
    """Money held on gift cards (owed to customers)."""

    cards: int
    total_balance: float


def _where(statuses: Sequence[str] | None) -> tuple[str, tuple[Any, ...]]:
    if statuses is None:
        return "o.status != ?", ("cancelled",)
    if not statuses:
        return "0", ()
    return f"o.status IN ({', '.join('?' for _ in statuses)})", tuple(statuses)


def _list(statuses: Sequence[str] | None) -> list[str] | None:
    return None if statuses is None else list(statuses)


def order_status_counts(store: RetailStore) -> StatusCounts:
    """Orders per status (all statuses present in the store)."""
    rows = store.query("SELECT status, count(*) FROM orders GROUP BY status ORDER BY status")
    counts = {status: int(n) for status, n in rows}
    return StatusCounts(total=sum(counts.values()), counts=counts)


def sales_by_product_type(store: RetailStore, statuses: Sequence[str] | None = None) -> SalesReport:
    """Units sold and revenue per product type, over orders in ``statuses``."""
    where, params = _where(statuses)
    rows = store.query(
        "SELECT p.product_id, p.name, count(*), sum(json_extract(i.value, '$.price')) "
        "FROM orders o, json_each(o.items) i "
        "JOIN products p ON p.product_id = json_extract(i.value, '$.product_id') "
        f"WHERE {where} GROUP BY p.product_id, p.name",
        params,
    )
    out = [
        ProductSales(product_id=r[0], name=r[1], units=int(r[2]), revenue=round(r[3], 2))
        for r in rows
    ]
    out.sort(key=lambda s: (-s.revenue, s.name))
    return SalesReport(statuses=_list(statuses), rows=out)


def top_customers(
    store: RetailStore, limit: int = 10, statuses: Sequence[str] | None = None
) -> TopCustomers:
    """The ``limit`` customers with the highest spend over orders in ``statuses``."""
    where, params = _where(statuses)
    rows = store.query(
        "SELECT o.user_id, u.first_name || ' ' || u.last_name, count(DISTINCT o.order_id), "
        "sum(json_extract(i.value, '$.price')) AS spend "
        "FROM orders o JOIN users u ON u.user_id = o.user_id, json_each(o.items) i "
        f"WHERE {where} GROUP BY o.user_id",
        params,
    )
    out = [
        CustomerSpend(user_id=r[0], name=r[1], orders=int(r[2]), spend=round(r[3], 2)) for r in rows
    ]
    out.sort(key=lambda c: (-c.spend, c.user_id))
    return TopCustomers(statuses=_list(statuses), rows=out[: max(limit, 0)])


def revenue(store: RetailStore, statuses: Sequence[str] | None = None) -> Revenue:
    """Order count, item count and revenue of the orders in ``statuses``."""
    where, params = _where(statuses)
    orders = store.query(f"SELECT count(*) FROM orders o WHERE {where}", params)[0][0]
    items, total = store.query(
        "SELECT count(*), coalesce(sum(json_extract(i.value, '$.price')), 0) "
        f"FROM orders o, json_each(o.items) i WHERE {where}",
        params,
    )[0]
    return Revenue(
        statuses=_list(statuses), orders=int(orders), items=int(items), revenue=round(total, 2)
    )


def gift_card_liability(store: RetailStore) -> GiftCardLiability:
    """Number of gift cards and the sum of their balances."""
    cards, total = store.query(
        "SELECT count(*), coalesce(sum(json_extract(m.value, '$.balance')), 0) "
        "FROM users u, json_each(u.payment_methods) m "
        "WHERE json_extract(m.value, '$.source') = ?",
        ("gift_card",),
    )[0]
    return GiftCardLiability(cards=int(cards), total_balance=round(total, 2))
