"""Every branch of the guide's decision tree."""

from __future__ import annotations

import itertools
import json

import pytest

from agentpatterns.selector import WorkloadProfile, recommend


@pytest.mark.parametrize("tools", [0, 1])
def test_q1_no_is_simple_single_agent_and_stops(tools: int) -> None:
    rec = recommend(WorkloadProfile(tools=tools, predictable_order=True, high_risk=True))
    assert rec.architecture == "single_agent"
    assert rec.names() == ("observability", "error_handling")
    assert [s.question[:2] for s in rec.path] == ["Q1"]
    assert rec.path[0].answer == "no"
    assert all(p.level == "basic" for p in rec.patterns)


def test_q2_yes_layered_and_tool_orchestration() -> None:
    rec = recommend(WorkloadProfile(tools=6))
    assert rec.names()[:2] == ("layered", "tool_orchestration")
    assert "6 tools (> 5)" in rec.patterns[0].reason
    assert rec.path[1].answer == "yes"


@pytest.mark.parametrize("tools", [2, 5])
def test_q2_no_keeps_tools_in_the_agent(tools: int) -> None:
    rec = recommend(WorkloadProfile(tools=tools))
    assert rec.architecture == "multi_tool_agent"
    assert "layered" not in rec.names() and "tool_orchestration" not in rec.names()
    assert rec.path[1].answer == "no"


def test_q3_predictable_order_state_machine() -> None:
    assert "state_machine" in recommend(WorkloadProfile(tools=3, predictable_order=True)).names()
    assert "state_machine" not in recommend(WorkloadProfile(tools=3)).names()


def test_q4_high_risk_full_observability_and_human() -> None:
    rec = recommend(WorkloadProfile(tools=3, high_risk=True))
    obs = rec.get("observability")
    err = rec.get("error_handling")
    assert obs is not None and err is not None
    assert obs.level == "full" and "audit log" in obs.features
    assert "human-in-the-loop escalation" in err.features
    assert err.level == "basic"
    low = recommend(WorkloadProfile(tools=3)).get("observability")
    assert low is not None and low.level == "basic"


def test_q5_high_availability_full_error_handling() -> None:
    rec = recommend(WorkloadProfile(tools=3, high_availability=True))
    err = rec.get("error_handling")
    assert err is not None and err.level == "full"
    for feature in (
        "retry with exponential backoff",
        "circuit breaker",
        "fallback / degradation",
        "rollback with compensation",
    ):
        assert feature in err.features


@pytest.mark.parametrize(
    ("tools", "pred", "risk", "ha"),
    list(itertools.product([2, 9], [False, True], [False, True], [False, True])),
)
def test_every_multi_tool_path(tools: int, pred: bool, risk: bool, ha: bool) -> None:
    rec = recommend(WorkloadProfile(tools, pred, risk, ha))
    answers = [s.answer for s in rec.path]
    yn = lambda b: "yes" if b else "no"  # noqa: E731
    assert answers == ["yes", yn(tools > 5), yn(pred), yn(risk), yn(ha)]
    # the production basics are always there, last, with a reason each
    assert rec.names()[-2:] == ("observability", "error_handling")
    assert all(p.reason and p.api for p in rec.patterns)
    json.dumps(rec.to_dict())


def test_bad_profile_and_render() -> None:
    with pytest.raises(ValueError, match="tools"):
        WorkloadProfile(tools=-1)
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(recommend(WorkloadProfile(tools=7, high_risk=True)).render())
    text = console.export_text()
    assert "Q2 more than 5 tools?" in text and "layered" in text
