"""Judging a τ² episode: store equality, side-effect accounting, call statistics.

Store equality: the final store must equal the store of a fault-free replay of the task's
ground-truth actions. Every change to the retail store goes through
``RetailStore.write``, which appends a write-log row naming each record it changed (its
after-image keys) in the same transaction, and compensation restores records named in such a
row. So two stores that started from the same ``db.json`` can differ only in records named
in their write logs, and comparing those records (:func:`touched_digest`) is exactly
comparing the whole-store hashes, ~50x cheaper. ``--full-hash`` compares
``RetailStore.state_hash()`` instead (same verdicts, slower).

Side effects, per *business action* = (write tool, canonical arguments):

- executed: write-log rows (compensated or not); ``duplicates`` = executed beyond what the
  fault-free replay executed (normally 1 per action);
- ``lost``: replay writes with no live (uncompensated) row although the run reported
  success (status ``done``): a write silently never done;
- ``missing``: replay writes with no live row, whatever the run reported;
- ``misreported``: writes that committed (live row) but whose call the agent was told failed.

Example:
    >>> from collections import Counter
    >>> from evals.accounting import side_effects
    >>> expected = Counter({("cancel", '{"o":1}'): 1})
    >>> rows = [("cancel", '{"o":1}', False), ("cancel", '{"o":1}', False)]
    >>> side_effects(expected, rows, reported_done=True)
    {'executed': 2, 'duplicates': 1, 'lost': 0, 'missing': 0}
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "DOMAIN_ERRORS",
    "action_key",
    "call_stats",
    "side_effects",
    "succeeded",
    "touched_digest",
    "touched_keys",
]

_ORDER_COLS = "order_id, user_id, status, address, items, fulfillments, payment_history, extra"
_USER_COLS = "user_id, first_name, last_name, email, address, payment_methods, orders"


def action_key(tool: str, args: Mapping[str, Any] | None) -> tuple[str, str]:
    """The business action of a write: tool name and canonical JSON of its arguments."""
    return tool, json.dumps(dict(args or {}), sort_keys=True, separators=(",", ":"))


def touched_keys(log: Iterable[Mapping[str, Any]]) -> tuple[set[str], set[str]]:
    """(order ids, user ids) named in the after-images of write-log rows."""
    orders: set[str] = set()
    users: set[str] = set()
    for row in log:
        after = row.get("after") or {}
        orders.update(after.get("orders") or {})
        users.update(after.get("users") or {})
    return orders, users


def _row_text(table: str, key: str, columns: str, ids: list[str]) -> tuple[str, tuple[str, ...]]:
    joined = " || char(31) || ".join(columns.split(", "))
    marks = ", ".join("?" for _ in ids)
    return f"SELECT {joined} FROM {table} WHERE {key} IN ({marks}) ORDER BY {key}", tuple(ids)


def touched_digest(store: Any, orders: Iterable[str], users: Iterable[str]) -> str:
    """SHA-256 of the named orders and users of ``store`` (same row texts as the state hash)."""
    digest = hashlib.sha256()
    for table, key, cols, ids in (
        ("orders", "order_id", _ORDER_COLS, sorted(orders)),
        ("users", "user_id", _USER_COLS, sorted(users)),
    ):
        digest.update(f"\x1d{table}\x1d".encode())
        if ids:
            sql, params = _row_text(table, key, cols, ids)
            rows = store.query(sql, params)
            digest.update(f"{len(rows)}\x1d".encode())
            digest.update("\x1e".join(r[0] for r in rows).encode())
    return digest.hexdigest()


def side_effects(
    expected: Mapping[tuple[str, str], int],
    rows: Iterable[tuple[str, str, bool]],
    *,
    reported_done: bool,
) -> dict[str, int]:
    """Executed / duplicated / lost / missing writes of one episode.

    Args:
        expected: Business action -> writes of the fault-free replay.
        rows: ``(tool, canonical args, compensated)`` per write-log row of the episode.
        reported_done: The run reported success (``lost`` counts only then).
    """
    executed: Counter[tuple[str, str]] = Counter()
    live: Counter[tuple[str, str]] = Counter()
    for tool, args, compensated in rows:
        executed[(tool, args)] += 1
        if not compensated:
            live[(tool, args)] += 1
    duplicates = sum(max(0, n - expected.get(k, 0)) for k, n in executed.items())
    missing = sum(max(0, n - live.get(k, 0)) for k, n in expected.items())
    return {
        "executed": sum(executed.values()),
        "duplicates": duplicates,
        "lost": missing if reported_done else 0,
        "missing": missing,
    }


#: Error types that mean "the tool answered no" (a domain error), not a fault.
DOMAIN_ERRORS = frozenset(
    {
        "RetailError",
        "PaymentError",
        "InventoryError",
        "NotificationError",
        "IdempotencyConflictError",
        "ValidationError",
        "ToolContractError",
        "ToolPermissionError",
        "UnknownToolError",
        "PermanentFault",
    }
)


def succeeded(call: Mapping[str, Any]) -> bool:
    """A call succeeded: it returned a result, or — when its ground truth fails by design —
    it failed with a domain error (a fault on such a call is still a failure)."""
    if call.get("designed"):
        return not call.get("ok") and call.get("error_type") in DOMAIN_ERRORS
    return bool(call.get("ok"))


def call_stats(calls: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregate per-call records (``ok``, ``attempts``, ``designed``, ``elapsed_ms``, ``ran``).

    A call "succeeded" when it returned a result, or when it failed with the domain error its
    ground truth expects (``designed``). Retried calls are those with more than one attempt.
    """
    calls = list(calls)
    ran = [c for c in calls if c.get("ran", True)]
    good = [c for c in ran if succeeded(c)]
    retried = [c for c in ran if (c.get("attempts") or 0) > 1]
    retried_ok = [c for c in retried if succeeded(c)]
    return {
        "planned": len(calls),
        "ran": len(ran),
        "succeeded": len(good),
        "attempts": sum(int(c.get("attempts") or 0) for c in ran),
        "retried": len(retried),
        "retried_ok": len(retried_ok),
    }
