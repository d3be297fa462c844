"""A payment gateway on SQLite that honours idempotency keys the way real gateways do.

Charges and refunds are stored in integer cents. A request carries an idempotency key (an
explicit ``idempotency_key`` or, under the tool executor, the call's effect key):

* same key + same request   -> the stored result comes back (``replayed=True``), no new charge;
* same key + other request  -> :class:`IdempotencyConflictError` (a permanent error);
* no key                    -> every call is a new charge (what duplicates look like).

Every new charge or refund is one ``BEGIN IMMEDIATE`` transaction that also appends a row to
``write_log`` (tool, business key = charge id, effect key, at, compensated), so duplicated
side effects can be counted. The compensation of a charge is a refund of what remains of it,
itself idempotent (key ``compensate:<charge id>``).

Example:
    >>> gw = PaymentGateway("memory:")
    >>> first = gw.charge("credit_card_1", 12.5, idempotency_key="k1")
    >>> again = gw.charge("credit_card_1", 12.5, idempotency_key="k1")
    >>> (again.charge_id == first.charge_id, again.replayed, gw.count("charges"))
    (True, True, 1)
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel

from agentpatterns.errors import CompensationError
from tools._sqlite import SQLiteStore

__all__ = [
    "Charge",
    "IdempotencyConflictError",
    "PaymentError",
    "PaymentGateway",
    "Refund",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (charge_id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE,
    request_hash TEXT NOT NULL, payment_method_id TEXT NOT NULL, amount_cents INTEGER NOT NULL,
    currency TEXT NOT NULL, description TEXT NOT NULL, refunded_cents INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS refunds (refund_id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE,
    request_hash TEXT NOT NULL, charge_id TEXT NOT NULL REFERENCES charges(charge_id),
    amount_cents INTEGER NOT NULL, reason TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS write_log (id INTEGER PRIMARY KEY AUTOINCREMENT, tool TEXT NOT NULL,
    business_key TEXT NOT NULL, effect_key TEXT, at REAL NOT NULL,
    compensated INTEGER NOT NULL DEFAULT 0);
"""


class PaymentError(ValueError):
    """A payment refused for a business reason (declined, over-refund, unknown charge)."""


class IdempotencyConflictError(PaymentError):
    """The idempotency key was used before for a different request."""


class Charge(BaseModel):
    """A charge as the gateway reports it."""

    charge_id: str
    payment_method_id: str
    amount: float
    currency: str
    description: str
    refunded: float
    status: Literal["succeeded", "partially_refunded", "refunded"]
    idempotency_key: str | None
    replayed: bool = False


class Refund(BaseModel):
    """A refund of (part of) a charge."""

    refund_id: str
    charge_id: str
    amount: float
    reason: str
    idempotency_key: str | None
    replayed: bool = False


def _cents(amount: float) -> int:
    cents = round(amount * 100)
    if abs(cents - amount * 100) > 1e-6 or cents <= 0:
        raise PaymentError(f"amount must be positive with at most 2 decimals, got {amount!r}")
    return cents


def _hash(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


class PaymentGateway(SQLiteStore):
    """The gateway over one SQLite database (``memory:``, a path or ``sqlite:///file.db``)."""

    def __init__(self, path_or_url: str = "memory:") -> None:
        super().__init__(path_or_url, _SCHEMA)

    def _row(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    @staticmethod
    def _stored_id(
        conn: Any, table: Literal["charges", "refunds"], key: str, request: dict[str, Any]
    ) -> str | None:
        """The id stored under idempotency ``key`` for this same request, or None (new key).

        Raises:
            IdempotencyConflictError: the key was used for a different request.
        """
        kind = table[:-1]  # "charge" / "refund"
        row = conn.execute(
            f"SELECT {kind}_id, request_hash FROM {table} WHERE idempotency_key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        if row[1] != _hash(request):
            raise IdempotencyConflictError(
                f"idempotency key {key!r} was used for a different request ({kind} {row[0]})"
            )
        return row[0]

    # -- charges --------------------------------------------------------------------------
    def charge(
        self,
        payment_method_id: str,
        amount: float,
        currency: str = "USD",
        description: str = "",
        *,
        idempotency_key: str | None = None,
        effect_key: str | None = None,
    ) -> Charge:
        """Charge ``amount`` to a payment method, at most once per idempotency key.

        Raises:
            PaymentError: bad amount, or a method whose id starts with ``declined``.
            IdempotencyConflictError: the key was used for a different request.
        """
        request = {
            "op": "charge",
            "payment_method_id": payment_method_id,
            "amount_cents": _cents(amount),
            "currency": currency.upper(),
            "description": description,
        }
        key = idempotency_key if idempotency_key is not None else effect_key
        with self._tx() as conn:
            stored = None if key is None else self._stored_id(conn, "charges", key, request)
            if stored is not None:
                return self.get_charge(stored).model_copy(update={"replayed": True})
            if payment_method_id.startswith("declined"):
                raise PaymentError(f"card declined: {payment_method_id}")
            charge_id = f"ch_{uuid.uuid4().hex[:16]}"
            conn.execute(
                "INSERT INTO charges (charge_id, idempotency_key, request_hash, "
                "payment_method_id, amount_cents, currency, description, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    charge_id,
                    key,
                    _hash(request),
                    payment_method_id,
                    request["amount_cents"],
                    request["currency"],
                    description,
                    time.time(),
                ),
            )
            conn.execute(
                "INSERT INTO write_log (tool, business_key, effect_key, at) VALUES (?, ?, ?, ?)",
                ("charge", charge_id, effect_key, time.time()),
            )
            return self.get_charge(charge_id)

    def get_charge(self, charge_id: str) -> Charge:
        """The charge; raises PaymentError for an unknown id."""
        row = self._row(
            "SELECT charge_id, payment_method_id, amount_cents, currency, "
            "description, refunded_cents, idempotency_key FROM charges "
            "WHERE charge_id = ?",
            (charge_id,),
        )
        if row is None:
            raise PaymentError(f"no such charge: {charge_id}")
        status = (
            "succeeded" if row[5] == 0 else "refunded" if row[5] >= row[2] else "partially_refunded"
        )
        return Charge(
            charge_id=row[0],
            payment_method_id=row[1],
            amount=row[2] / 100,
            currency=row[3],
            description=row[4],
            refunded=row[5] / 100,
            status=status,
            idempotency_key=row[6],
        )

    # -- refunds --------------------------------------------------------------------------
    def refund(
        self,
        charge_id: str,
        amount: float | None = None,
        reason: str = "",
        *,
        idempotency_key: str | None = None,
        effect_key: str | None = None,
    ) -> Refund:
        """Refund (part of) a charge; ``amount=None`` refunds what remains.

        Raises:
            PaymentError: unknown charge, nothing left to refund, or more than remains.
            IdempotencyConflictError: the key was used for a different request.
        """
        key = idempotency_key if idempotency_key is not None else effect_key
        wanted = None if amount is None else _cents(amount)
        request: dict[str, Any] = {
            "op": "refund",
            "charge_id": charge_id,
            "amount_cents": wanted,
            "reason": reason,
        }
        with self._tx() as conn:
            stored = None if key is None else self._stored_id(conn, "refunds", key, request)
            if stored is not None:
                return self.get_refund(stored).model_copy(update={"replayed": True})
            charge = self.get_charge(charge_id)
            remaining = round(charge.amount * 100) - round(charge.refunded * 100)
            cents = remaining if wanted is None else wanted
            if remaining <= 0:
                raise PaymentError(f"charge {charge_id} is already fully refunded")
            if cents > remaining:
                raise PaymentError(
                    f"refund of {cents / 100:.2f} exceeds the "
                    f"{remaining / 100:.2f} left on charge {charge_id}"
                )
            refund_id = f"re_{uuid.uuid4().hex[:16]}"
            conn.execute(
                "INSERT INTO refunds VALUES (?, ?, ?, ?, ?, ?, ?)",
                (refund_id, key, _hash(request), charge_id, cents, reason, time.time()),
            )
            conn.execute(
                "UPDATE charges SET refunded_cents = refunded_cents + ? WHERE charge_id = ?",
                (cents, charge_id),
            )
            conn.execute(
                "INSERT INTO write_log (tool, business_key, effect_key, at) VALUES (?, ?, ?, ?)",
                ("refund", charge_id, effect_key, time.time()),
            )
            return self.get_refund(refund_id)

    def get_refund(self, refund_id: str) -> Refund:
        """The refund; raises PaymentError for an unknown id."""
        row = self._row(
            "SELECT refund_id, charge_id, amount_cents, reason, idempotency_key "
            "FROM refunds WHERE refund_id = ?",
            (refund_id,),
        )
        if row is None:
            raise PaymentError(f"no such refund: {refund_id}")
        return Refund(
            refund_id=row[0],
            charge_id=row[1],
            amount=row[2] / 100,
            reason=row[3],
            idempotency_key=row[4],
        )

    # -- compensation and counting --------------------------------------------------------
    def compensate_charge(self, charge_id: str) -> Refund:
        """Undo a charge: refund what remains of it (idempotent: key ``compensate:<id>``).

        Raises:
            CompensationError: the charge is unknown or was already refunded by someone else.
        """
        try:
            refund = self.refund(
                charge_id, reason="compensation", idempotency_key=f"compensate:{charge_id}"
            )
        except PaymentError as exc:
            raise CompensationError(
                f"cannot compensate charge {charge_id}: {exc}", node="charge_payment", cause=exc
            ) from exc
        with self._tx() as conn:
            conn.execute(
                "UPDATE write_log SET compensated = 1 WHERE tool = 'charge' AND business_key = ?",
                (charge_id,),
            )
        return refund

    def count(
        self, table: Literal["charges", "refunds", "write_log"], effect_key: str | None = None
    ) -> int:
        """Rows in a table, optionally only those of one effect key."""
        if table not in ("charges", "refunds", "write_log"):
            raise ValueError(f"unknown table {table!r}")
        column = "effect_key" if table == "write_log" else "idempotency_key"
        if effect_key is None:
            row = self._row(f"SELECT count(*) FROM {table}", ())
        else:
            row = self._row(f"SELECT count(*) FROM {table} WHERE {column} = ?", (effect_key,))
        assert row is not None
        return int(row[0])

    def balance(self, payment_method_id: str) -> float:
        """Net amount taken from a payment method (charges minus refunds)."""
        row = self._row(
            "SELECT coalesce(sum(amount_cents - refunded_cents), 0) FROM charges "
            "WHERE payment_method_id = ?",
            (payment_method_id,),
        )
        assert row is not None
        return row[0] / 100
