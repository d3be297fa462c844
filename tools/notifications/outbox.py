"""A transactional outbox for e-mails and text messages on SQLite.

``send_email`` and ``send_sms`` do not talk to a mail server: they enqueue a row in the
``outbox`` table (status ``queued``). A separate :meth:`Outbox.dispatch` hands queued rows to
a sender callable and marks them ``dispatched``. This is what makes a message compensable and
deduplicable:

* enqueue is idempotent per effect key: the tool executor's key (or an explicit one) is a
  UNIQUE column, so a retried or replayed call returns the row already queued;
* the compensation cancels a row that is still ``queued``; once ``dispatched`` a message
  cannot be unsent and the compensation raises :class:`CompensationError`.

Example:
    >>> box = Outbox("memory:")
    >>> m1 = box.enqueue("email", "ann@example.com", "Hi", "Order shipped", effect_key="k1")
    >>> m2 = box.enqueue("email", "ann@example.com", "Hi", "Order shipped", effect_key="k1")
    >>> (m1.message_id == m2.message_id, m2.deduplicated, box.count())
    (True, True, 1)
    >>> sent = []
    >>> box.dispatch(sent.append), box.get(m1.message_id).status
    (1, 'dispatched')
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel

from agentpatterns.errors import CompensationError
from tools._sqlite import SQLiteStore

__all__ = ["Channel", "Message", "NotificationError", "Outbox", "Status"]

Channel = Literal["email", "sms"]
Status = Literal["queued", "dispatched", "cancelled"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (message_id INTEGER PRIMARY KEY AUTOINCREMENT,
    effect_key TEXT UNIQUE, channel TEXT NOT NULL, recipient TEXT NOT NULL,
    subject TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, created_at REAL NOT NULL,
    dispatched_at REAL, cancelled_at REAL);
CREATE INDEX IF NOT EXISTS outbox_status ON outbox(status, message_id);
"""
_COLUMNS = "message_id, effect_key, channel, recipient, subject, body, status, attempts, last_error"


class NotificationError(ValueError):
    """A message refused for a business reason (unknown id, ...)."""


class Message(BaseModel):
    """One outbox row."""

    message_id: int
    effect_key: str | None
    channel: Channel
    recipient: str
    subject: str
    body: str
    status: Status
    attempts: int = 0
    last_error: str | None = None
    deduplicated: bool = False


def _message(row: tuple[Any, ...]) -> Message:
    return Message(
        message_id=row[0],
        effect_key=row[1],
        channel=row[2],
        recipient=row[3],
        subject=row[4],
        body=row[5],
        status=row[6],
        attempts=row[7],
        last_error=row[8],
    )


class Outbox(SQLiteStore):
    """The outbox over one SQLite database (``memory:``, a path or ``sqlite:///file.db``)."""

    def __init__(self, path_or_url: str = "memory:") -> None:
        super().__init__(path_or_url, _SCHEMA)

    def enqueue(
        self,
        channel: Channel,
        recipient: str,
        subject: str,
        body: str,
        *,
        effect_key: str | None = None,
    ) -> Message:
        """Queue a message; with an effect key already queued, return that row instead."""
        with self._tx() as conn:
            if effect_key is not None:
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM outbox WHERE effect_key = ?", (effect_key,)
                ).fetchone()
                if row is not None:
                    return _message(row).model_copy(update={"deduplicated": True})
            cur = conn.execute(
                "INSERT INTO outbox (effect_key, channel, recipient, subject, body, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (effect_key, channel, recipient, subject, body, time.time()),
            )
            message_id = cur.lastrowid
        assert message_id is not None
        return self.get(message_id)

    def get(self, message_id: int) -> Message:
        """One message; raises NotificationError for an unknown id."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE message_id = ?", (message_id,)
            ).fetchone()
        if row is None:
            raise NotificationError(f"no such message: {message_id}")
        return _message(row)

    def messages(self, status: Status | None = None) -> list[Message]:
        """All messages (of one status), oldest first."""
        sql, params = f"SELECT {_COLUMNS} FROM outbox", ()
        if status is not None:
            sql, params = sql + " WHERE status = ?", (status,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY message_id", params).fetchall()
        return [_message(r) for r in rows]

    def count(self, status: Status | None = None, effect_key: str | None = None) -> int:
        """Number of messages, optionally of one status and/or one effect key."""
        sql, params = "SELECT count(*) FROM outbox WHERE 1 = 1", []
        if status is not None:
            sql, params = sql + " AND status = ?", [*params, status]
        if effect_key is not None:
            sql, params = sql + " AND effect_key = ?", [*params, effect_key]
        with self._lock:
            return int(self._conn.execute(sql, tuple(params)).fetchone()[0])

    def dispatch(self, sender: Callable[[Message], Any], *, limit: int = 100) -> int:
        """Hand up to ``limit`` queued messages to ``sender``; returns how many went out.

        A message whose sender raises stays queued with ``attempts`` and ``last_error`` set.
        """
        sent = 0
        for message in self.messages("queued")[:limit]:
            try:
                sender(message)
            except Exception as exc:  # the sender's failure is recorded, not raised
                with self._tx() as conn:
                    conn.execute(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = ? "
                        "WHERE message_id = ?",
                        (repr(exc)[:500], message.message_id),
                    )
                continue
            with self._tx() as conn:
                conn.execute(
                    "UPDATE outbox SET status = 'dispatched', dispatched_at = ?, "
                    "attempts = attempts + 1 WHERE message_id = ? AND status = 'queued'",
                    (time.time(), message.message_id),
                )
            sent += 1
        return sent

    def cancel(self, message_id: int) -> Message:
        """Cancel a queued message (the compensation of a send).

        Raises:
            CompensationError: the message was already dispatched (cannot be unsent) or is
                unknown. Cancelling a cancelled message is a no-op.
        """
        with self._tx() as conn:
            row = conn.execute(
                "SELECT status FROM outbox WHERE message_id = ?", (message_id,)
            ).fetchone()
            if row is None:
                raise CompensationError(f"no message {message_id} to cancel", node="outbox")
            if row[0] == "dispatched":
                raise CompensationError(
                    f"message {message_id} was already dispatched and cannot be unsent",
                    node="outbox",
                )
            conn.execute(
                "UPDATE outbox SET status = 'cancelled', cancelled_at = ? "
                "WHERE message_id = ? AND status = 'queued'",
                (time.time(), message_id),
            )
        return self.get(message_id)
