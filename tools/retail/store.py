"""The τ²-bench retail store on SQLite: tables, transactions, write log, state hash.

``db.json`` is loaded into three tables (nested parts as JSON columns)::

    products(product_id, name)                       + variants(item_id, product_id, seq,
                                                                options, available, price)
    users(user_id, first_name, last_name, email, address, payment_methods, orders)
    orders(order_id, user_id, status, address, items, fulfillments, payment_history, extra)
    write_log(id, tool, business_key, effect_key, before, after, at, compensated, ...)

``extra`` holds the optional order attributes the writes add (``cancel_reason``,
``return_items``, ``exchange_*``). Records travel as dicts in the shape of ``db.json``;
``dump()`` rebuilds the whole ``db.json`` document and ``state_hash()`` hashes it, so two
stores compare equal exactly when their data does (the write log is not part of the hash).

The first store of a process builds a template database file once (cached in the temp folder
by the hash of ``db.json``); every further store is a file copy or an SQLite backup of it,
which takes milliseconds.

Every write runs in :meth:`RetailStore.write`: one ``BEGIN IMMEDIATE ... COMMIT`` that reads
the records, checks the rules, saves the new records and appends the write-log row (before-
and after-images of each record it changed); any error rolls the whole thing back.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agentpatterns._store import parse_store_url, sqlite_connect
from agentpatterns.errors import CompensationError, ConfigurationError
from tools.retail.data import data_dir

__all__ = ["RetailError", "RetailStore", "Tx"]

SCHEMA_VERSION = 2
_ORDER_COLUMNS = (
    "order_id",
    "user_id",
    "status",
    "address",
    "items",
    "fulfillments",
    "payment_history",
)
_SCHEMA = """
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
    business_key TEXT NOT NULL, effect_key TEXT, before TEXT NOT NULL, after TEXT NOT NULL,
    at REAL NOT NULL, compensated INTEGER NOT NULL DEFAULT 0, compensated_at REAL);
CREATE INDEX write_log_effect ON write_log(effect_key);
CREATE INDEX write_log_business ON write_log(tool, business_key);
"""


_HASH_QUERIES = (
    "SELECT product_id, name FROM products ORDER BY product_id",
    "SELECT item_id, product_id, seq, options, available, price FROM variants ORDER BY item_id",
    "SELECT user_id, first_name, last_name, email, address, payment_methods, orders FROM users"
    " ORDER BY user_id",
    "SELECT order_id, user_id, status, address, items, fulfillments, payment_history, extra"
    " FROM orders ORDER BY order_id",
)


class RetailError(ValueError):
    """A τ² domain error (unknown id, wrong status, bad reason...): permanent, never retried.

    The message is the one τ²-bench returns; the call changed nothing.
    """


def _dumps(value: Any) -> str:
    """Canonical JSON (sorted keys): equal data always gives equal column text."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _fold(text: str) -> str:
    return text.casefold()


_TEMPLATES: dict[tuple[str, int, int], Path] = {}


def _template(src: Path) -> Path:
    """The template database for ``src`` (db.json), built once and cached on disk."""
    stat = src.stat()
    memo = (str(src.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo in _TEMPLATES and _TEMPLATES[memo].exists():
        return _TEMPLATES[memo]
    _TEMPLATES[memo] = path = _build_template(src)
    return path


def _build_template(src: Path) -> Path:
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"agentpatterns-retail-v{SCHEMA_VERSION}-{digest}.db"
    if path.exists():
        return path
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    doc = json.loads(src.read_text(encoding="utf-8"))
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.executescript(_SCHEMA)
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
                        _dumps(v["options"]),
                        int(v["available"]),
                        v["price"],
                    )
                    for seq, v in enumerate(product["variants"].values())
                ],
            )
        conn.executemany(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_user_params(u) for u in doc["users"].values()],
        )
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [_order_params(o) for o in doc["orders"].values()],
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    os.replace(tmp, path)
    return path


def _user_params(u: dict[str, Any]) -> tuple[Any, ...]:
    first, last = u["name"]["first_name"], u["name"]["last_name"]
    return (
        u["user_id"],
        first,
        last,
        u["email"],
        _fold(u["email"]),
        f"{_fold(first)}\x1f{_fold(last)}",
        u["address"]["zip"],
        _dumps(u["address"]),
        _dumps(u["payment_methods"]),
        _dumps(u["orders"]),
    )


def _order_params(o: dict[str, Any]) -> tuple[Any, ...]:
    extra = {k: v for k, v in o.items() if k not in _ORDER_COLUMNS}
    return (
        o["order_id"],
        o["user_id"],
        o["status"],
        _dumps(o["address"]),
        _dumps(o["items"]),
        _dumps(o["fulfillments"]),
        _dumps(o["payment_history"]),
        _dumps(extra),
    )


def _user_from_row(r: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "user_id": r[0],
        "name": {"first_name": r[1], "last_name": r[2]},
        "address": json.loads(r[7]),
        "email": r[3],
        "payment_methods": json.loads(r[8]),
        "orders": json.loads(r[9]),
    }


def _order_from_row(r: tuple[Any, ...]) -> dict[str, Any]:
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


class Tx:
    """One open write transaction: load records, save records, remember their images."""

    def __init__(self, store: RetailStore) -> None:
        self.store = store
        self.before: dict[str, dict[str, Any]] = {"orders": {}, "users": {}}
        self.after: dict[str, dict[str, Any]] = {"orders": {}, "users": {}}

    def order(self, order_id: str) -> dict[str, Any]:
        return self.store.get_order(order_id)

    def user(self, user_id: str) -> dict[str, Any]:
        return self.store.get_user(user_id)

    def save_order(self, order: dict[str, Any]) -> None:
        key = order["order_id"]
        self.before["orders"].setdefault(key, self.store.get_order(key))
        self.store._put_order(order)
        self.after["orders"][key] = order

    def save_user(self, user: dict[str, Any]) -> None:
        key = user["user_id"]
        self.before["users"].setdefault(key, self.store.get_user(key))
        self.store._put_user(user)
        self.after["users"][key] = user


class RetailStore:
    """The retail store over one SQLite database.

    Args:
        path_or_url: A file path, ``sqlite:///file.db`` or ``memory:`` (default). A file that
            does not exist yet is created from ``db.json``; an existing one is opened as is.
        data: The τ² data folder (default: :func:`tools.retail.data.data_dir`).

    Example:
        >>> store = RetailStore("memory:")
        >>> store.get_order("#W2611340")["status"]
        'processed'
    """

    def __init__(
        self,
        path_or_url: str | os.PathLike[str] = "memory:",
        *,
        data: str | os.PathLike[str] | None = None,
    ) -> None:
        target = str(path_or_url)
        if target.startswith(("sqlite:", "postgres", "memory:")):
            url = parse_store_url(target)
            if url.kind == "postgres":
                raise ConfigurationError("RetailStore runs on SQLite only; got a PostgreSQL URL")
            target = ":memory:" if url.kind == "memory" else url.path
        self.path = target
        self._lock = threading.RLock()
        template = _template(data_dir(data) / "db.json")
        if target == ":memory:":
            self._conn = sqlite_connect(":memory:")
            src = sqlite3.connect(template)
            try:
                src.backup(self._conn)
            finally:
                src.close()
        else:
            if not Path(target).exists():
                tmp = f"{target}.{os.getpid()}.tmp"
                shutil.copyfile(template, tmp)
                os.replace(tmp, target)
            self._conn = sqlite_connect(target)

    # -- plumbing -----------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> RetailStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one read-only, parameterised query and return all rows."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def write(self, tool: str, business_key: str, effect_key: str | None) -> Iterator[Tx]:
        """One write transaction; the write-log row is added in the same transaction."""
        with self._transaction():
            tx = Tx(self)
            yield tx
            self._conn.execute(
                "INSERT INTO write_log (tool, business_key, effect_key, before, after, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (tool, business_key, effect_key, _dumps(tx.before), _dumps(tx.after), time.time()),
            )

    # -- records --------------------------------------------------------------------------
    def get_order(self, order_id: str) -> dict[str, Any]:
        """The order as in ``db.json``. Raises RetailError("Order not found")."""
        rows = self.query(
            f"SELECT {', '.join(_ORDER_COLUMNS)}, extra FROM orders WHERE order_id = ?", (order_id,)
        )
        if not rows:
            raise RetailError("Order not found")
        return _order_from_row(rows[0])

    def get_user(self, user_id: str) -> dict[str, Any]:
        """The user as in ``db.json``. Raises RetailError("User not found")."""
        rows = self.query("SELECT * FROM users WHERE user_id = ?", (user_id,))
        if not rows:
            raise RetailError("User not found")
        return _user_from_row(rows[0])

    def get_product(self, product_id: str) -> dict[str, Any]:
        """The product with its variants. Raises RetailError("Product not found")."""
        rows = self.query("SELECT name FROM products WHERE product_id = ?", (product_id,))
        if not rows:
            raise RetailError("Product not found")
        variants = self.query(
            "SELECT item_id, options, available, price FROM variants "
            "WHERE product_id = ? ORDER BY seq",
            (product_id,),
        )
        return {
            "name": rows[0][0],
            "product_id": product_id,
            "variants": {v[0]: _variant(v) for v in variants},
        }

    def find_variant(self, item_id: str) -> tuple[str, dict[str, Any]] | None:
        """(product id, variant) of an item id, searched over every product, or None."""
        rows = self.query(
            "SELECT item_id, options, available, price, product_id FROM variants WHERE item_id = ?",
            (item_id,),
        )
        return (rows[0][4], _variant(rows[0])) if rows else None

    def _put_order(self, order: dict[str, Any]) -> None:
        p = _order_params(order)
        self._conn.execute(
            "UPDATE orders SET user_id = ?, status = ?, address = ?, items = ?, "
            "fulfillments = ?, payment_history = ?, extra = ? WHERE order_id = ?",
            p[1:] + p[:1],
        )

    def _put_user(self, user: dict[str, Any]) -> None:
        p = _user_params(user)
        self._conn.execute(
            "UPDATE users SET first_name = ?, last_name = ?, email = ?, email_key = ?, "
            "name_key = ?, zip = ?, address = ?, payment_methods = ?, orders = ? "
            "WHERE user_id = ?",
            p[1:] + p[:1],
        )

    # -- whole store ----------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        """The whole store as a ``db.json`` document (products, users, orders)."""
        products = {
            pid: {"name": name, "product_id": pid, "variants": {}}
            for pid, name in self.query("SELECT product_id, name FROM products ORDER BY rowid")
        }
        for v in self.query(
            "SELECT item_id, options, available, price, product_id "
            "FROM variants ORDER BY product_id, seq"
        ):
            products[v[4]]["variants"][v[0]] = _variant(v)
        users = {r[0]: _user_from_row(r) for r in self.query("SELECT * FROM users ORDER BY rowid")}
        orders = {
            r[0]: _order_from_row(r)
            for r in self.query(
                f"SELECT {', '.join(_ORDER_COLUMNS)}, extra FROM orders ORDER BY rowid"
            )
        }
        return {"products": products, "users": users, "orders": orders}

    def state_hash(self) -> str:
        """SHA-256 over every row of products, variants, users and orders in key order.

        JSON columns are stored canonically, so equal data gives an equal hash whatever the
        order of writes; the write log is not part of it.
        """
        digest = hashlib.sha256()
        for sql in _HASH_QUERIES:
            digest.update(sql.encode())
            for row in self.query(sql):
                digest.update(repr(row).encode())
        return digest.hexdigest()

    # -- write log and compensation -------------------------------------------------------
    def write_log(
        self,
        *,
        tool: str | None = None,
        business_key: str | None = None,
        effect_key: str | None = None,
    ) -> list[dict[str, Any]]:
        """Write-log rows, oldest first, optionally filtered."""
        sql, params = "SELECT * FROM write_log WHERE 1 = 1", []
        for column, value in (
            ("tool", tool),
            ("business_key", business_key),
            ("effect_key", effect_key),
        ):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        cols = (
            "id",
            "tool",
            "business_key",
            "effect_key",
            "before",
            "after",
            "at",
            "compensated",
            "compensated_at",
        )
        rows = self.query(sql + " ORDER BY id", tuple(params))
        out = [dict(zip(cols, r, strict=True)) for r in rows]
        for row in out:
            row["before"], row["after"] = json.loads(row["before"]), json.loads(row["after"])
            row["compensated"] = bool(row["compensated"])
        return out

    def compensate(self, tool: str, business_key: str, effect_key: str | None = None) -> int:
        """Undo the newest live write of ``tool`` on ``business_key`` (and ``effect_key``).

        Restores every record the write changed from its before-image, but only if each still
        equals the write's after-image; marks the log row compensated. Returns the log id.

        Raises:
            CompensationError: no such live write, or a record changed since (nothing undone).
        """
        with self._transaction():
            sql = (
                "SELECT id, before, after FROM write_log WHERE tool = ? AND business_key = ?"
                " AND compensated = 0"
            )
            params: tuple[Any, ...] = (tool, business_key)
            if effect_key is not None:
                sql, params = sql + " AND effect_key = ?", (*params, effect_key)
            rows = self._conn.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchall()
            if not rows:
                raise CompensationError(
                    f"no write of {tool} on {business_key!r} to compensate"
                    + (f" for effect key {effect_key!r}" if effect_key else ""),
                    node=tool,
                )
            log_id, before, after = rows[0][0], json.loads(rows[0][1]), json.loads(rows[0][2])
            for table, getter, putter in (
                ("orders", self.get_order, self._put_order),
                ("users", self.get_user, self._put_user),
            ):
                for key, image in after[table].items():
                    if getter(key) != image:
                        raise CompensationError(
                            f"cannot compensate {tool} on {business_key!r}: {table[:-1]} "
                            f"{key!r} changed after the write (log id {log_id})",
                            node=tool,
                        )
                for record in before[table].values():
                    putter(record)
            self._conn.execute(
                "UPDATE write_log SET compensated = 1, compensated_at = ? WHERE id = ?",
                (time.time(), log_id),
            )
            return log_id


def _variant(v: tuple[Any, ...]) -> dict[str, Any]:
    return {"item_id": v[0], "options": json.loads(v[1]), "available": bool(v[2]), "price": v[3]}
