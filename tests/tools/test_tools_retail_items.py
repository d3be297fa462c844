"""τ² retail item rules: modify pending items (incl. the last-variant quirk), return, exchange."""

from __future__ import annotations

from typing import Any

import pytest

from tools.retail import RetailError

Tools = dict[str, Any]


def alternative(find: Any, item: dict[str, Any], *, exclude: tuple[str, ...] = ()) -> Any:
    for variant in find.product(item["product_id"])["variants"].values():
        if variant["available"] and variant["item_id"] not in (item["item_id"], *exclude):
            return variant
    return None


def unavailable(find: Any, item: dict[str, Any]) -> Any:
    for variant in find.product(item["product_id"])["variants"].values():
        if not variant["available"]:
            return variant
    return None


def two_item_order(find: Any, status: str, source: str) -> tuple[dict[str, Any], list[Any]]:
    """An order with two items of different products, each with an alternative variant whose
    prices differ (so the last-variant quirk is visible)."""

    def ok(o: dict[str, Any]) -> bool:
        items = o["items"]
        if len(items) < 2 or items[0]["product_id"] == items[1]["product_id"]:
            return False
        alts = [alternative(find, i) for i in items[:2]]
        return all(alts) and alts[0]["price"] != alts[1]["price"]

    order = find.paid_by(status, source, pred=ok)
    return order, [alternative(find, i) for i in order["items"][:2]]


def set_balance(store: Any, user_id: str, method_id: str, value: float) -> None:
    with store.write("setup", user_id, None) as tx:
        user = tx.user(user_id)
        user["payment_methods"][method_id]["balance"] = value
        tx.save_user(user)


# -- modify pending order items ---------------------------------------------------------------
def test_modify_items_quirk_last_variant_price_and_options(
    rtools: Tools, store: Any, find: Any
) -> None:
    order, alts = two_item_order(find, "pending", "paypal")
    items = order["items"][:2]
    method = order["payment_history"][0]["payment_method_id"]
    out = rtools["modify_pending_order_items"].invoke(
        {
            "order_id": order["order_id"],
            "item_ids": [i["item_id"] for i in items],
            "new_item_ids": [a["item_id"] for a in alts],
            "payment_method_id": method,
        }
    )
    diff = round(sum(a["price"] for a in alts) - sum(i["price"] for i in items), 2)
    assert out["status"] == "pending (item modified)"
    assert out["payment_history"][-1] == {
        "transaction_type": "payment" if diff > 0 else "refund",
        "amount": abs(diff),
        "payment_method_id": method,
    }
    new = out["items"][:2]
    assert [i["item_id"] for i in new] == [a["item_id"] for a in alts]
    # the quirk: both items carry the LAST new variant's price and options
    assert [i["price"] for i in new] == [alts[1]["price"]] * 2
    assert [i["options"] for i in new] == [alts[1]["options"]] * 2
    assert out["items"][2:] == order["items"][2:]


def test_modify_items_gift_card_balance_moves_by_difference(
    rtools: Tools, store: Any, find: Any
) -> None:
    order = find.paid_by(
        "pending", "gift_card", pred=lambda o: any(alternative(find, i) for i in o["items"])
    )
    item = next(i for i in order["items"] if alternative(find, i))
    alt = alternative(find, item)
    gift = order["payment_history"][0]["payment_method_id"]
    diff = round(alt["price"] - item["price"], 2)
    if diff > 0:  # must cover a positive difference: first too little, then enough
        set_balance(store, order["user_id"], gift, diff - 0.01)
        with pytest.raises(
            RetailError, match=r"^Insufficient gift card balance to pay for the new item$"
        ):
            rtools["modify_pending_order_items"].invoke(
                {
                    "order_id": order["order_id"],
                    "item_ids": [item["item_id"]],
                    "new_item_ids": [alt["item_id"]],
                    "payment_method_id": gift,
                }
            )
        set_balance(store, order["user_id"], gift, diff + 10)
    start = store.get_user(order["user_id"])["payment_methods"][gift]["balance"]
    rtools["modify_pending_order_items"].invoke(
        {
            "order_id": order["order_id"],
            "item_ids": [item["item_id"]],
            "new_item_ids": [alt["item_id"]],
            "payment_method_id": gift,
        }
    )
    end = store.get_user(order["user_id"])["payment_methods"][gift]["balance"]
    assert end == round(start - diff, 2)


def test_modify_items_rules(rtools: Tools, store: Any, find: Any) -> None:
    order = find.paid_by(
        "pending",
        "credit_card",
        pred=lambda o: any(alternative(find, i) and unavailable(find, i) for i in o["items"]),
    )
    item = next(i for i in order["items"] if alternative(find, i) and unavailable(find, i))
    method = order["payment_history"][0]["payment_method_id"]
    before = store.state_hash()

    def call(item_ids: list[str], new_ids: list[str], pm: str = method) -> None:
        rtools["modify_pending_order_items"].invoke(
            {
                "order_id": order["order_id"],
                "item_ids": item_ids,
                "new_item_ids": new_ids,
                "payment_method_id": pm,
            }
        )

    alt = alternative(find, item)["item_id"]
    count = [i["item_id"] for i in order["items"]].count(item["item_id"])
    with pytest.raises(RetailError, match=f"^{item['item_id']} not found$"):
        call([item["item_id"]] * (count + 1), [alt] * (count + 1))  # duplicates are counted
    with pytest.raises(RetailError, match=r"^1234567890 not found$"):
        call(["1234567890"], [alt])
    with pytest.raises(RetailError, match=r"The number of items to be exchanged should match"):
        call([item["item_id"]], [alt, alt])
    with pytest.raises(RetailError, match=r"should be different from the old item id"):
        call([item["item_id"]], [item["item_id"]])
    other = next(p for p in find.db["products"].values() if p["product_id"] != item["product_id"])
    with pytest.raises(RetailError, match=r"^Variant not found$"):  # no change of product type
        call([item["item_id"]], [next(iter(other["variants"]))])
    gone = unavailable(find, item)["item_id"]
    with pytest.raises(RetailError, match=f"^New item {gone} not found or available$"):
        call([item["item_id"]], [gone])
    with pytest.raises(RetailError, match=r"^Payment method not found$"):
        call([item["item_id"]], [alt], "paypal_0000000")
    assert store.state_hash() == before and store.write_log() == []
    call([item["item_id"]], [alt])
    with pytest.raises(RetailError, match=r"Non-pending order cannot be modified"):  # only once
        call([alt], [item["item_id"]])


# -- return -----------------------------------------------------------------------------------
def test_return_to_original_method_or_any_gift_card(rtools: Tools, store: Any, find: Any) -> None:
    order = find.paid_by(
        "delivered",
        "credit_card",
        pred=lambda o: (
            len(o["items"]) >= 2
            and find.methods(o, "gift_card")
            and len(find.methods(o, "credit_card")) + len(find.methods(o, "paypal")) >= 2
        ),
    )
    original = order["payment_history"][0]["payment_method_id"]
    other = next(
        m["id"]
        for m in find.user(order)["payment_methods"].values()
        if m["source"] != "gift_card" and m["id"] != original
    )
    gift = find.methods(order, "gift_card")[0]["id"]
    ids = [order["items"][1]["item_id"], order["items"][0]["item_id"]]
    args = {"order_id": order["order_id"], "item_ids": ids}
    before = store.state_hash()
    with pytest.raises(RetailError, match=r"^Payment method should be the original payment method"):
        rtools["return_delivered_order_items"].invoke({**args, "payment_method_id": other})
    with pytest.raises(RetailError, match=r"^Some item not found$"):
        rtools["return_delivered_order_items"].invoke(
            {**args, "item_ids": [*ids, ids[0], ids[0], ids[0]], "payment_method_id": gift}
        )
    assert store.state_hash() == before
    out = rtools["return_delivered_order_items"].invoke({**args, "payment_method_id": gift})
    assert out["status"] == "return requested"
    assert out["return_items"] == sorted(ids) and out["return_payment_method_id"] == gift
    assert out["payment_history"] == order["payment_history"]  # no refund yet
    with pytest.raises(RetailError, match=r"^Non-delivered order cannot be returned$"):
        rtools["return_delivered_order_items"].invoke({**args, "payment_method_id": original})


# -- exchange ---------------------------------------------------------------------------------
def test_exchange_sets_request_and_charges_nothing(rtools: Tools, store: Any, find: Any) -> None:
    order, alts = two_item_order(find, "delivered", "gift_card")
    items = order["items"][:2]
    gift = order["payment_history"][0]["payment_method_id"]
    user_before = store.get_user(order["user_id"])
    diff = round(sum(a["price"] for a in alts) - sum(i["price"] for i in items), 2)
    # a new id may equal the old one in an exchange
    new_ids = [alts[0]["item_id"], items[1]["item_id"]]
    diff = round(alts[0]["price"] - items[0]["price"], 2)
    out = rtools["exchange_delivered_order_items"].invoke(
        {
            "order_id": order["order_id"],
            "item_ids": [i["item_id"] for i in items],
            "new_item_ids": new_ids,
            "payment_method_id": gift,
        }
    )
    assert out["status"] == "exchange requested"
    assert out["exchange_items"] == sorted(i["item_id"] for i in items)
    assert out["exchange_new_items"] == sorted(new_ids)
    assert out["exchange_payment_method_id"] == gift
    assert out["exchange_price_difference"] == diff
    assert out["items"] == order["items"] and out["payment_history"] == order["payment_history"]
    assert store.get_user(order["user_id"]) == user_before
    with pytest.raises(RetailError, match=r"^Non-delivered order cannot be exchanged$"):
        rtools["exchange_delivered_order_items"].invoke(
            {
                "order_id": order["order_id"],
                "item_ids": [items[0]["item_id"]],
                "new_item_ids": [alts[0]["item_id"]],
                "payment_method_id": gift,
            }
        )


def test_exchange_item_and_gift_card_rules(rtools: Tools, store: Any, find: Any) -> None:
    def dearer(o: dict[str, Any]) -> bool:
        return any(
            alternative(find, i) and alternative(find, i)["price"] > i["price"] for i in o["items"]
        )

    order = find.paid_by("delivered", "gift_card", pred=dearer)
    item = next(
        i
        for i in order["items"]
        if alternative(find, i) and alternative(find, i)["price"] > i["price"]
    )
    alt = alternative(find, item)
    gift = order["payment_history"][0]["payment_method_id"]
    diff = round(alt["price"] - item["price"], 2)
    set_balance(store, order["user_id"], gift, diff - 0.01)
    before = store.state_hash()
    args = {
        "order_id": order["order_id"],
        "item_ids": [item["item_id"]],
        "new_item_ids": [alt["item_id"]],
        "payment_method_id": gift,
    }
    tool = rtools["exchange_delivered_order_items"]
    with pytest.raises(RetailError, match=r"^Insufficient gift card balance to pay for the price"):
        tool.invoke(args)
    with pytest.raises(RetailError, match=f"^Number of {item['item_id']} not found.$"):
        tool.invoke({**args, "item_ids": [item["item_id"]] * 9, "new_item_ids": [alt["item_id"]]})
    with pytest.raises(RetailError, match=r"^The number of items to be exchanged should match\.$"):
        tool.invoke({**args, "new_item_ids": []})
    assert store.state_hash() == before
    set_balance(store, order["user_id"], gift, diff)  # exactly enough
    assert tool.invoke(args)["exchange_price_difference"] == diff
    # nothing charged yet: the balance is untouched
    assert store.get_user(order["user_id"])["payment_methods"][gift]["balance"] == diff
