"""Analytics reports: results on known data (cross-checked in Python), read-only, contracts."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest
from pydantic import ValidationError

from tools.analytics import (
    OUTPUT_MODELS,
    gift_card_liability,
    order_status_counts,
    revenue,
    sales_by_product_type,
    tools,
    top_customers,
)


def orders(db: dict[str, Any], statuses: list[str] | None) -> list[dict[str, Any]]:
    return [
        o
        for o in db["orders"].values()
        if (o["status"] != "cancelled" if statuses is None else o["status"] in statuses)
    ]


def test_status_counts_on_known_data(store: Any) -> None:
    counts = order_status_counts(store)
    assert counts.total == 1000
    assert counts.counts == {"cancelled": 102, "delivered": 373, "pending": 423, "processed": 102}


@pytest.mark.parametrize("statuses", [None, ["delivered"], ["pending", "processed"], []])
def test_revenue_and_sales_match_python(
    store: Any, db: dict[str, Any], statuses: list[str] | None
) -> None:
    chosen = orders(db, statuses)
    items = [i for o in chosen for i in o["items"]]
    got = revenue(store, statuses)
    assert (got.orders, got.items) == (len(chosen), len(items))
    assert got.revenue == pytest.approx(sum(i["price"] for i in items), abs=0.01)
    units = Counter(i["product_id"] for i in items)
    money: dict[str, float] = defaultdict(float)
    for i in items:
        money[i["product_id"]] += i["price"]
    report = sales_by_product_type(store, statuses)
    assert {r.product_id: r.units for r in report.rows} == dict(units)
    for row in report.rows:
        assert row.revenue == pytest.approx(money[row.product_id], abs=0.01)
        assert row.name == db["products"][row.product_id]["name"]
    assert [r.revenue for r in report.rows] == sorted(
        (r.revenue for r in report.rows), reverse=True
    )


def test_top_customers_match_python(store: Any, db: dict[str, Any]) -> None:
    spend: dict[str, float] = defaultdict(float)
    for o in orders(db, ["delivered"]):
        spend[o["user_id"]] += sum(i["price"] for i in o["items"])
    expected = sorted(spend.items(), key=lambda kv: (-round(kv[1], 2), kv[0]))[:5]
    got = top_customers(store, 5, ["delivered"])
    assert [c.user_id for c in got.rows] == [uid for uid, _ in expected]
    first = db["users"][got.rows[0].user_id]["name"]
    assert got.rows[0].name == f"{first['first_name']} {first['last_name']}"


def test_reports_follow_writes(
    store: Any, rtools: dict[str, Any], find: Any, db: dict[str, Any]
) -> None:
    cards = [
        m
        for u in db["users"].values()
        for m in u["payment_methods"].values()
        if m["source"] == "gift_card"
    ]
    before = gift_card_liability(store)
    assert before.cards == len(cards) == 234
    assert before.total_balance == pytest.approx(sum(m["balance"] for m in cards), abs=0.01)
    order = find.paid_by("pending", "gift_card")
    rtools["cancel_pending_order"].invoke(
        {"order_id": order["order_id"], "reason": "ordered by mistake"}
    )
    assert order_status_counts(store).counts["cancelled"] == 103
    assert gift_card_liability(store).total_balance == pytest.approx(
        before.total_balance + order["payment_history"][0]["amount"], abs=0.01
    )


def test_tools_contracts_read_only_and_injection(store: Any) -> None:
    by_name = {t.name: t for t in tools(store)}
    assert set(by_name) == set(OUTPUT_MODELS)
    digest = store.state_hash()
    for name, tool in by_name.items():
        OUTPUT_MODELS[name].model_validate(tool.invoke({}))  # output contract holds
    evil = by_name["revenue_report"].invoke({"statuses": ["pending' OR '1'='1"]})
    assert evil["orders"] == 0 and evil["revenue"] == 0
    with pytest.raises(ValidationError):
        by_name["top_customers"].invoke({"limit": 0})
    with pytest.raises(ValidationError):
        by_name["revenue_report"].invoke({"statuses": ["x"] * 50})
    assert store.state_hash() == digest and store.write_log() == []
