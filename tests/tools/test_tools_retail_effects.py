"""Retail side effects: write log, effect keys, compensation, injection strings, concurrency."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agentpatterns.errors import CompensationError, ConfigurationError
from tools.retail import (
    WRITE_TOOLS,
    RetailError,
    RetailStore,
    compensation,
    data_dir,
    load_tasks,
    task_actions,
    tools,
)

from .conftest import effect_config as key

Tools = dict[str, Any]


def test_every_ground_truth_write_compensates_to_the_exact_previous_hash(
    tau2_dir: Path,
) -> None:
    """All 174 successful writes of the 114 tasks: write, compensate, same hash, redo."""
    undone = 0
    for task in load_tasks():
        with RetailStore("memory:") as store:
            by_name = {t.name: t for t in tools(store)}
            for action in task_actions(task):
                name, args = action["name"], action["arguments"]
                if name not in WRITE_TOOLS:
                    continue  # reads change nothing (proved in the replay tests)
                before = store.state_hash()
                try:
                    result = by_name[name].invoke(args)
                except RetailError:
                    assert store.state_hash() == before  # a failed write changed nothing
                    continue
                # (111_1 sets a user's address to the one it already has: a no-op write)
                assert store.write_log()[-1]["tool"] == name, action["action_id"]
                compensation(store, name)(args, result)
                assert store.state_hash() == before, action["action_id"]
                undone += 1
                by_name[name].invoke(args)  # redo so later actions see the same store
            log = store.write_log()
            assert sum(r["compensated"] for r in log) == len(log) // 2
    assert undone == 174


def test_write_log_counts_per_effect_key_and_business_key(
    rtools: Tools, store: Any, find: Any
) -> None:
    order = find.paid_by("pending", "paypal")
    address = {
        "address1": "1 A St",
        "address2": "",
        "city": "X",
        "state": "CA",
        "country": "USA",
        "zip": "90001",
    }
    tool = rtools["modify_pending_order_address"]
    args = {"order_id": order["order_id"], **address}
    tool.invoke(args, config=key("thread-1::call-1"))
    tool.invoke(args, config=key("thread-1::call-1"))  # a duplicate: the log sees it
    tool.invoke({**args, "city": "Y"}, config=key("thread-1::call-2"))
    with pytest.raises(RetailError):  # failed calls leave no log row
        rtools["cancel_pending_order"].invoke(
            {"order_id": order["order_id"], "reason": "bored"}, config=key("thread-1::call-3")
        )
    assert len(store.write_log(effect_key="thread-1::call-1")) == 2
    assert len(store.write_log(effect_key="thread-1::call-2")) == 1
    assert store.write_log(effect_key="thread-1::call-3") == []
    rows = store.write_log(business_key=order["order_id"])
    assert [r["tool"] for r in rows] == ["modify_pending_order_address"] * 3
    assert rows[0]["before"]["orders"][order["order_id"]] == order
    assert rows[2]["after"]["orders"][order["order_id"]]["address"]["city"] == "Y"
    assert rows[0]["effect_key"] == "thread-1::call-1" and not rows[0]["compensated"]
    tool.invoke(args)  # no executor: no key
    assert store.write_log()[-1]["effect_key"] is None


def test_compensation_refuses_when_the_record_changed_since(
    rtools: Tools, store: Any, find: Any
) -> None:
    order = find.paid_by("pending", "gift_card")
    args = {"order_id": order["order_id"], "reason": "ordered by mistake"}
    result = rtools["cancel_pending_order"].invoke(args)
    user = store.get_user(order["user_id"])
    with store.write("setup", user["user_id"], None) as tx:  # someone else touches the user
        user["payment_methods"][order["payment_history"][0]["payment_method_id"]]["balance"] += 1
        tx.save_user(user)
    changed = store.state_hash()
    with pytest.raises(CompensationError, match=r"changed after the write"):
        compensation(store, "cancel_pending_order")(args, result)
    assert store.state_hash() == changed  # nothing half-undone
    assert not store.write_log(tool="cancel_pending_order")[0]["compensated"]


def test_compensation_twice_is_an_error(rtools: Tools, store: Any, find: Any) -> None:
    order = find.paid_by("pending", "paypal")
    args = {"order_id": order["order_id"], "reason": "no longer needed"}
    result = rtools["cancel_pending_order"].invoke(args)
    undo = compensation(store, "cancel_pending_order")
    undo(args, result)
    assert store.get_order(order["order_id"]) == order
    with pytest.raises(CompensationError, match=r"no write of cancel_pending_order"):
        undo(args, result)
    assert store.write_log()[0]["compensated"] is True


INJECTIONS = [
    "#W0000000' OR '1'='1",
    "'; DROP TABLE orders; --",
    '" OR 1=1 --',
    "x'); DELETE FROM users; --",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_sql_looking_arguments_are_data(rtools: Tools, store: Any, text: str, db: Any) -> None:
    before = store.state_hash()
    for tool, arg in (
        ("get_order_details", "order_id"),
        ("get_user_details", "user_id"),
        ("find_user_id_by_email", "email"),
        ("get_product_details", "product_id"),
        ("get_item_details", "item_id"),
    ):
        with pytest.raises(RetailError, match=r"not found"):
            rtools[tool].invoke({arg: text})
    with pytest.raises(RetailError, match=r"Order not found"):
        rtools["cancel_pending_order"].invoke({"order_id": text, "reason": "no longer needed"})
    assert store.state_hash() == before
    user_id = next(iter(db["users"]))
    address = {
        "address1": text,
        "address2": text,
        "city": text,
        "state": "CA",
        "country": "USA",
        "zip": "1' --",
    }
    rtools["modify_user_address"].invoke({"user_id": user_id, **address})
    assert store.get_user(user_id)["address"] == address  # stored verbatim
    assert store.query("SELECT count(*) FROM orders")[0][0] == 1000
    assert store.query("SELECT count(*) FROM users")[0][0] == 500


def test_bad_arguments_break_the_contract_and_write_nothing(
    rtools: Tools, store: Any, find: Any
) -> None:
    order = find.paid_by("pending", "paypal")
    tool = rtools["cancel_pending_order"]
    for bad in (
        {"order_id": order["order_id"]},  # missing
        {"order_id": 42, "reason": "no longer needed"},  # mistyped
        {"order_id": order["order_id"], "reason": "x" * 10_000},  # oversized
        {"order_id": order["order_id"], "reason": "no longer needed", "extra": 1},
    ):
        with pytest.raises(ValidationError):
            tool.invoke(bad)
    with pytest.raises(ValidationError):
        rtools["return_delivered_order_items"].invoke(
            {"order_id": "#W1", "item_ids": ["1"] * 1000, "payment_method_id": "x"}
        )
    assert store.write_log() == [] and store.get_order(order["order_id"]) == order


def test_concurrent_duplicate_writes_commit_once(store: Any, find: Any, tmp_path: Path) -> None:
    order = find.paid_by("pending", "gift_card")
    other = RetailStore(store.path)  # a second connection to the same file
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        tool = {t.name: t for t in tools(store if n % 2 else other)}["cancel_pending_order"]
        barrier.wait()
        try:
            tool.invoke(
                {"order_id": order["order_id"], "reason": "no longer needed"}, config=key(f"k{n}")
            )
            outcomes.append("ok")
        except RetailError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert outcomes.count("ok") == 1
    assert outcomes.count("Non-pending order cannot be cancelled") == 7
    assert len(store.write_log(business_key=order["order_id"])) == 1
    history = store.get_order(order["order_id"])["payment_history"]
    assert [p["transaction_type"] for p in history] == ["payment", "refund"]


async def test_tools_work_async(rtools: Tools, find: Any, store: Any) -> None:
    order = find.paid_by("pending", "paypal")
    out = await rtools["cancel_pending_order"].ainvoke(
        {"order_id": order["order_id"], "reason": "no longer needed"}, config=key("async-1")
    )
    assert out["status"] == "cancelled"
    assert store.write_log()[0]["effect_key"] == "async-1"


def test_missing_data_dir_is_a_clear_error(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("AGENTPATTERNS_TAU2_DIR", str(tmp_path))
    with pytest.raises(ConfigurationError, match=r"AGENTPATTERNS_TAU2_DIR"):
        data_dir()
    with pytest.raises(ConfigurationError, match=r"lacks db\.json"):
        RetailStore("memory:")


def test_store_reopens_persisted_file(store: Any, find: Any) -> None:
    order = find.paid_by("pending", "paypal")
    {t.name: t for t in tools(store)}["cancel_pending_order"].invoke(
        {"order_id": order["order_id"], "reason": "no longer needed"}
    )
    digest = store.state_hash()
    with RetailStore(store.path) as again:
        assert again.state_hash() == digest and len(again.write_log()) == 1
    with pytest.raises(ConfigurationError, match=r"SQLite only"):
        RetailStore("postgresql://u@localhost/db")


def test_reconcile_finds_a_committed_write_and_only_that(
    rtools: Tools, store: Any, find: Any
) -> None:
    from tools.retail import reconciler

    order = find.paid_by("pending", "gift_card")
    args = {"order_id": order["order_id"], "reason": "no longer needed"}
    reconcile = reconciler(store, "cancel_pending_order")
    assert reconcile(args) is None  # nothing committed yet: the retry must write
    result = rtools["cancel_pending_order"].invoke(args, config=key("t::c1"))
    assert reconcile(args) == result  # committed: report it instead of writing again
    assert reconcile({**args, "reason": "ordered by mistake"}) is None  # other arguments
    compensation(store, "cancel_pending_order")(args, result)
    assert reconcile(args) is None  # compensated writes do not count
    result = rtools["cancel_pending_order"].invoke(args, config=key("t::c2"))
    with store.write("setup", order["order_id"], None) as tx:  # changed since by someone else
        changed = tx.order(order["order_id"])
        changed["status"] = "processed"
        tx.save_order(changed)
    assert reconcile(args) is None


def test_reset_restores_a_fresh_store(rtools: Tools, store: Any, find: Any) -> None:
    fresh = store.state_hash()
    order = find.paid_by("pending", "paypal")
    rtools["cancel_pending_order"].invoke(
        {"order_id": order["order_id"], "reason": "no longer needed"}
    )
    assert store.state_hash() != fresh
    store.reset()
    assert store.state_hash() == fresh and store.write_log() == []
    assert rtools["get_order_details"].invoke({"order_id": order["order_id"]}) == order


def test_foreign_sqlite_file_is_refused(tmp_path: Path, tau2_dir: Path) -> None:
    import sqlite3

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(ConfigurationError, match="not a retail store"):
        RetailStore(other)
    empty = tmp_path / "empty.db"
    empty.touch()
    with RetailStore(empty) as store:  # an empty file is filled like a new one
        assert store.query("SELECT count(*) FROM orders")[0][0] == 1000
