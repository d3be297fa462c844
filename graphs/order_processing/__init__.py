"""Reference graph: order processing as a saga (see ``graph``)."""

from graphs.order_processing.graph import (
    DEMO_ORDER,
    OrderState,
    build,
    make_graph,
    rollback_order,
)
from graphs.order_processing.inventory import Inventory, InventoryError

__all__ = [
    "DEMO_ORDER",
    "Inventory",
    "InventoryError",
    "OrderState",
    "build",
    "make_graph",
    "rollback_order",
]
