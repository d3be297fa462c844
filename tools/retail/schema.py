"""Tables of the retail store, the db.json -> SQLite template, and row <-> record mapping.

``db.json`` is loaded into::

    products(product_id, name)
    variants(item_id, product_id, seq, options, available, price)
    users(user_id, first_name, last_name, email, email_key, name_key, zip,
          address, payment_methods, orders)
    orders(order_id, user_id, status, address, items, fulfillments, payment_history, extra)
    write_log(id, tool, business_key, effect_key, args, before, after, at, compensated, ...)

Nested parts are JSON columns written canonically (sorted keys), so equal data always has equal
column text and the state hash can read rows as they are. ``extra`` holds the optional order
attributes the writes add (``cancel_reason``, ``return_items``, ``exchange_*``).
``email_key`` / ``name_key`` are case-folded look-up keys.

The template database is built once per ``db.json`` content and cached in the temp folder;
stores start as a file copy or an SQLite backup of it, which takes milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Any

__all__ = [
    "HASH_QUERIES",
    "ORDER_COLUMNS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "dumps",
    "order_from_row",
    "order_params",
    "template",
    "user_from_row",
    "user_params",
    "variant_from_row",
]

SCHEMA_VERSION = 3
ORDER_COLUMNS = (
    "order_id",
    "user_id",
    "status",
    "address",
    "items",
    "fulfillments",
    "payment_history",
)
SCHEMA = """
CREATE TABLE products (product_id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE variants (item_id TEXT PRIMARY KEY, product_id TEXT NOT NULL, seq INTEGER NOT NULL,
    options TEXT NOT NULL, available INTEGER NOT NULL, price REAL NOT NULL);
CREATE INDEX variants_product ON variants(product_id, seq);
CREATE TABLE users (user_id TEXT PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
    email TEXT NOT NULL, email_key TEXT NOT NULL, name_key TEXT NOT NULL, zip TEXT NOT NULL,
    address TEXT NOT NULL, payment_methods TEXT NOT NULL, orders TEXT NOT NULL);
CREATE INDEX users_email ON users(email_key);
CREATE INDEX users_name_zip ON users(name_key, zip);
CREATE TABLE orders (order_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, status TEXT NOT NULL,
    address TEXT NOT NULL, items TEXT NOT NULL, fulfillments TEXT NOT NULL,
    payment_history TEXT NOT NULL, extra TEXT NOT NULL DEFAULT '{}');
CREATE INDEX orders_user ON orders(user_id);
CREATE INDEX orders_status ON orders(status);
CREATE TABLE write_log (id INTEGER PRIMARY KEY AUTOINCREMENT, tool TEXT NOT NULL,
    business_key TEXT NOT NULL, effect_key TEXT, args TEXT, before TEXT NOT NULL,
    after TEXT NOT NULL, at REAL NOT NULL, compensated INTEGER NOT NULL DEFAULT 0,
    compensated_at REAL);
CREATE INDEX write_log_effect ON write_log(effect_key);
CREATE INDEX write_log_business ON write_log(tool, business_key);
"""


def _row_text(table: str, key: str, columns: str) -> str:
    """One text per row: the columns joined by the unit separator (SQLite does the work)."""
    joined = " || char(31) || ".join(columns.split(", "))
    return f"SELECT {joined} FROM {table} ORDER BY {key}"


#: Queries whose rows (one text each, in key order) make up the state hash.
HASH_QUERIES = (
    _row_text("products", "product_id", "product_id, name"),
    _row_text("variants", "item_id", "item_id, product_id, seq, options, available, price"),
    _row_text(
        "users",
        "user_id",
        "user_id, first_name, last_name, email, address, payment_methods, orders",
    ),
    _row_text(
        "orders",
        "order_id",
        "order_id, user_id, status, address, items, fulfillments, payment_history, extra",
    ),
)


def dumps(value: Any) -> str:
    """Canonical JSON (sorted keys): equal data always gives equal column text."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _fold(text: str) -> str:
    return text.casefold()


_TEMPLATES: dict[tuple[str, int, int], Path] = {}


def template(src: Path) -> Path:
    """The template database for ``src`` (db.json), built once and cached on disk."""
    stat = src.stat()
    memo = (str(src.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo in _TEMPLATES and _TEMPLATES[memo].exists():
        return _TEMPLATES[memo]
    _TEMPLATES[memo] = path = _buildtemplate(src)
    return path


def _buildtemplate(src: Path) -> Path:
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"agentpatterns-retail-v{SCHEMA_VERSION}-{digest}.db"
    if path.exists():
        return path
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    doc = json.loads(src.read_text(encoding="utf-8"))
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.executescript(SCHEMA)
        conn.execute("BEGIN")
        for product in doc["products"].values():
            conn.execute(
                "INSERT INTO products VALUES (?, ?)", (product["product_id"], product["name"])
            )
            conn.executemany(
                "INSERT INTO variants VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        v["item_id"],
                        product["product_id"],
                        seq,
                        dumps(v["options"]),
                        int(v["available"]),
                        v["price"],
                    )
                    for seq, v in enumerate(product["variants"].values())
                ],
            )
        conn.executemany(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [user_params(u) for u in doc["users"].values()],
        )
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [order_params(o) for o in doc["orders"].values()],
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    os.replace(tmp, path)
    return path


def user_params(u: dict[str, Any]) -> tuple[Any, ...]:
    first, last = u["name"]["first_name"], u["name"]["last_name"]
    return (
        u["user_id"],
        first,
        last,
        u["email"],
        _fold(u["email"]),
        f"{_fold(first)}\x1f{_fold(last)}",
        u["address"]["zip"],
        dumps(u["address"]),
        dumps(u["payment_methods"]),
        dumps(u["orders"]),
    )


def order_params(o: dict[str, Any]) -> tuple[Any, ...]:
    extra = {k: v for k, v in o.items() if k not in ORDER_COLUMNS}
    return (
        o["order_id"],
        o["user_id"],
        o["status"],
        dumps(o["address"]),
        dumps(o["items"]),
        dumps(o["fulfillments"]),
        dumps(o["payment_history"]),
        dumps(extra),
    )


def user_from_row(r: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "user_id": r[0],
        "name": {"first_name": r[1], "last_name": r[2]},
        "address": json.loads(r[7]),
        "email": r[3],
        "payment_methods": json.loads(r[8]),
        "orders": json.loads(r[9]),
    }


def order_from_row(r: tuple[Any, ...]) -> dict[str, Any]:
    order = {
        "order_id": r[0],
        "user_id": r[1],
        "address": json.loads(r[3]),
        "items": json.loads(r[4]),
        "status": r[2],
        "fulfillments": json.loads(r[5]),
        "payment_history": json.loads(r[6]),
    }
    order.update(json.loads(r[7]))
    return order


def variant_from_row(v: tuple[Any, ...]) -> dict[str, Any]:
    return {"item_id": v[0], "options": json.loads(v[1]), "available": bool(v[2]), "price": v[3]}
