"""Replay of all 114 τ² tasks' ground-truth actions: deterministic hashes, designed errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools.retail import RetailStore, load_tasks, replay, split_ids

#: The ground-truth actions that fail on purpose (τ² README: 18), by action id.
DESIGNED_FAILURES = {
    "2_1",
    "3_1",
    "4_1",  # a product id that does not exist
    "35_0",
    "37_0",
    "38_0",
    "54_0",
    "55_0",  # wrong e-mail
    "39_0",
    "67_0",
    "67_1",
    "68_0",  # wrong name / zip
    "46_1",
    "46_2",
    "47_1",
    "47_2",  # order ids that do not exist
    "64_6",  # exchange on an order that is no longer delivered
    "106_0",  # gift card cannot cover the exchange's price difference
}


def test_all_tasks_replay_with_exactly_the_designed_domain_errors(replays: list[Any]) -> None:
    assert len(replays) == 114
    failed = {action_id for r in replays for action_id, _, _ in r.errors}
    total = sum(r.domain_errors for r in replays)
    print(
        f"\nτ² replay: {len(replays)} tasks, {sum(r.actions for r in replays)} actions, "
        f"{sum(r.writes for r in replays)} writes, {total} designed domain errors"
    )
    assert total == len(DESIGNED_FAILURES) == 18
    assert failed == DESIGNED_FAILURES


def test_replay_is_deterministic(replays: list[Any]) -> None:
    tasks = load_tasks()
    again = [replay(task) for task in tasks]
    assert [r.state_hash for r in again] == [r.state_hash for r in replays]
    fresh = RetailStore("memory:").state_hash()
    for task, result in zip(tasks, replays, strict=True):
        # a task with a successful write changes the store; one without does not
        assert (result.state_hash != fresh) == (result.writes > 0), task["id"]


def test_replay_on_a_file_store_matches_memory(replays: list[Any], tmp_path: Path) -> None:
    tasks = load_tasks()
    for index in (0, 5, 64, 105):
        with RetailStore(f"sqlite:///{tmp_path}/t{index}.db") as store:
            assert replay(tasks[index], store=store).state_hash == replays[index].state_hash
            assert len(store.write_log()) == replays[index].writes


def test_splits(tau2_dir: Path) -> None:
    assert len(load_tasks("train")) == 74 and len(load_tasks("test")) == 40
    assert set(split_ids("train")) | set(split_ids("test")) == set(split_ids("base"))
    assert len(load_tasks()) == len(split_ids("base")) == 114
