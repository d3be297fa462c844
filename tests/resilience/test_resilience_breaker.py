"""CircuitBreaker and Fallback: state changes, shared store across processes, hard-down story."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agentpatterns.alerts import DEFAULT_RULES, Alert, Alerter, CallableSink
from agentpatterns.errors import CircuitOpenError, FallbackExhaustedError
from agentpatterns.events import Event, listen
from agentpatterns.resilience import (
    CircuitBreaker,
    Degraded,
    Escalate,
    Escalation,
    Fallback,
    LastGood,
    Retry,
    guarded,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _down() -> str:
    raise ConnectionError("refused")


def _hit(breaker: CircuitBreaker, fn: Any) -> str:
    try:
        return breaker.call(fn)
    except CircuitOpenError:
        return "open"
    except ConnectionError:
        return "error"


def test_open_half_open_close_cycle() -> None:
    clock = Clock()
    events: list[Event] = []
    breaker = CircuitBreaker("pay", failure_threshold=3, reset_timeout=10, clock=clock)
    with listen(events.append):
        assert [_hit(breaker, _down) for _ in range(5)] == ["error"] * 3 + ["open"] * 2
        assert breaker.state == "open"
        clock.now += 10
        assert _hit(breaker, _down) == "error"  # half-open probe fails -> open again
        assert breaker.state == "open"
        clock.now += 10
        assert _hit(breaker, lambda: "ok") == "ok"  # probe succeeds -> closed
    assert breaker.state == "closed"
    changes = [(e.attrs["old"], e.attrs["new"]) for e in events if e.kind == "breaker_state"]
    assert changes == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


def test_permanent_errors_do_not_trip_and_success_resets() -> None:
    breaker = CircuitBreaker("db", failure_threshold=2)

    def not_found() -> str:
        raise ValueError("order not found")

    for _ in range(5):
        with pytest.raises(ValueError):
            breaker.call(not_found)
    assert breaker.state == "closed"
    _hit(breaker, _down)
    breaker.call(lambda: "ok")  # consecutive count resets
    _hit(breaker, _down)
    assert breaker.state == "closed"


def test_half_open_admits_limited_probes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(
        "x", failure_threshold=1, reset_timeout=1, clock=clock, half_open_max_calls=1
    )
    _hit(breaker, _down)
    clock.now += 1
    inner: list[str] = []

    def probe() -> str:
        inner.append(_hit(breaker, lambda: "ok"))  # a second concurrent caller is refused
        return "ok"

    assert breaker.call(probe) == "ok" and inner == ["open"]
    assert breaker.state == "closed"


async def test_async_breaker() -> None:
    breaker = CircuitBreaker("a", failure_threshold=1, reset_timeout=60)

    async def down() -> str:
        raise TimeoutError

    with pytest.raises(TimeoutError):
        await breaker.acall(down)
    with pytest.raises(CircuitOpenError) as info:
        await breaker.acall(down)
    assert info.value.node == "a" and info.value.details["retry_in"] > 0


_CHILD = textwrap.dedent("""
    import sys
    from agentpatterns.resilience import CircuitBreaker
    from agentpatterns.errors import CircuitOpenError
    b = CircuitBreaker("shared", failure_threshold=3, reset_timeout=60, store=sys.argv[1])
    def down():
        raise ConnectionError("down")
    out = []
    for _ in range(int(sys.argv[2])):
        try:
            b.call(down)
        except CircuitOpenError:
            out.append("open")
        except ConnectionError:
            out.append("error")
    print(",".join(out), b.state)
""")


def _child(url: str, n: int) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, url, str(n)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout.strip()


def test_shared_store_across_two_processes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'breakers.db'}"
    assert _child(url, 2) == "error,error closed"
    # a second process sees the first one's failures and opens after one more
    assert _child(url, 3) == "error,open,open open"
    here = CircuitBreaker("shared", failure_threshold=3, reset_timeout=60, store=url)
    try:
        assert here.state == "open"
        with pytest.raises(CircuitOpenError):
            here.call(lambda: "never runs")
        here.reset()
        assert here.call(lambda: "ok") == "ok"
    finally:
        here.close()


def test_shared_store_postgres(postgres_url: str) -> None:
    a = CircuitBreaker("pg", failure_threshold=2, reset_timeout=60, store=postgres_url)
    b = CircuitBreaker("pg", failure_threshold=2, reset_timeout=60, store=postgres_url)
    try:
        _hit(a, _down)
        _hit(b, _down)
        assert a.state == "open" and _hit(b, lambda: "ok") == "open"
    finally:
        a.close()
        b.close()


def test_fallback_chain_records_reason() -> None:
    events: list[Event] = []
    cache = LastGood()
    calls = {"n": 0}

    def price(sku: str) -> float:
        calls["n"] += 1
        if calls["n"] > 1:
            raise ConnectionError("pricing down")
        return 9.5

    def other_provider(sku: str) -> float:
        raise TimeoutError("also down")

    chain = Fallback(other_provider, cache, Degraded(None))
    with listen(events.append):
        assert chain.call(price, "A") == 9.5
        assert chain.call(price, "A") == 9.5  # served from the cache
        assert chain.call(price, "B") is None  # no cache entry: degraded answer
    fallbacks = [e.attrs for e in events if e.kind == "fallback"]
    assert [f["alternative"] for f in fallbacks] == ["last_good", "degraded"]
    assert "pricing down" in fallbacks[0]["reason"]


def test_fallback_permanent_error_is_the_answer_and_exhaustion() -> None:
    def missing() -> str:
        raise ValueError("no such order")

    with pytest.raises(ValueError):
        Fallback(Degraded("x")).call(missing)
    with pytest.raises(FallbackExhaustedError) as info:
        Fallback(lambda: (_ for _ in ()).throw(OSError("b"))).call(_down)
    assert isinstance(info.value.cause, ConnectionError)
    marker = Fallback(Escalate("payments down")).call(_down)
    assert isinstance(marker, Escalation) and marker.target == "_down"


async def test_fallback_async_alternatives() -> None:
    async def down() -> str:
        raise ConnectionError

    async def alt() -> str:
        return "alt"

    assert await Fallback(alt).acall(down) == "alt"


def test_hard_down_dependency_story() -> None:
    """Hard-down dependency: breaker opens after the threshold, calls are bounded, the alert
    fires once, the fallback answers every call."""
    attempts = {"n": 0}

    def call() -> str:
        attempts["n"] += 1
        raise ConnectionError("payments unreachable")

    class Policy:
        retry = Retry(sleep=lambda s: None)
        breaker = CircuitBreaker("payments", failure_threshold=3, reset_timeout=300)
        fallback = Fallback(Degraded("payment queued for later"))
        side_effect = False
        reconcile = None

    alerts: list[Alert] = []
    with Alerter([CallableSink(alerts.append)], rules=DEFAULT_RULES):
        answers = [
            guarded(Policy, call, tool="pay", call_id=f"c{i}", args={"i": i}, key=None, ledger=None)
            for i in range(50)
        ]
    assert answers == ["payment queued for later"] * 50
    assert Policy.breaker.state == "open"
    assert attempts["n"] <= 3 * 3  # at most threshold calls x attempts, then fail fast
    assert [a.name for a in alerts].count("breaker_open") == 1


async def test_async_breaker_with_shared_sqlite_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    a = CircuitBreaker("svc", failure_threshold=2, reset_timeout=60, store=url)
    b = CircuitBreaker("svc", failure_threshold=2, reset_timeout=60, store=url)

    async def down() -> str:
        raise ConnectionError

    async def up() -> str:
        return "ok"

    try:
        assert await a.acall(up) == "ok"
        for breaker in (a, b):
            with pytest.raises(ConnectionError):
                await breaker.acall(down)
        with pytest.raises(CircuitOpenError):
            await b.acall(up)
        assert a.state == b.state == "open"
    finally:
        a.close()
        b.close()


def test_retry_wrap_marks_the_callable() -> None:
    retry = Retry(sleep=lambda s: None)
    wrapped = retry.wrap(_down)
    assert wrapped.__agentpatterns__ == {"retry": retry}  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="gave up after 3"):
        wrapped()
