"""FaultInjector: determinism, each fault type, profiles, crash in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.runnables.config import ensure_config
from langchain_core.tools import BaseTool, tool

from agentpatterns.errors import ConfigurationError
from agentpatterns.orchestration import ToolRegistry, tool_executor
from agentpatterns.testing.faults import (
    FAULT_PROFILES,
    FaultInjector,
    InjectedTimeout,
    LostResponseFault,
    PermanentFault,
    RateLimitFault,
    TransientFault,
    fault_profile,
)


def make_counter() -> tuple[BaseTool, list[Any]]:
    committed: list[Any] = []

    @tool
    def write(value: int) -> str:
        """Commit a value."""
        committed.append(value)
        return f"wrote {value}"

    return write, committed


def outcomes(t: BaseTool, n: int) -> list[str]:
    out = []
    for i in range(n):
        try:
            out.append(t.invoke({"value": i}))
        except Exception as exc:
            out.append(type(exc).__name__)
    return out


def test_deterministic_for_a_seed_and_differs_across_seeds() -> None:
    kw: dict[str, Any] = {"transient_rate": 0.2, "permanent_rate": 0.1, "rate_limit_rate": 0.1}
    runs = [outcomes(FaultInjector(s, **kw).wrap(make_counter()[0]), 200) for s in (1, 1, 2)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    faults = sum(1 for r in runs[0] if not r.startswith("wrote"))
    assert 60 <= faults <= 100  # ~40 % of 200


def test_streams_are_per_tool() -> None:
    inj = FaultInjector(3, transient_rate=0.5)
    a, b = inj.wrap(make_counter()[0]), make_counter()[0]
    b.name = "other"
    first = outcomes(a, 20)
    outcomes(inj.wrap(b), 20)  # calls of another tool do not shift a's stream
    again = FaultInjector(3, transient_rate=0.5).wrap(make_counter()[0])
    assert outcomes(again, 20) == first


@pytest.mark.parametrize(
    ("kwargs", "exc", "commits"),
    [
        ({"transient_rate": 1.0}, TransientFault, False),
        ({"timeout_rate": 1.0}, InjectedTimeout, False),
        ({"lost_response_rate": 1.0}, LostResponseFault, True),
        ({"permanent_rate": 1.0}, PermanentFault, False),
        ({"rate_limit_rate": 1.0, "retry_after": 2.5}, RateLimitFault, False),
        ({"outage": True}, TransientFault, False),
    ],
)
async def test_each_fault_type(kwargs: dict[str, Any], exc: type[Exception], commits: bool) -> None:
    raw, committed = make_counter()
    inj = FaultInjector(0, **kwargs)
    faulty = inj.wrap(raw)
    with pytest.raises(exc):
        faulty.invoke({"value": 1})
    with pytest.raises(exc):
        await faulty.ainvoke({"value": 2})
    assert committed == ([1, 2] if commits else [])
    assert inj.counts["calls"] == 2 and inj.by_tool["write"]["calls"] == 2
    if exc is RateLimitFault:
        with pytest.raises(RateLimitFault) as info:
            faulty.invoke({"value": 3})
        assert info.value.retry_after == 2.5 and info.value.status_code == 429


def test_classification_bases() -> None:
    assert issubclass(TransientFault, ConnectionError)
    assert issubclass(LostResponseFault, ConnectionError)
    assert issubclass(InjectedTimeout, TimeoutError)
    assert issubclass(PermanentFault, ValueError)
    assert not issubclass(RateLimitFault, OSError | ValueError)


def test_latency_and_counts() -> None:
    raw, _committed = make_counter()
    inj = FaultInjector(5, latency=(0.01, 0.02))
    faulty = inj.wrap(raw)
    t0 = time.perf_counter()
    assert outcomes(faulty, 5) == [f"wrote {i}" for i in range(5)]
    assert time.perf_counter() - t0 >= 0.05
    assert inj.counts == {"calls": 5, "latency": 5}


def test_latency_accepts_a_number_or_any_pair_and_rejects_the_rest() -> None:
    assert FaultInjector(0, latency=json.loads("[0.001, 0.002]")).latency == (0.001, 0.002)
    assert FaultInjector(0, latency=[0, 1]).latency == (0.0, 1.0)
    assert FaultInjector(0, latency=(0.5, 0.5)).latency == (0.5, 0.5)
    assert FaultInjector(0, latency=0.25).latency == (0.25, 0.25)
    assert FaultInjector(0, latency=2).latency == (2.0, 2.0)
    raw, _committed = make_counter()
    inj = FaultInjector(3, latency=[0.001, 0.002])
    assert outcomes(inj.wrap(raw), 3) == [f"wrote {i}" for i in range(3)]
    assert inj.counts == {"calls": 3, "latency": 3}
    for bad in ([0.1], [0.1, 0.2, 0.3], [], "0.1", None, True, [0.1, "x"], float("nan"), {}):
        with pytest.raises(ConfigurationError, match="latency must be"):
            FaultInjector(0, latency=bad)  # type: ignore[arg-type]
    for bad in (-1.0, [-0.1, 0.2], [0.2, 0.1]):
        with pytest.raises(ConfigurationError, match="latency must be >= 0"):
            FaultInjector(0, latency=bad)


def test_wrapped_tool_keeps_contract_and_sees_effect_key() -> None:
    seen: list[Any] = []

    @tool
    def pay(amount: float, card: str) -> str:
        """Charge a card."""
        seen.append(ensure_config()["configurable"].get("agentpatterns_effect_key"))
        return "paid"

    faulty = FaultInjector(0).wrap(pay)
    assert faulty.name == pay.name and faulty.description == pay.description
    assert (
        faulty.tool_call_schema.model_json_schema()["properties"]
        == (pay.tool_call_schema.model_json_schema()["properties"])
    )
    faulty.invoke({"amount": 3, "card": "x"}, {"configurable": {"agentpatterns_effect_key": "k1"}})
    assert seen == ["k1"]


def test_only_selected_tools_get_faults_and_executor_reports_them() -> None:
    write, _committed = make_counter()

    @tool
    def read(value: int) -> int:
        """Read."""
        return value

    inj = FaultInjector(0, transient_rate=1.0, tools=["write"])
    reg = ToolRegistry()
    for t in inj.wrap_all([write, read]):
        reg.register(t)
    plan = [
        {"name": "write", "args": {"value": 1}, "id": "w"},
        {"name": "read", "args": {"value": 2}, "id": "r"},
    ]
    out = tool_executor(reg)({"plan": plan})["tool_outcomes"]
    assert [o["ok"] for o in out] == [False, True]
    assert out[0]["error_type"] == "TransientFault"
    assert out[0]["content"].startswith("ToolExecutionError: TransientFault: injected transient")


def test_profiles_and_bad_configuration() -> None:
    assert set(FAULT_PROFILES) == {
        "none", "latency", "flaky-10", "flaky-30", "lost-response",
        "partial-write-crash", "outage", "rate-limit",
    }  # fmt: skip
    for name in FAULT_PROFILES:
        assert fault_profile(name, seed=1).seed == 1
    assert fault_profile("outage", 1).outage
    assert fault_profile("flaky-30", 1, timeout_rate=0.0).rates["timeout"] == 0.0
    with pytest.raises(ConfigurationError, match="unknown fault profile"):
        fault_profile("chaos", 1)
    for bad in (
        {"transient_rate": 1.5},
        {"transient_rate": 0.6, "permanent_rate": 0.6},
        {"latency": -1.0},
        {"latency": (0.2, 0.1)},
        {"crash_point": "middle"},
        {"retry_after": -1},
    ):
        with pytest.raises(ConfigurationError):
            FaultInjector(0, **bad)


CRASH_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from langchain_core.tools import tool
    from agentpatterns.testing.faults import FaultInjector

    log = Path(sys.argv[1])

    @tool
    def write(value: int) -> str:
        '''Append a value durably.'''
        with log.open("a") as f:
            f.write(f"{value}\\n")
        return "ok"

    faulty = FaultInjector(0, crash_rate=1.0, crash_point=sys.argv[2]).wrap(write)
    faulty.invoke({"value": 1})
    print("survived")
    """
)


@pytest.mark.parametrize(("point", "lines"), [("after", ["1"]), ("before", [])])
def test_crash_kills_the_process_before_or_after_commit(
    tmp_path: Path, point: str, lines: list[str]
) -> None:
    log = tmp_path / "log.txt"
    log.touch()
    proc = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(log), point],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr
    assert "survived" not in proc.stdout
    assert log.read_text().split() == lines


def test_wrapped_tool_reports_one_tool_run_to_callbacks() -> None:
    """The inner call must not show up as a second tool run (duplicate spans/audit rows)."""
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.tools import tool as make_tool

    from agentpatterns.testing.faults import FaultInjector

    starts: list[str] = []

    class Count(BaseCallbackHandler):
        def on_tool_start(self, serialized: Any, input_str: str, **kwargs: Any) -> None:
            starts.append(serialized.get("name", "?"))

    @make_tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    twice = FaultInjector(1).wrap(FaultInjector(2).wrap(echo))
    assert twice.invoke({"text": "hi"}, {"callbacks": [Count()]}) == "hi"
    assert starts == ["echo"]
