"""A small inventory service on SQLite: stock per SKU and reservations, idempotent by key.

Part of the ``order_processing`` reference graph (the payments and notifications packs live
in ``tools/``; an inventory pack did not exist, so the graph brings its own). A reservation
takes stock for an order in one ``BEGIN IMMEDIATE`` transaction and appends a write-log row;
the same effect key returns the first reservation (a retry or a resume never reserves
twice); :meth:`Inventory.release` is the compensation.

Example:
    >>> inv = Inventory("memory:", stock={"MUG": 3})
    >>> r = inv.reserve("o1", [{"sku": "MUG", "qty": 2}], effect_key="k1")
    >>> again = inv.reserve("o1", [{"sku": "MUG", "qty": 2}], effect_key="k1")
    >>> r["reservation_id"] == again["reservation_id"], inv.available("MUG")
    (True, 1)
    >>> _ = inv.release(r["reservation_id"]); inv.available("MUG")
    3
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field

from agentpatterns.errors import CompensationError
from tools._common import current_effect_key, pack_tool
from tools._sqlite import SQLiteStore

__all__ = ["DEFAULT_STOCK", "Inventory", "InventoryError", "ReserveArgs", "inventory_tools"]

#: Stock a fresh inventory starts with.
DEFAULT_STOCK: dict[str, int] = {
    "KEYBOARD-CLICKY": 25,
    "THERMOSTAT-GH": 10,
    "MUG-BLUE": 200,
    "LAMP-DESK": 3,
    "SOLD-OUT": 0,
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stock (sku TEXT PRIMARY KEY, available INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reservations (reservation_id TEXT PRIMARY KEY,
    effect_key TEXT UNIQUE, order_id TEXT NOT NULL, items TEXT NOT NULL,
    status TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS write_log (id INTEGER PRIMARY KEY AUTOINCREMENT, tool TEXT NOT NULL,
    business_key TEXT NOT NULL, effect_key TEXT, at REAL NOT NULL,
    compensated INTEGER NOT NULL DEFAULT 0);
"""


class InventoryError(ValueError):
    """Not enough stock, an unknown SKU or reservation (permanent: retrying cannot help)."""


class Inventory(SQLiteStore):
    """Stock and reservations over one SQLite database (``memory:``, a path, a URL)."""

    def __init__(self, path_or_url: str = "memory:", *, stock: Mapping[str, int] | None = None):
        super().__init__(path_or_url, _SCHEMA)
        with self._tx() as conn:
            for sku, qty in (stock if stock is not None else DEFAULT_STOCK).items():
                conn.execute("INSERT OR IGNORE INTO stock VALUES (?, ?)", (sku, int(qty)))

    def available(self, sku: str) -> int:
        """Units of ``sku`` not reserved."""
        with self._lock:
            row = self._conn.execute("SELECT available FROM stock WHERE sku = ?", (sku,)).fetchone()
        if row is None:
            raise InventoryError(f"unknown SKU {sku!r}")
        return int(row[0])

    def reserve(
        self, order_id: str, items: list[dict[str, Any]], *, effect_key: str | None = None
    ) -> dict[str, Any]:
        """Take stock for every item of an order, all or nothing; once per effect key.

        Raises:
            InventoryError: an unknown SKU or not enough stock (nothing is reserved).
        """
        with self._tx() as conn:
            if effect_key is not None:
                row = conn.execute(
                    "SELECT reservation_id FROM reservations WHERE effect_key = ?", (effect_key,)
                ).fetchone()
                if row is not None:
                    return {**self.reservation(row[0]), "replayed": True}
            for item in items:
                got = conn.execute(
                    "SELECT available FROM stock WHERE sku = ?", (item["sku"],)
                ).fetchone()
                if got is None:
                    raise InventoryError(f"unknown SKU {item['sku']!r}")
                if got[0] < int(item["qty"]):
                    raise InventoryError(
                        f"not enough {item['sku']}: {got[0]} available, {item['qty']} wanted"
                    )
                conn.execute(
                    "UPDATE stock SET available = available - ? WHERE sku = ?",
                    (int(item["qty"]), item["sku"]),
                )
            rid = f"res_{uuid.uuid4().hex[:12]}"
            conn.execute(
                "INSERT INTO reservations VALUES (?, ?, ?, ?, 'active', ?)",
                (rid, effect_key, order_id, json.dumps(items, sort_keys=True), time.time()),
            )
            conn.execute(
                "INSERT INTO write_log (tool, business_key, effect_key, at) VALUES (?, ?, ?, ?)",
                ("reserve", rid, effect_key, time.time()),
            )
        return self.reservation(rid)

    def reservation(self, reservation_id: str) -> dict[str, Any]:
        """A reservation as a dict."""
        with self._lock:
            row = self._conn.execute(
                "SELECT reservation_id, order_id, items, status, effect_key FROM reservations "
                "WHERE reservation_id = ?",
                (reservation_id,),
            ).fetchone()
        if row is None:
            raise InventoryError(f"no reservation {reservation_id!r}")
        return {
            "reservation_id": row[0],
            "order_id": row[1],
            "items": json.loads(row[2]),
            "status": row[3],
            "effect_key": row[4],
        }

    def find(self, effect_key: str) -> dict[str, Any] | None:
        """The reservation made under ``effect_key`` (the reconcile hook), or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT reservation_id FROM reservations WHERE effect_key = ?", (effect_key,)
            ).fetchone()
        return None if row is None else self.reservation(row[0])

    def release(self, reservation_id: str) -> dict[str, Any]:
        """Give a reservation's stock back (compensation); releasing twice is a no-op."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT items, status FROM reservations WHERE reservation_id = ?",
                (reservation_id,),
            ).fetchone()
            if row is None:
                raise CompensationError(f"no reservation {reservation_id!r} to release")
            if row[1] == "active":
                for item in json.loads(row[0]):
                    conn.execute(
                        "UPDATE stock SET available = available + ? WHERE sku = ?",
                        (int(item["qty"]), item["sku"]),
                    )
                conn.execute(
                    "UPDATE reservations SET status = 'released' WHERE reservation_id = ?",
                    (reservation_id,),
                )
                conn.execute(
                    "UPDATE write_log SET compensated = 1 WHERE business_key = ?",
                    (reservation_id,),
                )
        return self.reservation(reservation_id)

    def count(self, status: str | None = None) -> int:
        """Reservations (of one status)."""
        sql, params = "SELECT count(*) FROM reservations", ()
        if status is not None:
            sql, params = sql + " WHERE status = ?", (status,)
        with self._lock:
            return int(self._conn.execute(sql, params).fetchone()[0])

    def write_log(self) -> list[dict[str, Any]]:
        """Write-log rows, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT tool, business_key, effect_key, compensated FROM write_log ORDER BY id"
            ).fetchall()
        return [
            {"tool": r[0], "business_key": r[1], "effect_key": r[2], "compensated": bool(r[3])}
            for r in rows
        ]


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(max_length=64)
    qty: int = Field(ge=1, le=1000)


class ReserveArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: str = Field(max_length=64, description="The order the stock is for.")
    items: list[_Item] = Field(min_length=1, max_length=50, description="SKUs and quantities.")
    reference: str = Field(default="", max_length=128, description="Caller's reference.")


def inventory_tools(inventory: Inventory) -> list[BaseTool]:
    """``reserve_inventory`` (side effect, deduplicated by the call's effect key)."""

    def reserve_inventory(order_id: str, items: list[Any], reference: str = "") -> dict[str, Any]:
        plain = [i.model_dump() if isinstance(i, BaseModel) else dict(i) for i in items]
        return inventory.reserve(order_id, plain, effect_key=current_effect_key())

    return [
        pack_tool(
            reserve_inventory,
            ReserveArgs,
            "Reserve stock for an order (all items or none).",
            pack="inventory",
            side_effect=True,
        )
    ]
