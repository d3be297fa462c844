"""order_processing saga end to end: idempotent payment, compensation, rollback, faults."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agentpatterns.testing.faults import FaultInjector, fault_profile
from graphs._common import resources_of
from graphs.order_processing import DEMO_ORDER, build, rollback_order

from .conftest import duplicate_writes


def _graph(**kwargs: Any) -> tuple[Any, dict[str, Any]]:
    graph = build(**kwargs).compile(checkpointer=InMemorySaver())
    res = resources_of(graph)
    assert res is not None
    return graph, res.extra


def test_happy_path(cfg: dict[str, Any]) -> None:
    graph, parts = _graph()
    out = graph.invoke({"order": DEMO_ORDER}, cfg)
    assert out["status"] == "done" and out["validated"]
    assert [t["to"] for t in out["transitions"]][1:] == [
        "charge",
        "reserve",
        "notify",
        "validate",
        "done",
    ]
    assert parts["gateway"].balance("credit_card_4242") == 59.97
    assert parts["inventory"].available("MUG-BLUE") == 197
    assert parts["outbox"].count("queued") == 1


def test_same_order_twice_is_processed_once(cfg: dict[str, Any]) -> None:
    """The guide's story: the order arrives again (a retry, a resubmission): one charge."""
    graph, parts = _graph()
    first = graph.invoke({"order": DEMO_ORDER}, cfg)
    again = graph.invoke({"order": DEMO_ORDER}, cfg)
    other_thread = graph.invoke({"order": DEMO_ORDER}, {"configurable": {"thread_id": "other"}})
    assert first["charge"]["charge_id"] == again["charge"]["charge_id"]
    assert other_thread["charge"]["charge_id"] == first["charge"]["charge_id"]
    assert parts["gateway"].count("charges") == 1
    assert parts["inventory"].count() == 1 and parts["outbox"].count() == 1


def test_lost_responses_and_flaky_calls_never_duplicate(cfg: dict[str, Any]) -> None:
    for seed in range(6):
        faults = FaultInjector(seed, lost_response_rate=0.4, transient_rate=0.2)
        graph, parts = _graph(faults=faults)
        out = graph.invoke({"order": DEMO_ORDER}, cfg)
        assert out["status"] == "done", out.get("answer")
        assert parts["gateway"].count("charges") == 1
        assert parts["gateway"].count("write_log") == 1
        assert parts["inventory"].count("active") == 1
        assert parts["outbox"].count() == 1
        assert duplicate_writes(parts["inventory"].write_log()) == 0


@pytest.mark.parametrize("profile", ["flaky-30", "rate-limit"])
def test_fault_profiles(cfg: dict[str, Any], profile: str) -> None:
    graph, parts = _graph(faults=fault_profile(profile, seed=3))
    out = graph.invoke({"order": DEMO_ORDER}, cfg)
    assert out["status"] == "done"
    assert parts["gateway"].count("charges") == 1 and parts["inventory"].count() == 1


def test_out_of_stock_refunds_the_charge(cfg: dict[str, Any]) -> None:
    graph, parts = _graph()
    order = {**DEMO_ORDER, "order_id": "O-2", "items": [{"sku": "SOLD-OUT", "qty": 1, "price": 5}]}
    out = graph.invoke({"order": order}, cfg)
    assert out["status"] == "failed" and out["failed_step"] == "reserve"
    assert [c["tool"] for c in out["compensated"]] == ["charge_payment"]
    assert parts["gateway"].balance("credit_card_4242") == 0.0
    assert parts["gateway"].count("refunds") == 1 and parts["outbox"].count() == 0


def test_notification_outage_releases_and_refunds_newest_first(cfg: dict[str, Any]) -> None:
    graph, parts = _graph(faults=FaultInjector(0, outage=True, tools=["send_email"]))
    out = graph.invoke({"order": DEMO_ORDER}, cfg)
    assert out["status"] == "failed" and out["failed_step"] == "notify"
    assert [c["tool"] for c in out["compensated"]] == ["reserve_inventory", "charge_payment"]
    assert parts["inventory"].available("MUG-BLUE") == 200
    assert parts["gateway"].balance("credit_card_4242") == 0.0
    faults = resources_of(graph).extra["registry"]  # type: ignore[union-attr]
    assert faults.policy("send_email").breaker is not None


def test_declined_card_compensates_nothing(cfg: dict[str, Any]) -> None:
    graph, parts = _graph()
    out = graph.invoke({"order": {**DEMO_ORDER, "payment_method_id": "declined_card"}}, cfg)
    assert out["status"] == "failed" and out["compensated"] == []
    assert parts["inventory"].count() == 0


def test_failed_compensation_escalates(cfg: dict[str, Any]) -> None:
    from agentpatterns.errors import CompensationError

    graph, parts = _graph(faults=FaultInjector(0, outage=True, tools=["send_email"]))

    def cannot_refund(charge_id: str) -> Any:
        raise CompensationError(f"charge {charge_id} is disputed")

    parts["gateway"].compensate_charge = cannot_refund
    paused = graph.invoke({"order": DEMO_ORDER}, cfg)
    assert "undoing charge_payment failed" in paused["__interrupt__"][0].value["reason"]
    assert graph.get_state(cfg).next == ("escalate",)
    assert parts["inventory"].available("MUG-BLUE") == 200  # released before the refund


def test_rollback_to_last_consistent_state(cfg: dict[str, Any]) -> None:
    graph = build().compile(checkpointer=InMemorySaver(), interrupt_before=["notify"])
    parts = resources_of(graph).extra  # type: ignore[union-attr]
    graph.invoke({"order": DEMO_ORDER}, cfg)  # charged and reserved, stopped before notify
    assert parts["gateway"].balance("credit_card_4242") == 59.97
    new = rollback_order(graph, cfg)
    assert graph.get_state(new).next == ("charge",)
    assert parts["gateway"].balance("credit_card_4242") == 0.0
    assert parts["inventory"].available("MUG-BLUE") == 200
    graph.invoke(None, new)
    out = graph.invoke(None, cfg)
    assert out["status"] == "done" and out["attempt"] == 2
    assert (
        parts["gateway"].count("charges") == 2
        and parts["gateway"].balance("credit_card_4242") == 59.97
    )


def test_saga_and_rollback_on_durable_backends(durable_store_url: str, tmp_path: Any) -> None:
    """Checkpoints and effect ledger on SQLite and PostgreSQL: stop, resume in a new graph
    object, roll back to the last consistent state."""
    from agentpatterns.checkpoint import open_checkpointer

    cfg = {"configurable": {"thread_id": "durable"}}
    with open_checkpointer(durable_store_url) as saver:
        first = build(ledger=durable_store_url, state_dir=tmp_path)
        graph = first.compile(checkpointer=saver, interrupt_before=["notify"])
        graph.invoke({"order": DEMO_ORDER}, cfg)
        resources_of(graph).close()  # type: ignore[union-attr]
        again = build(ledger=durable_store_url, state_dir=tmp_path)
        graph = again.compile(checkpointer=saver, interrupt_before=["notify"])
        parts = resources_of(graph).extra  # type: ignore[union-attr]
        assert graph.get_state(cfg).next == ("notify",)
        assert parts["gateway"].count("charges") == 1
        rollback_order(graph, cfg)
        assert parts["gateway"].balance("credit_card_4242") == 0.0
        assert parts["inventory"].available("MUG-BLUE") == 200
        resources_of(graph).close()  # type: ignore[union-attr]
