"""τ² retail read tools: look-ups, case rules, unknown ids, calculate's characters."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tools.retail import RetailError


def test_email_lookup_is_case_insensitive(rtools: dict[str, Any], db: dict[str, Any]) -> None:
    user = next(iter(db["users"].values()))
    find = rtools["find_user_id_by_email"]
    assert find.invoke({"email": user["email"]}) == user["user_id"]
    assert find.invoke({"email": user["email"].upper()}) == user["user_id"]
    with pytest.raises(RetailError, match=r"^User not found$"):
        find.invoke({"email": "nobody@example.com"})


def test_name_zip_lookup_names_fold_zip_exact(rtools: dict[str, Any], db: dict[str, Any]) -> None:
    user = next(iter(db["users"].values()))
    first, last = user["name"]["first_name"], user["name"]["last_name"]
    zip_code = user["address"]["zip"]
    find = rtools["find_user_id_by_name_zip"]
    args = {"first_name": first.lower(), "last_name": last.upper(), "zip": zip_code}
    assert find.invoke(args) == user["user_id"]
    with pytest.raises(RetailError, match=r"User not found"):
        find.invoke({**args, "zip": zip_code + " "})
    with pytest.raises(RetailError, match=r"User not found"):
        find.invoke({**args, "zip": "00000"})


@pytest.mark.parametrize(
    ("tool", "arg", "message"),
    [
        ("get_user_details", "user_id", "User not found"),
        ("get_order_details", "order_id", "Order not found"),
        ("get_product_details", "product_id", "Product not found"),
        ("get_item_details", "item_id", "Item not found"),
    ],
)
def test_unknown_ids_are_domain_errors(
    rtools: dict[str, Any], tool: str, arg: str, message: str
) -> None:
    with pytest.raises(RetailError, match=f"^{message}$"):
        rtools[tool].invoke({arg: "#W0000000"})


def test_details_match_db_json(rtools: dict[str, Any], db: dict[str, Any]) -> None:
    order = next(iter(db["orders"].values()))
    user = db["users"][order["user_id"]]
    product = db["products"][order["items"][0]["product_id"]]
    assert rtools["get_order_details"].invoke({"order_id": order["order_id"]}) == order
    assert rtools["get_user_details"].invoke({"user_id": user["user_id"]}) == user
    got = rtools["get_product_details"].invoke({"product_id": product["product_id"]})
    assert got == product
    assert list(got["variants"]) == list(product["variants"])  # variant order kept
    item_id = next(iter(product["variants"]))
    assert rtools["get_item_details"].invoke({"item_id": item_id}) == product["variants"][item_id]


def test_product_id_is_not_an_item_id(rtools: dict[str, Any], db: dict[str, Any]) -> None:
    product_id = next(iter(db["products"]))
    with pytest.raises(RetailError, match=r"Item not found"):
        rtools["get_item_details"].invoke({"item_id": product_id})


def test_list_all_product_types_sorted(rtools: dict[str, Any], db: dict[str, Any]) -> None:
    text = rtools["list_all_product_types"].invoke({})
    mapping = json.loads(text)
    assert len(mapping) == 50
    assert list(mapping) == sorted(mapping)
    assert mapping == {p["name"]: p["product_id"] for p in db["products"].values()}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2 + 2", "4.0"),
        ("(1.234 + 2) * 3", "9.7"),
        ("10 / 3", "3.33"),
        ("-5 + 2", "-3.0"),
        ("2 ** 10", "1024.0"),
        ("7 // 2", "3.0"),
        ("1249.98 - 1000.50", "249.48"),
    ],
)
def test_calculate_matches_eval(rtools: dict[str, Any], expression: str, expected: str) -> None:
    assert rtools["calculate"].invoke({"expression": expression}) == expected
    assert expected == str(round(float(eval(expression)), 2))  # τ²'s own definition


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os')", "Invalid characters in expression"),
        ("2 + x", "Invalid characters in expression"),
        ("1e3", "Invalid characters in expression"),
        ("2 % 3", "Invalid characters in expression"),
        ("(2 + ", "Invalid expression"),
        ("1 / 0", "division by zero"),
        ("9 ** 9 ** 9 ** 9", "Invalid expression"),
    ],
)
def test_calculate_rejects(rtools: dict[str, Any], expression: str, message: str) -> None:
    with pytest.raises(RetailError, match=message):
        rtools["calculate"].invoke({"expression": expression})


def test_transfer_changes_nothing(rtools: dict[str, Any], store: Any) -> None:
    before = store.state_hash()
    assert rtools["transfer_to_human_agents"].invoke({"summary": "wants a human"}) == (
        "Transfer successful"
    )
    assert store.state_hash() == before
    assert store.write_log() == []
