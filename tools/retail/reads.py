"""The nine τ² retail tools that change nothing: look-ups, ``calculate`` and the transfer.

Each is a plain function ``fn(store, **args)`` plus a pydantic argument model; the toolkit
wraps them as LangChain tools. Behaviour and error messages follow τ²-bench: unknown ids raise
:class:`~tools.retail.store.RetailError` ("User not found", "Order not found", ...).

Example:
    >>> from tools.retail.store import RetailStore
    >>> store = RetailStore("memory:")
    >>> find_user_id_by_email(store, "Noah.Brown7922@example.com")
    'noah_brown_6181'
    >>> calculate(store, "(2 + 3) * 1.5")
    '7.5'
"""

from __future__ import annotations

import ast
import json
import operator
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from tools.retail.args import (
    CalculateArgs,
    EmailArgs,
    ItemIdArgs,
    NameZipArgs,
    NoArgs,
    OrderIdArgs,
    ProductIdArgs,
    SummaryArgs,
    UserIdArgs,
)
from tools.retail.store import RetailError, RetailStore

__all__ = [
    "READS",
    "calculate",
    "find_user_id_by_email",
    "find_user_id_by_name_zip",
    "get_item_details",
    "get_order_details",
    "get_product_details",
    "get_user_details",
    "list_all_product_types",
    "transfer_to_human_agents",
]


def find_user_id_by_email(store: RetailStore, email: str) -> str:
    """The user id whose email matches (case-insensitive)."""
    rows = store.query(
        "SELECT user_id FROM users WHERE email_key = ? ORDER BY rowid LIMIT 1", (email.casefold(),)
    )
    if not rows:
        raise RetailError("User not found")
    return rows[0][0]


def find_user_id_by_name_zip(store: RetailStore, first_name: str, last_name: str, zip: str) -> str:
    """The user id with this first and last name (case-insensitive) and zip (exact)."""
    key = f"{first_name.casefold()}\x1f{last_name.casefold()}"
    rows = store.query(
        "SELECT user_id FROM users WHERE name_key = ? AND zip = ? ORDER BY rowid LIMIT 1",
        (key, zip),
    )
    if not rows:
        raise RetailError("User not found")
    return rows[0][0]


def get_user_details(store: RetailStore, user_id: str) -> dict[str, Any]:
    """The user: name, address, email, payment methods, order ids."""
    return store.get_user(user_id)


def get_order_details(store: RetailStore, order_id: str) -> dict[str, Any]:
    """The order: status, address, items, fulfillments, payment history."""
    return store.get_order(order_id)


def get_product_details(store: RetailStore, product_id: str) -> dict[str, Any]:
    """The product with all its variants (options, availability, price)."""
    return store.get_product(product_id)


def get_item_details(store: RetailStore, item_id: str) -> dict[str, Any]:
    """The variant with this item id, searched over every product."""
    found = store.find_variant(item_id)
    if found is None:
        raise RetailError("Item not found")
    return found[1]


def list_all_product_types(store: RetailStore) -> str:
    """JSON object product name -> product id, keys sorted."""
    rows = store.query("SELECT name, product_id FROM products ORDER BY rowid")
    return json.dumps(dict(rows), sort_keys=True)


_OPS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: operator.pow,
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
            raise RetailError("Invalid expression")  # eval would hang on 9**9**9**9
        return _OPS[type(node.op)](left, right)
    raise RetailError("Invalid expression")


def calculate(store: RetailStore | None, expression: str) -> str:
    """Evaluate arithmetic (digits, ``+-*/().`` and spaces); the result rounded to 2 places.

    Same result as τ²'s ``eval`` for every expression it accepts, but parsed, not executed.
    """
    if not all(char in "0123456789+-*/(). " for char in expression):
        raise RetailError("Invalid characters in expression")
    try:
        value = _eval(ast.parse(expression, mode="eval"))
    except SyntaxError as exc:
        raise RetailError("Invalid expression") from exc
    except ZeroDivisionError as exc:
        raise RetailError("division by zero") from exc
    except (OverflowError, TypeError) as exc:
        raise RetailError("Invalid expression") from exc
    return str(round(float(value), 2))


def transfer_to_human_agents(store: RetailStore | None, summary: str) -> str:
    """Hand the user over to a human agent; changes nothing."""
    return "Transfer successful"


#: name -> (function, argument model, description shown to the model)
READS: dict[str, tuple[Callable[..., Any], type[BaseModel], str]] = {
    "find_user_id_by_email": (
        find_user_id_by_email,
        EmailArgs,
        "Find a user id by email (case-insensitive).",
    ),
    "find_user_id_by_name_zip": (
        find_user_id_by_name_zip,
        NameZipArgs,
        "Find a user id by first name, last name and zip code. Use "
        "only when the user cannot give an email.",
    ),
    "get_user_details": (
        get_user_details,
        UserIdArgs,
        "Get a user's profile, payment methods and order ids.",
    ),
    "get_order_details": (
        get_order_details,
        OrderIdArgs,
        "Get the status and details of an order.",
    ),
    "get_product_details": (
        get_product_details,
        ProductIdArgs,
        "Get a product and all its variant items.",
    ),
    "get_item_details": (get_item_details, ItemIdArgs, "Get the details of one item."),
    "list_all_product_types": (
        list_all_product_types,
        NoArgs,
        "List the name and product id of all 50 product types.",
    ),
    "calculate": (calculate, CalculateArgs, "Calculate an arithmetic expression such as '2 + 2'."),
    "transfer_to_human_agents": (
        transfer_to_human_agents,
        SummaryArgs,
        "Transfer the user to a human agent with a summary of the "
        "issue; only if the request cannot be handled by the tools.",
    ),
}
