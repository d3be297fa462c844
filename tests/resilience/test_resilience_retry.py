"""Retry: classification table, Retry-After, per-run budget, LangGraph node policy."""

from __future__ import annotations

import operator
import urllib.error
from email.message import Message
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, ValidationError
from tenacity import stop_after_attempt, stop_after_delay, wait_exponential_jitter, wait_none

from agentpatterns.errors import (
    CircuitOpenError,
    RetryExhaustedError,
    StepTimeoutError,
    ToolContractError,
)
from agentpatterns.events import Event, listen
from agentpatterns.resilience import Retry, RetryBudget, classify_error, retry_scope


class HTTPStatusError(Exception):
    def __init__(self, status_code: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.response = type("R", (), {"status_code": status_code, "headers": headers or {}})()


class RateLimited(Exception):
    retry_after = 2.5


def _validation_error() -> ValidationError:
    class M(BaseModel):
        x: int

    try:
        M.model_validate({"x": "nope"})
    except ValidationError as exc:
        return exc
    raise AssertionError


def _url_error(code: int) -> urllib.error.HTTPError:
    headers = Message()
    headers["Retry-After"] = "3"
    return urllib.error.HTTPError("http://x", code, "m", headers, None)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ConnectionError("reset"), "transient"),
        (TimeoutError(), "transient"),
        (StepTimeoutError("slow"), "transient"),
        (OSError("disk"), "transient"),
        (HTTPStatusError(503), "transient"),
        (HTTPStatusError(408), "transient"),
        (HTTPStatusError(404), "permanent"),
        (HTTPStatusError(400), "permanent"),
        (HTTPStatusError(429), "rate_limited"),
        (_url_error(429), "rate_limited"),
        (_url_error(404), "permanent"),
        (RateLimited(), "rate_limited"),
        (ValueError("order not found"), "permanent"),
        (KeyError("k"), "permanent"),
        (TypeError(), "permanent"),
        (_validation_error(), "permanent"),
        (ToolContractError("bad args"), "permanent"),
        (CircuitOpenError("open"), "permanent"),
    ],
)
def test_classification_table(exc: BaseException, expected: str) -> None:
    assert classify_error(exc) == expected
    assert Retry().retry_on(exc) is (expected != "permanent")


def _flaky(failures: list[BaseException], result: Any = "ok") -> Any:
    calls: list[int] = []

    def fn() -> Any:
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return result

    fn.calls = calls  # type: ignore[attr-defined]
    return fn


def test_transient_retried_permanent_not() -> None:
    sleeps: list[float] = []
    retry = Retry(stop=stop_after_attempt(4), wait=wait_none(), sleep=sleeps.append)
    fn = _flaky([TimeoutError(), ConnectionError()])
    assert retry.call(fn) == "ok" and len(fn.calls) == 3 and sleeps == [0.0, 0.0]
    fn404 = _flaky([HTTPStatusError(404)])
    with pytest.raises(HTTPStatusError):
        retry.call(fn404)
    assert len(fn404.calls) == 1


def test_429_honours_retry_after_and_cap() -> None:
    sleeps: list[float] = []
    retry = Retry(stop=stop_after_attempt(3), wait=wait_none(), sleep=sleeps.append)
    assert retry.call(_flaky([RateLimited(), HTTPStatusError(429, {"Retry-After": "1.5"})])) == "ok"
    assert sleeps == [2.5, 1.5]
    capped = Retry(
        stop=stop_after_attempt(3), wait=wait_none(), max_retry_after=1.0, sleep=sleeps.append
    )
    with pytest.raises(RetryExhaustedError, match="Retry-After"):
        capped.call(_flaky([RateLimited()]))


def test_exhausted_error_carries_node_attempt_cause_and_events() -> None:
    events: list[Event] = []
    retry = Retry(
        stop=stop_after_attempt(3) | stop_after_delay(30),
        wait=wait_exponential_jitter(multiplier=0.01, max=0.02),
        name="lookup",
        sleep=lambda s: None,
    )
    with listen(events.append), pytest.raises(RetryExhaustedError) as info:
        retry.call(_flaky([ConnectionError("a")] * 5))
    err = info.value
    assert err.node == "lookup" and err.attempt == 3 and isinstance(err.cause, ConnectionError)
    assert isinstance(err.__cause__, ConnectionError)
    kinds = [e.kind for e in events]
    assert kinds == ["retry", "retry", "retry_exhausted"]
    assert events[0].attrs["classification"] == "transient"


def test_budget_stops_retry_loops_on_network_jitter() -> None:
    """Failure story: retries looping forever on network jitter. Many calls in one run,
    each flaky: the run's budget bounds the total retries."""
    budget = RetryBudget(max_retries=10, max_seconds=60)
    retry = Retry(stop=stop_after_attempt(5), wait=wait_none(), budget=budget, sleep=lambda s: None)
    attempts = 0

    def jittery() -> str:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("jitter")

    outcomes: list[str] = []
    with retry_scope():
        for _ in range(20):
            try:
                retry.call(jittery)
            except RetryExhaustedError as exc:
                outcomes.append("budget" if "budget" in str(exc) else "stop")
    assert attempts == 20 + 10  # every call once, plus the run's 10 retries in total
    assert outcomes.count("budget") >= 17
    # the next run gets a fresh budget
    with retry_scope(), pytest.raises(RetryExhaustedError, match="gave up"):
        retry.call(jittery)


def test_budget_elapsed_seconds() -> None:
    retry = Retry(
        stop=stop_after_attempt(50),
        wait=wait_none(),
        sleep=lambda s: None,
        budget=RetryBudget(max_retries=100, max_seconds=0.05),
    )
    with retry_scope(), pytest.raises(RetryExhaustedError, match="budget"):
        import time

        retry.call(lambda: (time.sleep(0.01), (_ for _ in ()).throw(TimeoutError()))[1])


async def test_acall_retries_with_asyncio_sleep() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise TimeoutError
        return "ok"

    retry = Retry(stop=stop_after_attempt(3), wait=wait_none())
    assert await retry.acall(flaky) == "ok" and calls == 3

    async def missing() -> str:
        raise HTTPStatusError(404)

    with pytest.raises(HTTPStatusError):
        await retry.acall(missing)


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]


def _graph(node: Any, retry: Retry) -> Any:
    builder = StateGraph(S)
    builder.add_node("work", node, retry_policy=retry.as_retry_policy())
    builder.add_edge(START, "work")
    builder.add_edge("work", END)
    return builder.compile()


def test_as_retry_policy_fixes_langgraph_default() -> None:
    retry = Retry(
        stop=stop_after_attempt(4),
        wait=wait_exponential_jitter(multiplier=0.001, max=0.002, jitter=0),
    )
    policy = retry.as_retry_policy()
    assert policy.max_attempts == 4 and policy.jitter is False
    timeouts = _flaky([TimeoutError(), TimeoutError()], {"log": ["done"]})
    assert _graph(lambda s: timeouts(), retry).invoke({})["log"] == ["done"]
    assert len(timeouts.calls) == 3  # LangGraph's default_retry_on would not retry this
    not_found = _flaky([HTTPStatusError(404)], {"log": ["done"]})
    with pytest.raises(HTTPStatusError):
        _graph(lambda s: not_found(), retry).invoke({})
    assert len(not_found.calls) == 1  # ... and would retry this one


def test_as_retry_policy_draws_on_run_budget() -> None:
    retry = Retry(
        stop=stop_after_attempt(10),
        wait=wait_exponential_jitter(multiplier=0.001, max=0.001),
        budget=RetryBudget(max_retries=2),
    )
    always = _flaky([ConnectionError()] * 100)
    with retry_scope(), pytest.raises(ConnectionError):
        _graph(lambda s: always(), retry).invoke({})
    assert len(always.calls) == 3


def test_node_retry_budget_is_per_thread_without_scope() -> None:
    """Without retry_scope, node-level retries of one thread do not eat another's budget."""
    from langgraph.checkpoint.memory import InMemorySaver

    retry = Retry(
        stop=stop_after_attempt(3),
        wait=wait_none(),
        budget=RetryBudget(max_retries=2, max_seconds=60),
    )
    builder = StateGraph(S)
    always = _flaky([ConnectionError()] * 100)
    builder.add_node("work", lambda s: always(), retry_policy=retry.as_retry_policy())
    builder.add_edge(START, "work")
    graph = builder.compile(checkpointer=InMemorySaver())
    for thread in ("a", "b"):
        before = len(always.calls)
        with pytest.raises(ConnectionError):
            graph.invoke({}, {"configurable": {"thread_id": f"budget-{thread}"}})
        assert len(always.calls) - before == 3  # each thread gets its own 2 retries
