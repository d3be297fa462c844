"""τ² retail write tools: one test per rule of the data README (status, refunds, quirk...)."""

from __future__ import annotations

from typing import Any

import pytest

from tools.retail import RetailError

Tools = dict[str, Any]


def unchanged(store: Any, before: str) -> None:
    assert store.state_hash() == before
    assert [r for r in store.write_log() if r["tool"] != "setup"] == []


def set_balance(store: Any, user_id: str, method_id: str, balance: float) -> None:
    with store.write("setup", user_id, None) as tx:
        user = tx.user(user_id)
        user["payment_methods"][method_id]["balance"] = balance
        tx.save_user(user)


def balance(store: Any, user_id: str, method_id: str) -> float:
    return store.get_user(user_id)["payment_methods"][method_id]["balance"]


def alternative(find: Any, item: dict[str, Any], *, cheaper: bool | None = None) -> dict[str, Any]:
    """An available variant of the item's product other than the item itself."""
    for variant in find.product(item["product_id"])["variants"].values():
        if variant["item_id"] == item["item_id"] or not variant["available"]:
            continue
        if cheaper is None or (variant["price"] < item["price"]) == cheaper:
            return variant
    raise LookupError("no alternative variant")


def item_modified_order(rtools: Tools, find: Any) -> dict[str, Any]:
    """A pending PayPal order whose first item was swapped (status 'pending (item modified)')."""
    order = find.paid_by("pending", "paypal")
    item = order["items"][0]
    rtools["modify_pending_order_items"].invoke(
        {
            "order_id": order["order_id"],
            "item_ids": [item["item_id"]],
            "new_item_ids": [alternative(find, item)["item_id"]],
            "payment_method_id": order["payment_history"][0]["payment_method_id"],
        }
    )
    return order


# -- cancel ----------------------------------------------------------------------------------
@pytest.mark.parametrize("reason", ["no longer needed", "ordered by mistake"])
def test_cancel_refunds_gift_card_at_once(
    rtools: Tools, store: Any, find: Any, reason: str
) -> None:
    order = find.paid_by("pending", "gift_card")
    pay = order["payment_history"][0]
    old = balance(store, order["user_id"], pay["payment_method_id"])
    out = rtools["cancel_pending_order"].invoke({"order_id": order["order_id"], "reason": reason})
    assert out["status"] == "cancelled" and out["cancel_reason"] == reason
    assert out["payment_history"] == [pay, {**pay, "transaction_type": "refund"}]
    assert balance(store, order["user_id"], pay["payment_method_id"]) == round(
        old + pay["amount"], 2
    )
    assert store.get_order(order["order_id"]) == out


def test_cancel_refund_to_card_changes_no_balance(rtools: Tools, store: Any, find: Any) -> None:
    order = find.paid_by("pending", "credit_card")
    user_before = store.get_user(order["user_id"])
    out = rtools["cancel_pending_order"].invoke(
        {"order_id": order["order_id"], "reason": "no longer needed"}
    )
    assert out["payment_history"][-1]["transaction_type"] == "refund"
    assert store.get_user(order["user_id"]) == user_before


@pytest.mark.parametrize("status", ["processed", "delivered", "cancelled"])
def test_cancel_needs_exactly_pending(rtools: Tools, store: Any, find: Any, status: str) -> None:
    order = find.order(lambda o: o["status"] == status)
    before = store.state_hash()
    with pytest.raises(RetailError, match=r"^Non-pending order cannot be cancelled$"):
        rtools["cancel_pending_order"].invoke(
            {"order_id": order["order_id"], "reason": "no longer needed"}
        )
    unchanged(store, before)


def test_cancel_other_reason_refused(rtools: Tools, store: Any, find: Any) -> None:
    order = find.paid_by("pending", "paypal")
    before = store.state_hash()
    with pytest.raises(RetailError, match=r"^Invalid reason$"):
        rtools["cancel_pending_order"].invoke({"order_id": order["order_id"], "reason": "too slow"})
    unchanged(store, before)


def test_cancel_after_item_modification_refused(rtools: Tools, store: Any, find: Any) -> None:
    order = item_modified_order(rtools, find)
    with pytest.raises(RetailError, match=r"Non-pending order cannot be cancelled"):
        rtools["cancel_pending_order"].invoke(
            {"order_id": order["order_id"], "reason": "no longer needed"}
        )


# -- modify address ---------------------------------------------------------------------------
ADDRESS = {
    "address1": "1 New St",
    "address2": "",
    "city": "Austin",
    "state": "TX",
    "country": "USA",
    "zip": "78701",
}


def test_modify_address_while_status_contains_pending(rtools: Tools, store: Any, find: Any) -> None:
    order = item_modified_order(rtools, find)
    out = rtools["modify_pending_order_address"].invoke({"order_id": order["order_id"], **ADDRESS})
    assert out["status"] == "pending (item modified)" and out["address"] == ADDRESS
    # payment changes also pass the status check ("contains pending") but the history now
    # holds the payment and the price-difference entry, so the next rule refuses
    with pytest.raises(RetailError, match=r"^There should be exactly one payment"):
        other = next(iter(find.user(order)["payment_methods"]))
        rtools["modify_pending_order_payment"].invoke(
            {"order_id": order["order_id"], "payment_method_id": other}
        )
    processed = find.order(lambda o: o["status"] == "processed")
    with pytest.raises(RetailError, match=r"^Non-pending order cannot be modified$"):
        rtools["modify_pending_order_address"].invoke(
            {"order_id": processed["order_id"], **ADDRESS}
        )


def test_modify_user_address_and_find_by_new_zip(rtools: Tools, store: Any, find: Any) -> None:
    user = next(iter(find.db["users"].values()))
    out = rtools["modify_user_address"].invoke({"user_id": user["user_id"], **ADDRESS})
    assert out["address"] == ADDRESS
    found = rtools["find_user_id_by_name_zip"].invoke(
        {
            "first_name": user["name"]["first_name"],
            "last_name": user["name"]["last_name"],
            "zip": "78701",
        }
    )
    assert found == user["user_id"]
    with pytest.raises(RetailError, match=r"^User not found$"):
        rtools["modify_user_address"].invoke({"user_id": "nobody_1", **ADDRESS})


# -- modify payment ---------------------------------------------------------------------------
def test_modify_payment_moves_gift_card_balances(rtools: Tools, store: Any, find: Any) -> None:
    order = find.paid_by(
        "pending",
        "gift_card",
        pred=lambda o: len(find.methods(o, "gift_card")) == 1 and find.methods(o, "credit_card"),
    )
    pay = order["payment_history"][0]
    card = find.methods(order, "credit_card")[0]["id"]
    uid, gift = order["user_id"], pay["payment_method_id"]
    old = balance(store, uid, gift)
    out = rtools["modify_pending_order_payment"].invoke(
        {"order_id": order["order_id"], "payment_method_id": card}
    )
    assert out["payment_history"] == [
        pay,
        {"transaction_type": "payment", "amount": pay["amount"], "payment_method_id": card},
        {"transaction_type": "refund", "amount": pay["amount"], "payment_method_id": gift},
    ]
    assert balance(store, uid, gift) == round(old + pay["amount"], 2)
    # now two payments: a second change is refused
    with pytest.raises(RetailError, match=r"exactly one payment"):
        rtools["modify_pending_order_payment"].invoke(
            {"order_id": order["order_id"], "payment_method_id": gift}
        )


def test_modify_payment_to_gift_card_debits_and_needs_cover(
    rtools: Tools, store: Any, find: Any
) -> None:
    order = find.paid_by("pending", "credit_card", pred=lambda o: find.methods(o, "gift_card"))
    uid, gift = order["user_id"], find.methods(order, "gift_card")[0]["id"]
    amount = order["payment_history"][0]["amount"]
    set_balance(store, uid, gift, amount - 0.01)
    before = store.state_hash()
    args = {"order_id": order["order_id"], "payment_method_id": gift}
    with pytest.raises(RetailError, match=r"^Insufficient gift card balance to pay for the order$"):
        rtools["modify_pending_order_payment"].invoke(args)
    unchanged(store, before)
    set_balance(store, uid, gift, amount + 5)
    rtools["modify_pending_order_payment"].invoke(args)
    assert balance(store, uid, gift) == 5.0


def test_modify_payment_same_or_unknown_method(rtools: Tools, store: Any, find: Any) -> None:
    order = find.paid_by("pending", "paypal")
    current = order["payment_history"][0]["payment_method_id"]
    with pytest.raises(RetailError, match=r"should be different from the current one"):
        rtools["modify_pending_order_payment"].invoke(
            {"order_id": order["order_id"], "payment_method_id": current}
        )
    with pytest.raises(RetailError, match=r"^Payment method not found$"):
        rtools["modify_pending_order_payment"].invoke(
            {"order_id": order["order_id"], "payment_method_id": "gift_card_0000000"}
        )
    delivered = find.order(lambda o: o["status"] == "delivered")
    with pytest.raises(RetailError, match=r"Non-pending order cannot be modified"):
        rtools["modify_pending_order_payment"].invoke(
            {"order_id": delivered["order_id"], "payment_method_id": current}
        )
