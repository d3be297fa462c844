"""Notification outbox: dedup by effect key, dispatch, compensation = cancel while queued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agentpatterns.errors import CompensationError
from tools.notifications import Message, Outbox, compensation, tools

from .conftest import effect_config as cfg


@pytest.fixture
def box(tmp_path: Path) -> Any:
    outbox = Outbox(f"sqlite:///{tmp_path}/outbox.db")
    yield outbox
    outbox.close()


@pytest.fixture
def ntools(box: Any) -> dict[str, Any]:
    return {t.name: t for t in tools(box)}


EMAIL = {"to": "ann@example.com", "subject": "Your order", "body": "It shipped."}


def test_dedup_by_effect_key(ntools: dict[str, Any], box: Any) -> None:
    first = ntools["send_email"].invoke(EMAIL, config=cfg("t1::call-1"))
    again = ntools["send_email"].invoke(EMAIL, config=cfg("t1::call-1"))
    other = ntools["send_email"].invoke(EMAIL, config=cfg("t1::call-2"))
    assert first["message_id"] == again["message_id"] != other["message_id"]
    assert again["deduplicated"] and not first["deduplicated"]
    assert box.count() == 2 and box.count(effect_key="t1::call-1") == 1
    ntools["send_sms"].invoke({"to": "+14155550100", "body": "Shipped"})
    ntools["send_sms"].invoke({"to": "+14155550100", "body": "Shipped"})  # no key: two rows
    assert box.count() == 4


def test_dispatch_marks_sent_and_keeps_failures_queued(ntools: dict[str, Any], box: Any) -> None:
    for n in range(3):
        ntools["send_email"].invoke({**EMAIL, "to": f"u{n}@example.com"}, config=cfg(f"k{n}"))
    delivered: list[Message] = []

    def flaky(message: Message) -> None:
        if message.recipient == "u1@example.com":
            raise ConnectionError("smtp down")
        delivered.append(message)

    assert box.dispatch(flaky) == 2
    assert [m.recipient for m in delivered] == ["u0@example.com", "u2@example.com"]
    queued = box.messages("queued")
    assert len(queued) == 1 and queued[0].attempts == 1 and "smtp down" in queued[0].last_error
    assert box.dispatch(delivered.append) == 1 and box.count("dispatched") == 3
    assert box.dispatch(delivered.append) == 0  # nothing is sent twice
    # a retried send after dispatch still returns the dispatched row, no new message
    assert ntools["send_email"].invoke(EMAIL, config=cfg("k0"))["status"] == "dispatched"


def test_compensation_cancels_only_queued(ntools: dict[str, Any], box: Any) -> None:
    undo = compensation(box)
    queued = ntools["send_email"].invoke(EMAIL, config=cfg("a"))
    assert undo(EMAIL, queued).status == "cancelled"
    assert undo(EMAIL, queued).status == "cancelled"  # idempotent
    sent = ntools["send_email"].invoke(EMAIL, config=cfg("b"))
    box.dispatch(lambda m: None)
    with pytest.raises(CompensationError, match="already dispatched"):
        undo(EMAIL, sent)
    assert box.count("cancelled") == 1 and box.count("dispatched") == 1
    assert box.dispatch(lambda m: None) == 0  # the cancelled one never goes out


def test_contracts_and_injection_strings(ntools: dict[str, Any], box: Any) -> None:
    for tool, bad in (
        ("send_email", {**EMAIL, "to": "not-an-address"}),
        ("send_email", {**EMAIL, "body": "x" * 50_000}),
        ("send_sms", {"to": "555-0100", "body": "hi"}),
        ("send_sms", {"to": "+14155550100", "body": "hi", "cc": "x"}),
    ):
        with pytest.raises(ValidationError):
            ntools[tool].invoke(bad)
    assert box.count() == 0
    evil = "'); DELETE FROM outbox; --"
    out = ntools["send_email"].invoke({**EMAIL, "subject": evil, "body": evil})
    assert box.get(out["message_id"]).subject == evil and box.count() == 1
