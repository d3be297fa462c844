"""All 114 τ² tasks through the tool executor under seeded faults: right final store, each
write committed exactly once, none misreported (retry + reconcile from the retail pack)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tools.retail import (
    WRITE_TOOLS,
    RetailStore,
    load_tasks,
    register_retail_tools,
    task_actions,
)

orchestration = pytest.importorskip("agentpatterns.orchestration")
resilience = pytest.importorskip("agentpatterns.resilience")
faults = pytest.importorskip("agentpatterns.testing.faults")


def test_faulty_run_matches_fault_free_replay(replays: list[Any]) -> None:
    from tenacity import stop_after_attempt, wait_none

    retry = resilience.Retry(stop=stop_after_attempt(25), wait=wait_none(), budget=None)
    injector = faults.FaultInjector(
        2024, transient_rate=0.15, timeout_rate=0.1, lost_response_rate=0.15
    )
    duplicates = misreported = 0
    with RetailStore("memory:") as store:
        registry = orchestration.ToolRegistry()
        register_retail_tools(registry, store, retry=retry, wrap=injector.wrap)
        execute = orchestration.tool_executor(registry, agent="writer")
        for task, expected in zip(load_tasks(), replays, strict=True):
            store.reset()
            config = {"configurable": {"thread_id": f"task-{task['id']}"}}
            for action in task_actions(task):
                call = {
                    "name": action["name"],
                    "args": action["arguments"],
                    "id": action["action_id"],
                }
                (outcome,) = execute({"plan": [call]}, config)["tool_outcomes"]
                designed = any(a == action["action_id"] for a, _, _ in expected.errors)
                assert outcome["ok"] != designed, (action["action_id"], outcome)
                if not designed:
                    misreported += not outcome["ok"]
            assert store.state_hash() == expected.state_hash, task["id"]
            keys = Counter(r["effect_key"] for r in store.write_log())
            duplicates += sum(n - 1 for n in keys.values())
            assert sum(keys.values()) == expected.writes
    injected = injector.counts
    print(
        f"\nfaults injected over 114 tasks: {dict(injected)}; duplicated writes {duplicates}, "
        f"misreported writes {misreported}"
    )
    assert injected["lost_response"] > 20 and injected["transient"] > 20
    assert duplicates == 0 and misreported == 0
    assert WRITE_TOOLS  # every write tool has compensate + reconcile (see registry tests)
