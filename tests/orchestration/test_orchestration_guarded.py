"""The executor's delegation to agentpatterns.resilience.guard (retry, breaker, ledger).

The resilience helper owns the deep integration tests; these check the executor's side:
attempt counts, per-attempt timeouts, error types in results, effect keys, sync and async.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from langchain_core.runnables.config import ensure_config
from langchain_core.tools import tool
from tenacity import stop_after_attempt, wait_none

from agentpatterns.orchestration import ToolPolicy, ToolRegistry, tool_executor
from agentpatterns.testing.faults import FaultInjector

resilience = pytest.importorskip("agentpatterns.resilience.guard", reason="resilience not landed")
from agentpatterns.resilience import CircuitBreaker, EffectLedger, Retry  # noqa: E402


def retry(n: int = 5) -> Retry:
    return Retry(stop=stop_after_attempt(n), wait=wait_none(), budget=None)


def plan(*names: str, thread: str = "T") -> tuple[dict[str, Any], dict[str, Any]]:
    state = {"plan": [{"name": n, "args": {"x": i}, "id": f"c{i}"} for i, n in enumerate(names)]}
    return state, {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}


async def run(node: Any, state: dict[str, Any], config: dict[str, Any], mode: str) -> list[dict]:
    out = node(state, config) if mode == "sync" else await node.acall(state, config)
    return out["tool_outcomes"]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_retry_recovers_transient_faults_and_counts_attempts(mode: str) -> None:
    @tool
    def read(x: int) -> int:
        """Read."""
        return x

    inj = FaultInjector(4, transient_rate=0.5)
    reg = ToolRegistry()
    reg.register(inj.wrap(read), policy=ToolPolicy(retry=retry(10), timeout=1.0))
    state, config = plan(*["read"] * 6)
    outs = await run(tool_executor(reg), state, config, mode)
    assert all(o["ok"] for o in outs), outs
    assert sum(o["attempts"] for o in outs) == 6 + inj.counts["transient"]
    assert inj.counts["transient"] > 0


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_per_attempt_timeout_is_retried(mode: str) -> None:
    calls = [0]

    def slow_once(x: int) -> int:
        """Slow on the first call only."""
        calls[0] += 1
        if calls[0] == 1:
            time.sleep(0.5)
        return x

    reg = ToolRegistry()
    reg.register(slow_once, policy=ToolPolicy(retry=retry(3), timeout=0.1))
    state, config = plan("slow_once", "slow_once")
    outs = await run(tool_executor(reg), state, config, mode)
    assert [o["ok"] for o in outs] == [True, True]
    assert sorted(o["attempts"] for o in outs) == [1, 2]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_permanent_and_exhausted_errors_become_results(mode: str) -> None:
    @tool
    def down(x: int) -> int:
        """Always down."""
        raise ConnectionError("refused")

    @tool
    def bad(x: int) -> int:
        """Always wrong."""
        raise ValueError("order not found")

    reg = ToolRegistry()
    reg.register(down, policy=ToolPolicy(retry=retry(3)))
    reg.register(bad, policy=ToolPolicy(retry=retry(3)))
    state, config = plan("down", "bad")
    d, b = await run(tool_executor(reg), state, config, mode)
    assert d["error_type"] == "RetryExhaustedError" and d["attempts"] == 3
    assert d["content"].startswith("RetryExhaustedError")
    assert b["error_type"] == "ValueError" and b["attempts"] == 1  # permanent: not retried
    assert b["content"] == "ToolExecutionError: ValueError: order not found"


def test_open_breaker_fails_fast() -> None:
    runs = [0]

    def flaky(x: int) -> int:
        """Always fails."""
        runs[0] += 1
        raise ConnectionError("503")

    reg = ToolRegistry()
    breaker = CircuitBreaker("flaky-dep", failure_threshold=2, reset_timeout=60)
    reg.register(flaky, policy=ToolPolicy(breaker=breaker))
    node = tool_executor(reg)
    for i in range(4):
        state, config = plan("flaky", thread=f"t{i}")
        (out,) = node(state, config)["tool_outcomes"]
    assert out["error_type"] == "CircuitOpenError"
    assert runs[0] == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_side_effect_runs_once_per_key_with_ledger(mode: str) -> None:
    keys: list[str] = []

    @tool
    def charge(x: int) -> str:
        """Charge."""
        keys.append(ensure_config()["configurable"]["agentpatterns_effect_key"])
        return "charged"

    ledger = EffectLedger("memory:")
    reg = ToolRegistry(ledger=ledger)
    reg.register(charge, policy=ToolPolicy(side_effect=True))
    node = tool_executor(reg)
    state, config = plan("charge", "charge")
    first = await run(node, state, config, mode)
    again = await run(node, state, config, mode)  # a replay of the same step
    assert [o["content"] for o in first + again] == ["charged"] * 4
    assert sorted(keys) == ["T::c0", "T::c1"]


def test_lost_response_with_retry_and_ledger_does_not_double_write() -> None:
    writes: list[int] = []

    @tool
    def write(x: int) -> str:
        """Write."""
        writes.append(x)
        return "ok"

    inj = FaultInjector(1, lost_response_rate=1.0)
    reg = ToolRegistry(ledger=EffectLedger("memory:"))
    reg.register(
        inj.wrap(write),
        policy=ToolPolicy(
            side_effect=True,
            retry=retry(3),
            reconcile=lambda args: "ok" if args["x"] in writes else None,
        ),
    )
    state, config = plan("write")
    (out,) = tool_executor(reg)(state, config)["tool_outcomes"]
    assert out["ok"] and out["content"] == "ok"
    assert writes == [0]
