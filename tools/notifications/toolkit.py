"""``send_email`` and ``send_sms`` as LangChain tools over the :class:`Outbox`.

Both are side effects: under the tool executor the call's effect key deduplicates the queued
row, and the compensation cancels it while it is still queued.

Example:
    >>> from tools.notifications import Outbox, tools
    >>> box = Outbox("memory:")
    >>> email = {t.name: t for t in tools(box)}["send_email"]
    >>> out = email.invoke({"to": "ann@example.com", "subject": "Hi", "body": "Shipped"})
    >>> out["status"], box.count("queued")
    ('queued', 1)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field

from tools._common import current_effect_key, pack_tool, result_id
from tools.notifications.outbox import Message, NotificationError, Outbox

if TYPE_CHECKING:
    from agentpatterns.orchestration import ToolPolicy

__all__ = ["EmailArgs", "SmsArgs", "compensation", "policies", "tools"]


class EmailArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(
        max_length=320,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="Recipient e-mail address.",
    )
    subject: str = Field(max_length=200, description="Subject line.")
    body: str = Field(max_length=20_000, description="Plain-text body.")


class SmsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(pattern=r"^\+[1-9]\d{6,14}$", description="Phone number in E.164 (+1...).")
    body: str = Field(max_length=480, description="Text, at most 3 SMS segments.")


def tools(outbox: Outbox) -> list[BaseTool]:
    """``send_email`` and ``send_sms`` (both side effects, deduplicated per effect key)."""

    def send_email(to: str, subject: str, body: str) -> dict[str, Any]:
        return outbox.enqueue(
            "email", to, subject, body, effect_key=current_effect_key()
        ).model_dump()

    def send_sms(to: str, body: str) -> dict[str, Any]:
        return outbox.enqueue("sms", to, "", body, effect_key=current_effect_key()).model_dump()

    return [
        pack_tool(
            send_email,
            EmailArgs,
            "Send an e-mail to a customer (queued, sent once).",
            pack="notifications",
            side_effect=True,
        ),
        pack_tool(
            send_sms,
            SmsArgs,
            "Send a text message to a customer (queued, sent once).",
            pack="notifications",
            side_effect=True,
        ),
    ]


def _message_id(result: Any) -> int:
    return int(result_id(result, Message, "message_id", NotificationError))


def compensation(outbox: Outbox) -> Callable[[dict[str, Any], Any], Message]:
    """``compensate(args, result)``: cancel the queued message (error once dispatched)."""

    def compensate(args: dict[str, Any], result: Any) -> Message:
        return outbox.cancel(_message_id(result))

    return compensate


def policies(outbox: Outbox) -> dict[str, ToolPolicy]:
    """Default ``ToolPolicy`` per notification tool (side effect + compensation)."""
    from agentpatterns.orchestration import ToolPolicy

    undo = compensation(outbox)
    return {
        name: ToolPolicy(side_effect=True, compensate=undo) for name in ("send_email", "send_sms")
    }
