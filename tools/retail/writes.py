"""The seven τ² retail tools that change the store, each one SQLite transaction.

Each function ``fn(store, effect_key, **args)`` opens :meth:`RetailStore.write` (``BEGIN
IMMEDIATE``), reads the records, checks τ²'s rules in τ²'s order (so the first broken rule
gives τ²'s message), saves the changed records and appends the write-log row, then commits.
A :class:`~tools.retail.store.RetailError` rolls everything back: the call changed nothing.

Money is rounded to 2 decimals. ``modify_pending_order_items`` reproduces the quirk of the
reference implementation: every modified item takes the new item id but the price and
options of the *last* new variant in the list.

Example:
    >>> from tools.retail.store import RetailStore
    >>> store = RetailStore("memory:")
    >>> order = cancel_pending_order(store, None, "#W6779827", "no longer needed")
    >>> order["status"], len(store.write_log(tool="cancel_pending_order"))
    ('cancelled', 1)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from tools.retail.args import (
    CancelArgs,
    ExchangeItemsArgs,
    ModifyItemsArgs,
    OrderAddressArgs,
    PaymentArgs,
    ReturnItemsArgs,
    UserAddressArgs,
)
from tools.retail.store import RetailError, RetailStore, Tx

__all__ = [
    "WRITES",
    "cancel_pending_order",
    "exchange_delivered_order_items",
    "modify_pending_order_address",
    "modify_pending_order_items",
    "modify_pending_order_payment",
    "modify_user_address",
    "return_delivered_order_items",
]


def _logged(frame: dict[str, Any]) -> dict[str, Any]:
    """The tool arguments of a write function (its locals minus store and effect key)."""
    return {k: v for k, v in frame.items() if k not in ("store", "effect_key")}


def _is_gift_card(method: dict[str, Any]) -> bool:
    return method.get("source") == "gift_card"


def _add_to_gift_card(method: dict[str, Any], amount: float) -> None:
    """Credit (or, with a negative amount, debit) a gift card; other methods are untouched."""
    if _is_gift_card(method):
        method["balance"] = round(method["balance"] + amount, 2)


def _transaction(kind: str, amount: float, payment_method_id: str) -> dict[str, Any]:
    """A ``payment_history`` entry (``kind`` is ``payment`` or ``refund``)."""
    return {"transaction_type": kind, "amount": amount, "payment_method_id": payment_method_id}


_ADDRESS_FIELDS = ("address1", "address2", "city", "state", "country", "zip")


def _address(args: dict[str, Any]) -> dict[str, Any]:
    """The address fields of a write's arguments, in τ²'s key order."""
    return {name: args[name] for name in _ADDRESS_FIELDS}


def _method(user: dict[str, Any], payment_method_id: str) -> dict[str, Any]:
    method = user["payment_methods"].get(payment_method_id)
    if method is None:
        raise RetailError("Payment method not found")
    return method


def _save(
    tx: Tx,
    order: dict[str, Any] | None,
    user: dict[str, Any] | None,
    user_before: dict[str, Any] | None,
) -> None:
    if order is not None:
        tx.save_order(order)
    if user is not None and user != user_before:
        tx.save_user(user)


def _check_items(order: dict[str, Any], item_ids: list[str], message: Callable[[str], str]) -> None:
    present = [item["item_id"] for item in order["items"]]
    for item_id in item_ids:
        if item_ids.count(item_id) > present.count(item_id):
            raise RetailError(message(item_id))


def _price_difference(
    tx: Tx,
    order: dict[str, Any],
    item_ids: list[str],
    new_item_ids: list[str],
    *,
    modify: bool,
) -> tuple[float, dict[str, Any] | None]:
    """Sum of new minus old prices, and the last new variant (for the modify quirk)."""
    diff, variant = 0.0, None
    for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
        if modify and item_id == new_item_id:
            raise RetailError("The new item id should be different from the old item id")
        item = next((i for i in order["items"] if i["item_id"] == item_id), None)
        if item is None:
            raise RetailError(f"Item {item_id} not found")
        variant = tx.store.get_product(item["product_id"])["variants"].get(new_item_id)
        if variant is None:
            raise RetailError("Variant not found")
        if not variant["available"]:
            raise RetailError(f"New item {new_item_id} not found or available")
        diff += variant["price"] - item["price"]
    return round(diff, 2), variant


def cancel_pending_order(
    store: RetailStore, effect_key: str | None, order_id: str, reason: str
) -> dict[str, Any]:
    """Cancel a ``pending`` order; refund every payment (gift cards at once)."""
    with store.write("cancel_pending_order", order_id, effect_key, _logged(locals())) as tx:
        order = tx.order(order_id)
        if order["status"] != "pending":
            raise RetailError("Non-pending order cannot be cancelled")
        if reason not in {"no longer needed", "ordered by mistake"}:
            raise RetailError("Invalid reason")
        user = tx.user(order["user_id"])
        before = copy.deepcopy(user)
        refunds = []
        for payment in order["payment_history"]:
            method = _method(user, payment["payment_method_id"])
            refunds.append(_transaction("refund", payment["amount"], payment["payment_method_id"]))
            _add_to_gift_card(method, payment["amount"])
        order["status"] = "cancelled"
        order["cancel_reason"] = reason
        order["payment_history"].extend(refunds)
        _save(tx, order, user, before)
        return order


def modify_pending_order_address(
    store: RetailStore,
    effect_key: str | None,
    order_id: str,
    address1: str,
    address2: str,
    city: str,
    state: str,
    country: str,
    zip: str,
) -> dict[str, Any]:
    """Replace the shipping address of an order whose status contains ``pending``."""
    args = _logged(locals())
    with store.write("modify_pending_order_address", order_id, effect_key, args) as tx:
        order = tx.order(order_id)
        if "pending" not in order["status"]:
            raise RetailError("Non-pending order cannot be modified")
        order["address"] = _address(args)
        tx.save_order(order)
        return order


def modify_pending_order_payment(
    store: RetailStore, effect_key: str | None, order_id: str, payment_method_id: str
) -> dict[str, Any]:
    """Pay a pending order with another method: new payment, refund of the old one."""
    with store.write("modify_pending_order_payment", order_id, effect_key, _logged(locals())) as tx:
        order = tx.order(order_id)
        if "pending" not in order["status"]:
            raise RetailError("Non-pending order cannot be modified")
        user = tx.user(order["user_id"])
        before = copy.deepcopy(user)
        method = _method(user, payment_method_id)
        history = order["payment_history"]
        if len(history) != 1 or history[0]["transaction_type"] != "payment":
            raise RetailError("There should be exactly one payment for a pending order")
        old_id = history[0]["payment_method_id"]
        if old_id == payment_method_id:
            raise RetailError("The new payment method should be different from the current one")
        amount = history[0]["amount"]
        if _is_gift_card(method) and method["balance"] < amount:
            raise RetailError("Insufficient gift card balance to pay for the order")
        history.append(_transaction("payment", amount, payment_method_id))
        history.append(_transaction("refund", amount, old_id))
        _add_to_gift_card(method, -amount)
        _add_to_gift_card(_method(user, old_id), amount)
        _save(tx, order, user, before)
        return order


def modify_pending_order_items(
    store: RetailStore,
    effect_key: str | None,
    order_id: str,
    item_ids: list[str],
    new_item_ids: list[str],
    payment_method_id: str,
) -> dict[str, Any]:
    """Swap items of a ``pending`` order for other variants; charge or refund the difference."""
    with store.write("modify_pending_order_items", order_id, effect_key, _logged(locals())) as tx:
        order = tx.order(order_id)
        if order["status"] != "pending":
            raise RetailError("Non-pending order cannot be modified")
        _check_items(order, item_ids, lambda item_id: f"{item_id} not found")
        if len(item_ids) != len(new_item_ids):
            raise RetailError("The number of items to be exchanged should match")
        diff, variant = _price_difference(tx, order, item_ids, new_item_ids, modify=True)
        user = tx.user(order["user_id"])
        before = copy.deepcopy(user)
        method = _method(user, payment_method_id)
        if _is_gift_card(method) and method["balance"] < diff:
            raise RetailError("Insufficient gift card balance to pay for the new item")
        order["payment_history"].append(
            _transaction("payment" if diff > 0 else "refund", abs(diff), payment_method_id)
        )
        _add_to_gift_card(method, -diff)
        for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
            item = next(i for i in order["items"] if i["item_id"] == item_id)
            item["item_id"] = new_item_id
            assert variant is not None  # item_ids is not empty here
            item["price"] = variant["price"]  # τ² quirk: the LAST new variant's price ...
            item["options"] = copy.deepcopy(variant["options"])  # ... and options
        order["status"] = "pending (item modified)"
        _save(tx, order, user, before)
        return order


def return_delivered_order_items(
    store: RetailStore,
    effect_key: str | None,
    order_id: str,
    item_ids: list[str],
    payment_method_id: str,
) -> dict[str, Any]:
    """Request the return of items of a ``delivered`` order."""
    with store.write("return_delivered_order_items", order_id, effect_key, _logged(locals())) as tx:
        order = tx.order(order_id)
        if order["status"] != "delivered":
            raise RetailError("Non-delivered order cannot be returned")
        method = _method(tx.user(order["user_id"]), payment_method_id)
        if (
            not _is_gift_card(method)
            and payment_method_id != order["payment_history"][0]["payment_method_id"]
        ):
            raise RetailError("Payment method should be the original payment method")
        _check_items(order, item_ids, lambda _: "Some item not found")
        order["status"] = "return requested"
        order["return_items"] = sorted(item_ids)
        order["return_payment_method_id"] = payment_method_id
        tx.save_order(order)
        return order


def exchange_delivered_order_items(
    store: RetailStore,
    effect_key: str | None,
    order_id: str,
    item_ids: list[str],
    new_item_ids: list[str],
    payment_method_id: str,
) -> dict[str, Any]:
    """Request the exchange of items of a ``delivered`` order; nothing is charged yet."""
    with store.write(
        "exchange_delivered_order_items", order_id, effect_key, _logged(locals())
    ) as tx:
        order = tx.order(order_id)
        if order["status"] != "delivered":
            raise RetailError("Non-delivered order cannot be exchanged")
        _check_items(order, item_ids, lambda item_id: f"Number of {item_id} not found.")
        if len(item_ids) != len(new_item_ids):
            raise RetailError("The number of items to be exchanged should match.")
        diff, _ = _price_difference(tx, order, item_ids, new_item_ids, modify=False)
        method = _method(tx.user(order["user_id"]), payment_method_id)
        if _is_gift_card(method) and method["balance"] < diff:
            raise RetailError("Insufficient gift card balance to pay for the price difference")
        order["status"] = "exchange requested"
        order["exchange_items"] = sorted(item_ids)
        order["exchange_new_items"] = sorted(new_item_ids)
        order["exchange_payment_method_id"] = payment_method_id
        order["exchange_price_difference"] = diff
        tx.save_order(order)
        return order


def modify_user_address(
    store: RetailStore,
    effect_key: str | None,
    user_id: str,
    address1: str,
    address2: str,
    city: str,
    state: str,
    country: str,
    zip: str,
) -> dict[str, Any]:
    """Replace the user's default address."""
    args = _logged(locals())
    with store.write("modify_user_address", user_id, effect_key, args) as tx:
        user = tx.user(user_id)
        user["address"] = _address(args)
        tx.save_user(user)
        return user


#: name -> (function, argument model, business-key argument, description)
WRITES: dict[str, tuple[Callable[..., dict[str, Any]], type[BaseModel], str, str]] = {
    "cancel_pending_order": (
        cancel_pending_order,
        CancelArgs,
        "order_id",
        (
            "Cancel a pending order (reason 'no longer needed' or 'ordered by mistake'); every "
            "payment is refunded, to a gift card at once. Needs explicit user confirmation."
        ),
    ),
    "modify_pending_order_address": (
        modify_pending_order_address,
        OrderAddressArgs,
        "order_id",
        "Change the shipping address of a pending order. Needs explicit user confirmation.",
    ),
    "modify_pending_order_payment": (
        modify_pending_order_payment,
        PaymentArgs,
        "order_id",
        (
            "Pay a pending order with another single payment method (a gift card must cover the "
            "total). Needs explicit user confirmation."
        ),
    ),
    "modify_pending_order_items": (
        modify_pending_order_items,
        ModifyItemsArgs,
        "order_id",
        (
            "Modify items of a pending order to other available variants of the same product; "
            "callable once per order. Needs explicit user confirmation."
        ),
    ),
    "return_delivered_order_items": (
        return_delivered_order_items,
        ReturnItemsArgs,
        "order_id",
        (
            "Request the return of items of a delivered order; the refund goes to the original "
            "payment method or a gift card. Needs explicit user confirmation."
        ),
    ),
    "exchange_delivered_order_items": (
        exchange_delivered_order_items,
        ExchangeItemsArgs,
        "order_id",
        (
            "Exchange items of a delivered order for other available variants of the same "
            "product; callable once per order. Needs explicit user confirmation."
        ),
    ),
    "modify_user_address": (
        modify_user_address,
        UserAddressArgs,
        "user_id",
        "Change the user's default address. Needs explicit user confirmation.",
    ),
}
