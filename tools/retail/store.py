"""The τ²-bench retail store on SQLite: records, write transactions, write log, state hash.

Tables and the ``db.json`` template are in :mod:`tools.retail.schema`. Records travel as
dicts in the shape of ``db.json``; ``dump()`` rebuilds the whole document and
``state_hash()`` hashes every row in key order, so two stores hash equal exactly when their
data is equal (the write log is not part of the hash).

Every write runs in :meth:`RetailStore.write`: one ``BEGIN IMMEDIATE ... COMMIT`` that reads
the records, checks the rules, saves the new records and appends the write-log row (tool,
business key, effect key, arguments, before- and after-images of each record it changed); an
error rolls the whole thing back. :meth:`RetailStore.compensate` undoes one logged write and
:meth:`RetailStore.find_write` lets a retry find out whether a write already committed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agentpatterns._store import sqlite_connect
from agentpatterns.errors import CompensationError, ConfigurationError
from tools._sqlite import sqlite_target
from tools.retail.data import data_dir
from tools.retail.schema import (
    HASH_QUERIES,
    ORDER_COLUMNS,
    dumps,
    order_from_row,
    order_params,
    template,
    user_from_row,
    user_params,
    variant_from_row,
)

__all__ = ["RetailError", "RetailStore", "Tx"]


class RetailError(ValueError):
    """A τ² domain error (unknown id, wrong status, bad reason...): permanent, never retried.

    The message is the one τ²-bench returns; the call changed nothing.
    """


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
        self.path = target = sqlite_target(str(path_or_url), "RetailStore")
        self._lock = threading.RLock()
        self._source = source = template(data_dir(data) / "db.json")
        if target == ":memory:":
            self._conn = sqlite_connect(":memory:")
            self._restore()
        else:
            path = Path(target)
            if not path.exists() or path.stat().st_size == 0:
                tmp = f"{target}.{os.getpid()}.tmp"
                shutil.copyfile(source, tmp)
                os.replace(tmp, target)
            self._conn = sqlite_connect(target)
            tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master")}
            if not {"products", "variants", "users", "orders", "write_log"} <= tables:
                self._conn.close()
                raise ConfigurationError(
                    f"{target} is an SQLite database but not a retail store (no orders / "
                    "write_log tables); point RetailStore at a new file to create one"
                )

    def _restore(self) -> None:
        src = sqlite3.connect(self._source)
        try:
            src.backup(self._conn)
        finally:
            src.close()

    def reset(self) -> None:
        """Back to a fresh copy of ``db.json`` (write log emptied); the connection stays.

        Lets one set of tools (and one tool registry) serve many episodes.
        """
        with self._lock:
            self._restore()

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
    def write(
        self,
        tool: str,
        business_key: str,
        effect_key: str | None,
        args: dict[str, Any] | None = None,
    ) -> Iterator[Tx]:
        """One write transaction; the write-log row is added in the same transaction."""
        with self._transaction():
            tx = Tx(self)
            yield tx
            self._conn.execute(
                "INSERT INTO write_log (tool, business_key, effect_key, args, before, after, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    tool,
                    business_key,
                    effect_key,
                    None if args is None else dumps(args),
                    dumps(tx.before),
                    dumps(tx.after),
                    time.time(),
                ),
            )

    # -- records --------------------------------------------------------------------------
    def get_order(self, order_id: str) -> dict[str, Any]:
        """The order as in ``db.json``. Raises RetailError("Order not found")."""
        rows = self.query(
            f"SELECT {', '.join(ORDER_COLUMNS)}, extra FROM orders WHERE order_id = ?", (order_id,)
        )
        if not rows:
            raise RetailError("Order not found")
        return order_from_row(rows[0])

    def get_user(self, user_id: str) -> dict[str, Any]:
        """The user as in ``db.json``. Raises RetailError("User not found")."""
        rows = self.query("SELECT * FROM users WHERE user_id = ?", (user_id,))
        if not rows:
            raise RetailError("User not found")
        return user_from_row(rows[0])

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
            "variants": {v[0]: variant_from_row(v) for v in variants},
        }

    def find_variant(self, item_id: str) -> tuple[str, dict[str, Any]] | None:
        """(product id, variant) of an item id, searched over every product, or None."""
        rows = self.query(
            "SELECT item_id, options, available, price, product_id FROM variants WHERE item_id = ?",
            (item_id,),
        )
        return (rows[0][4], variant_from_row(rows[0])) if rows else None

    def _put_order(self, order: dict[str, Any]) -> None:
        p = order_params(order)
        self._conn.execute(
            "UPDATE orders SET user_id = ?, status = ?, address = ?, items = ?, "
            "fulfillments = ?, payment_history = ?, extra = ? WHERE order_id = ?",
            p[1:] + p[:1],
        )

    def _put_user(self, user: dict[str, Any]) -> None:
        p = user_params(user)
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
            products[v[4]]["variants"][v[0]] = variant_from_row(v)
        users = {r[0]: user_from_row(r) for r in self.query("SELECT * FROM users ORDER BY rowid")}
        orders = {
            r[0]: order_from_row(r)
            for r in self.query(
                f"SELECT {', '.join(ORDER_COLUMNS)}, extra FROM orders ORDER BY rowid"
            )
        }
        return {"products": products, "users": users, "orders": orders}

    def state_hash(self) -> str:
        """SHA-256 over every row of products, variants, users and orders in key order.

        JSON columns are stored canonically, so equal data gives an equal hash whatever the
        order of writes; the write log is not part of it.
        """
        digest = hashlib.sha256()
        for sql in HASH_QUERIES:
            digest.update(sql.encode())
            rows = self.query(sql)
            digest.update(f"\x1d{len(rows)}\x1d".encode())
            digest.update("\x1e".join([r[0] for r in rows]).encode())
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
            "args",
            "before",
            "after",
            "at",
            "compensated",
            "compensated_at",
        )
        rows = self.query(sql + " ORDER BY id", tuple(params))
        out: list[dict[str, Any]] = [dict(zip(cols, r, strict=True)) for r in rows]
        for row in out:
            row["before"], row["after"] = json.loads(row["before"]), json.loads(row["after"])
            row["args"] = None if row["args"] is None else json.loads(row["args"])
            row["compensated"] = bool(row["compensated"])
        return out

    def find_write(
        self, tool: str, args: dict[str, Any], effect_key: str | None = None
    ) -> dict[str, Any] | None:
        """Did this write already commit? The record it produced, or None.

        Looks for the newest live (not compensated) write of ``tool`` with these exact
        arguments (and this effect key, when given) whose records still equal its after-image,
        and returns the changed order (or user) as the tool returned it. This is what a retry
        asks after a lost response: the write committed, so report it instead of writing again.
        """
        sql = "SELECT after FROM write_log WHERE tool = ? AND args = ? AND compensated = 0"
        params: tuple[Any, ...] = (tool, dumps(args))
        if effect_key is not None:
            sql, params = sql + " AND effect_key = ?", (*params, effect_key)
        for (after_text,) in self.query(sql + " ORDER BY id DESC LIMIT 1", params):
            after = json.loads(after_text)
            current = {
                "orders": {k: self.get_order(k) for k in after["orders"]},
                "users": {k: self.get_user(k) for k in after["users"]},
            }
            if current != after:
                return None
            records = [*after["orders"].values(), *after["users"].values()]
            orders = list(after["orders"].values())
            return orders[0] if orders else records[0] if records else None
        return None

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
