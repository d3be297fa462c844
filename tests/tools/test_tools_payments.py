"""Payment gateway: idempotency keys as real gateways honour them, refunds, compensation."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agentpatterns.errors import CompensationError
from tools.payments import (
    IdempotencyConflictError,
    PaymentError,
    PaymentGateway,
    compensation,
    tools,
)

from .conftest import effect_config as cfg


@pytest.fixture
def gw(tmp_path: Path) -> Any:
    gateway = PaymentGateway(f"sqlite:///{tmp_path}/payments.db")
    yield gateway
    gateway.close()


@pytest.fixture
def ptools(gw: Any) -> dict[str, Any]:
    return {t.name: t for t in tools(gw)}


def test_same_key_same_request_returns_the_same_charge(ptools: dict[str, Any], gw: Any) -> None:
    args = {"payment_method_id": "credit_card_1", "amount": 19.99, "description": "order #W1"}
    first = ptools["charge_payment"].invoke(args, config=cfg("t1::c1"))
    again = ptools["charge_payment"].invoke(args, config=cfg("t1::c1"))
    assert again["charge_id"] == first["charge_id"]
    assert again["replayed"] and not first["replayed"]
    assert gw.count("charges") == 1 and gw.count("write_log", "t1::c1") == 1
    assert gw.balance("credit_card_1") == 19.99


def test_same_key_different_request_is_a_conflict(ptools: dict[str, Any], gw: Any) -> None:
    ptools["charge_payment"].invoke({"payment_method_id": "pm", "amount": 10}, config=cfg("k"))
    with pytest.raises(IdempotencyConflictError, match="different request"):
        ptools["charge_payment"].invoke({"payment_method_id": "pm", "amount": 11}, config=cfg("k"))
    assert isinstance(IdempotencyConflictError("x"), ValueError)  # permanent: never retried
    assert gw.count("charges") == 1


def test_without_a_key_every_call_charges(ptools: dict[str, Any], gw: Any) -> None:
    for _ in range(3):
        ptools["charge_payment"].invoke({"payment_method_id": "pm", "amount": 1.5})
    assert gw.count("charges") == 3 and gw.balance("pm") == 4.5


def test_explicit_key_wins_over_effect_key(gw: Any) -> None:
    a = gw.charge("pm", 3, idempotency_key="order-1", effect_key="e1")
    b = gw.charge("pm", 3, idempotency_key="order-1", effect_key="e2")
    assert a.charge_id == b.charge_id and b.replayed and gw.count("charges") == 1


def test_refunds_partial_full_and_over(ptools: dict[str, Any], gw: Any) -> None:
    charge = gw.charge("pm", 100)
    part = ptools["refund_payment"].invoke(
        {"charge_id": charge.charge_id, "amount": 30}, config=cfg("r1")
    )
    again = ptools["refund_payment"].invoke(
        {"charge_id": charge.charge_id, "amount": 30}, config=cfg("r1")
    )
    assert part["refund_id"] == again["refund_id"] and again["replayed"]
    assert gw.get_charge(charge.charge_id).status == "partially_refunded"
    with pytest.raises(PaymentError, match=r"exceeds the 70\.00 left"):
        gw.refund(charge.charge_id, 70.01)
    rest = gw.refund(charge.charge_id)
    assert rest.amount == 70 and gw.get_charge(charge.charge_id).status == "refunded"
    with pytest.raises(PaymentError, match="already fully refunded"):
        gw.refund(charge.charge_id, 1)
    with pytest.raises(PaymentError, match="no such charge"):
        gw.refund("ch_missing")


def test_compensation_refunds_once(ptools: dict[str, Any], gw: Any) -> None:
    args = {"payment_method_id": "pm", "amount": 42.1}
    result = ptools["charge_payment"].invoke(args, config=cfg("c9"))
    undo = compensation(gw)
    refund = undo(args, result)
    assert refund.amount == 42.1 and gw.balance("pm") == 0
    assert undo(args, result).replayed  # a second compensation is a no-op
    assert gw.count("refunds") == 1
    other = gw.charge("pm", 5)
    gw.refund(other.charge_id)
    with pytest.raises(CompensationError, match="already fully refunded"):
        undo({}, other.model_dump())


def test_contract_and_declines(ptools: dict[str, Any], gw: Any) -> None:
    charge = ptools["charge_payment"]
    for bad in (
        {"payment_method_id": "pm", "amount": -5},
        {"payment_method_id": "pm", "amount": 5, "currency": "dollars"},
        {"payment_method_id": "pm", "amount": 5, "surprise": True},
        {"payment_method_id": "x" * 1000, "amount": 5},
    ):
        with pytest.raises(ValidationError):
            charge.invoke(bad)
    with pytest.raises(PaymentError, match="at most 2 decimals"):
        charge.invoke({"payment_method_id": "pm", "amount": 1.001})
    with pytest.raises(PaymentError, match="declined"):
        charge.invoke({"payment_method_id": "declined_card", "amount": 5}, config=cfg("d"))
    sneaky = "pm'; DROP TABLE charges; --"
    charge.invoke({"payment_method_id": sneaky, "amount": 5})
    assert gw.count("charges") == 1 and gw.balance(sneaky) == 5


def test_concurrent_retries_with_one_key_charge_once(gw: Any, tmp_path: Path) -> None:
    other = PaymentGateway(f"sqlite:///{tmp_path}/payments.db")
    ids: list[str] = []
    barrier = threading.Barrier(6)

    def worker(n: int) -> None:
        barrier.wait()
        ids.append((gw if n % 2 else other).charge("pm", 7, idempotency_key="same").charge_id)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert len(set(ids)) == 1 and len(ids) == 6 and gw.count("charges") == 1
