"""ToolPolicy(retry, breaker, fallback, side_effect, reconcile) through the tool executor."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langchain_core.runnables.config import ensure_config
from tenacity import stop_after_attempt, wait_none

from agentpatterns.orchestration import ToolPolicy, ToolRegistry, tool_executor
from agentpatterns.resilience import CircuitBreaker, Degraded, EffectLedger, Fallback, Retry


def plan(
    *calls: tuple[str, dict[str, Any]], thread: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    state = {"plan": [{"name": n, "args": a, "id": f"c{i}"} for i, (n, a) in enumerate(calls)]}
    # a fresh thread per test: the default retry budget is per thread (sliding window)
    thread = thread or uuid.uuid4().hex[:8]
    return state, {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}


async def run(node: Any, state: dict[str, Any], config: dict[str, Any], mode: str) -> list[Any]:
    out = node(state, config) if mode == "sync" else await node.acall(state, config)
    return out["tool_outcomes"]


class Orders:
    """A side-effecting order service whose response gets lost after the write commits."""

    def __init__(self, lose_first_responses: int) -> None:
        self.writes: list[tuple[str, int]] = []
        self.lose = lose_first_responses
        self.keys: list[str | None] = []

    def place(self, sku: str, qty: int) -> dict[str, Any]:
        """Place an order."""
        key = ensure_config()["configurable"].get("agentpatterns_effect_key")
        self.keys.append(key)
        self.writes.append((sku, qty))
        if self.lose > 0:
            self.lose -= 1
            raise ConnectionError("connection reset after commit")
        return {"order_id": len(self.writes), "sku": sku}

    def reconcile(self, args: dict[str, Any]) -> Any:
        for i, (sku, qty) in enumerate(self.writes):
            if (sku, qty) == (args["sku"], args["qty"]):
                return {"order_id": i + 1, "sku": sku}
        return None


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_same_order_never_placed_twice(mode: str, store_url: str) -> None:
    """Failure story: the same order processed twice after a retry. The write commits, the
    response is lost, the retry reconciles instead of writing again; a replay of the whole
    step gets the ledger's stored result."""
    orders = Orders(lose_first_responses=1)
    with EffectLedger(store_url) as ledger:
        reg = ToolRegistry(ledger=ledger)
        reg.register(
            orders.place,
            policy=ToolPolicy(
                retry=Retry(stop=stop_after_attempt(3), wait=wait_none()),
                side_effect=True,
                reconcile=orders.reconcile,
                timeout=5.0,
            ),
        )
        state, config = plan(("place", {"sku": "A1", "qty": 2}))
        first = await run(tool_executor(reg), state, config, mode)
        replay = await run(tool_executor(reg), state, config, mode)
        assert first[0]["ok"] and replay[0]["ok"], (first, replay)
        assert first[0]["output"] == replay[0]["output"] == {"order_id": 1, "sku": "A1"}
        assert orders.writes == [("A1", 2)]
        effect = ledger.get(f"{config['configurable']['thread_id']}::c0")
        assert effect is not None and effect.status == "done" and effect.tool == "place"
        assert orders.keys == [f"{config['configurable']['thread_id']}::c0"]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_breaker_and_fallback_through_executor(mode: str) -> None:
    attempts = [0]

    def quote(sku: str) -> float:
        """Price lookup on a service that is down."""
        attempts[0] += 1
        raise ConnectionError("pricing down")

    def ok(sku: str) -> str:
        """A healthy tool next to it."""
        return sku

    breaker = CircuitBreaker("pricing", failure_threshold=2, reset_timeout=300)
    reg = ToolRegistry()
    reg.register(
        quote,
        policy=ToolPolicy(
            retry=Retry(stop=stop_after_attempt(2), wait=wait_none()),
            breaker=breaker,
            fallback=Fallback(Degraded("price unavailable")),
            timeout=1.0,
        ),
    )
    reg.register(ok)
    state, config = plan(*[("quote", {"sku": f"s{i}"}) for i in range(6)], ("ok", {"sku": "x"}))
    outs = await run(tool_executor(reg), state, config, mode)
    assert all(o["ok"] for o in outs), outs  # one failing tool does not abort the flow
    assert [o["output"] for o in outs[:6]] == ["price unavailable"] * 6
    assert outs[6]["output"] == "x"
    # the six calls ran in parallel, so each passed the still-closed breaker: bounded by
    # calls x attempts; once open, a second round fails fast without touching the service
    assert breaker.state == "open" and attempts[0] <= 6 * 2
    before = attempts[0]
    outs = await run(tool_executor(reg), state, config, mode)
    assert [o["output"] for o in outs[:6]] == ["price unavailable"] * 6
    assert attempts[0] == before


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_exhausted_side_effect_can_run_again_later(mode: str) -> None:
    calls = [0]

    def send(to: str) -> str:
        """Send a message."""
        calls[0] += 1
        if calls[0] <= 2:
            raise TimeoutError("smtp slow")
        return "sent"

    ledger = EffectLedger("memory:")
    reg = ToolRegistry(ledger=ledger)
    reg.register(
        send,
        policy=ToolPolicy(
            retry=Retry(stop=stop_after_attempt(2), wait=wait_none()), side_effect=True
        ),
    )
    state, config = plan(("send", {"to": "a@b"}))
    outs = await run(tool_executor(reg), state, config, mode)
    assert not outs[0]["ok"] and outs[0]["error_type"] == "RetryExhaustedError"
    assert ledger.get(f"{config['configurable']['thread_id']}::c0").status == "failed"  # type: ignore[union-attr]
    outs = await run(tool_executor(reg), state, config, mode)
    assert outs[0]["ok"] and outs[0]["output"] == "sent" and calls[0] == 3
