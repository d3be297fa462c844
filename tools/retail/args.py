"""Argument contracts of the 16 retail tools (pydantic models, ``extra="forbid"``).

Limits on lengths keep oversized arguments out before a tool runs; ids are not
pattern-checked, so an unknown id reaches the tool and gets τ²'s "... not found" error.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AddressArgs",
    "CalculateArgs",
    "CancelArgs",
    "EmailArgs",
    "ExchangeItemsArgs",
    "ItemIdArgs",
    "ModifyItemsArgs",
    "NameZipArgs",
    "NoArgs",
    "OrderAddressArgs",
    "OrderIdArgs",
    "PaymentArgs",
    "ProductIdArgs",
    "ReturnItemsArgs",
    "SummaryArgs",
    "UserAddressArgs",
    "UserIdArgs",
]

ID = 64  # longest id accepted (contract: oversized arguments are refused before the call)
TEXT = 2000


class _Args(BaseModel):
    """Base: unknown arguments are refused."""

    model_config = ConfigDict(extra="forbid")


class EmailArgs(_Args):
    email: str = Field(max_length=320, description="The user's email, e.g. 'a@example.com'.")


class NameZipArgs(_Args):
    first_name: str = Field(max_length=ID, description="First name, e.g. 'John'.")
    last_name: str = Field(max_length=ID, description="Last name, e.g. 'Doe'.")
    zip: str = Field(max_length=16, description="Zip code, e.g. '12345'.")


class UserIdArgs(_Args):
    user_id: str = Field(max_length=ID, description="User id, e.g. 'sara_doe_496'.")


class OrderIdArgs(_Args):
    order_id: str = Field(max_length=ID, description="Order id with its '#', e.g. '#W0000000'.")


class ProductIdArgs(_Args):
    product_id: str = Field(max_length=ID, description="Product id (not an item id).")


class ItemIdArgs(_Args):
    item_id: str = Field(max_length=ID, description="Item id (not a product id).")


class NoArgs(_Args):
    pass


class CalculateArgs(_Args):
    expression: str = Field(
        max_length=TEXT,
        description=("Arithmetic such as '2 + 2': digits, + - * / ( ) . and spaces only."),
    )


class SummaryArgs(_Args):
    summary: str = Field(max_length=TEXT, description="A summary of the user's issue.")


ItemIds = list[str]
MAX_ITEMS = 100


class AddressArgs(_Args):
    address1: str = Field(max_length=200, description="First line, e.g. '123 Main St'.")
    address2: str = Field(max_length=200, description="Second line, e.g. 'Apt 1' or ''.")
    city: str = Field(max_length=100, description="City, e.g. 'San Francisco'.")
    state: str = Field(max_length=100, description="State, e.g. 'CA'.")
    country: str = Field(max_length=100, description="Country, e.g. 'USA'.")
    zip: str = Field(max_length=16, description="Zip code, e.g. '12345'.")


class OrderAddressArgs(OrderIdArgs, AddressArgs):
    pass


class UserAddressArgs(UserIdArgs, AddressArgs):
    pass


class CancelArgs(OrderIdArgs):
    reason: str = Field(
        max_length=100, description=("Either 'no longer needed' or 'ordered by mistake'.")
    )


class PaymentArgs(OrderIdArgs):
    payment_method_id: str = Field(
        max_length=ID,
        description=("Payment method id, e.g. 'gift_card_0000000' or 'credit_card_0000000'."),
    )


class ReturnItemsArgs(PaymentArgs):
    item_ids: ItemIds = Field(
        max_length=MAX_ITEMS, description=("Item ids to return; duplicates allowed.")
    )


class ModifyItemsArgs(ReturnItemsArgs):
    new_item_ids: ItemIds = Field(
        max_length=MAX_ITEMS,
        description=("New item ids, one per old item in the same position, of the same product."),
    )


class ExchangeItemsArgs(ModifyItemsArgs):
    pass
