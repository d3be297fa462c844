"""Transactional outbox for e-mail and SMS (see ``tools.notifications.outbox``)."""

from tools.notifications.outbox import Channel, Message, NotificationError, Outbox, Status
from tools.notifications.toolkit import EmailArgs, SmsArgs, compensation, policies, tools

__all__ = [
    "Channel",
    "EmailArgs",
    "Message",
    "NotificationError",
    "Outbox",
    "SmsArgs",
    "Status",
    "compensation",
    "policies",
    "tools",
]
