"""customer_service end to end: happy paths, policy, allow-lists, faults, escalation, planners."""

from __future__ import annotations

import random
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agentpatterns.testing.faults import FaultInjector, fault_profile
from graphs._common import resources_of
from graphs.customer_service import ScriptedPlanner, build

pytestmark = pytest.mark.usefixtures("tau2")

EMAIL = "sofia.rossi2645@example.com"
ADDRESS = "445 Maple Drive, Suite 394, Fort Worth, TX 76165"


def _graph(**kwargs: Any) -> tuple[Any, Any]:
    from tools.retail import RetailStore

    store = RetailStore("memory:")
    graph = build(store=store, **kwargs).compile(checkpointer=InMemorySaver())
    return graph, store


def test_cancel_happy_path(cfg: dict[str, Any]) -> None:
    graph, store = _graph()
    out = graph.invoke(
        {"request": "Cancel order #W5918442, I no longer need it", "email": EMAIL, "confirm": True},
        cfg,
    )
    assert out["status"] == "done" and out["validated"]
    assert out["answer"] == "Done: cancel order #W5918442 (no longer needed)."
    assert [t["to"] for t in out["transitions"]] == [
        "authenticate",
        "understand",
        "plan",
        "confirm",
        "execute",
        "validate",
        "respond",
        "done",
    ]
    assert store.get_order("#W5918442")["status"] == "cancelled"
    assert len(store.write_log()) == 1


def test_confirmation_interrupt_then_yes(cfg: dict[str, Any]) -> None:
    graph, store = _graph()
    request = (
        f"I am Sofia Rossi, zip 78784. Ship order #W5500815 to {ADDRESS} "
        "and cancel order #W2818151 because I no longer need it"
    )
    paused = graph.invoke({"request": request}, cfg)
    question = paused["__interrupt__"][0].value
    assert [c["name"] for c in question["calls"]] == [
        "modify_pending_order_address",
        "cancel_pending_order",
    ]
    assert store.write_log() == []  # nothing written before the customer said yes
    out = graph.invoke(Command(resume="yes"), cfg)
    assert out["status"] == "done" and out["validated"]
    assert store.get_order("#W5500815")["address"]["city"] == "Fort Worth"
    assert store.get_order("#W2818151")["status"] == "cancelled"


def test_confirmation_no_changes_nothing(cfg: dict[str, Any]) -> None:
    graph, store = _graph()
    graph.invoke({"request": "cancel order #W5918442, ordered by mistake", "email": EMAIL}, cfg)
    out = graph.invoke(Command(resume={"confirm": False}), cfg)
    assert out["status"] == "done" and out["answer"] == "Okay, I have not changed anything."
    assert store.write_log() == []


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("cancel order #W8535951, ordered by mistake", "only pending orders"),
        ("cancel order #W2611340, ordered by mistake", "does not belong"),
        ("cancel order #W5918442", "I need the reason"),
        ("return order #W5918442", "only delivered orders"),
        ("cancel order #W0000000, no longer needed", "could not find order"),
    ],
)
def test_policy_denials_write_nothing(
    cfg: dict[str, Any], request_text: str, expected: str
) -> None:
    graph, store = _graph()
    out = graph.invoke({"request": request_text, "email": EMAIL, "confirm": True}, cfg)
    assert out["status"] == "done"
    assert expected in out["answer"]
    assert store.write_log() == []


def test_information_request_and_identity(cfg: dict[str, Any]) -> None:
    graph, _ = _graph()
    out = graph.invoke({"request": "where is order #W8535951?", "email": EMAIL}, cfg)
    assert out["answer"].startswith("Order #W8535951 is delivered")
    anon = graph.invoke(
        {"request": "where is order #W8535951?"}, {"configurable": {"thread_id": "x"}}
    )
    assert anon["status"] == "done" and "verify your identity" in anon["answer"]
    nobody = graph.invoke(
        {"request": "where is order #W8535951?", "email": "nobody@example.com"},
        {"configurable": {"thread_id": "y"}},
    )
    assert "could not find a customer" in nobody["answer"]


def test_allow_lists_reads_for_everyone_writes_only_for_execute() -> None:
    from tools.retail import READ_TOOLS, WRITE_TOOLS

    registry = resources_of(build())
    assert registry is not None
    reg = registry.extra["registry"]
    assert all(reg.allows("reader", t) for t in READ_TOOLS)
    assert not any(reg.allows("reader", t) for t in WRITE_TOOLS)
    assert all(reg.allows("writer", t) for t in WRITE_TOOLS)
    assert not any(reg.allows("default", t) for t in WRITE_TOOLS)


def test_other_requests_and_multi_turn_thread(cfg: dict[str, Any]) -> None:
    graph, store = _graph()
    base = {"email": EMAIL, "confirm": True}
    out = graph.invoke({**base, "request": f"change my address to {ADDRESS}"}, cfg)
    assert out["validated"] and store.get_user("sofia_rossi_8776")["address"]["zip"] == "76165"
    out = graph.invoke(
        {**base, "request": "exchange 7902309762 for 6254646215 in order #W5500815"}, cfg
    )
    assert "only delivered orders" in out["answer"]
    out = graph.invoke(
        {**base, "request": "modify item 7902309762 to 6254646215 in order #W5500815"}, cfg
    )
    assert out["validated"], out["answer"]
    assert store.get_order("#W5500815")["status"] == "pending (item modified)"
    out = graph.invoke({**base, "request": "return order #W8535951"}, cfg)
    assert out["validated"] and store.get_order("#W8535951")["status"] == "return requested"
    assert out["turn"] == 4 and len(store.write_log()) == 3


def test_unknown_request_escalates_and_resumes(cfg: dict[str, Any]) -> None:
    graph, store = _graph()
    paused = graph.invoke({"request": "I want a price match on my TV", "email": EMAIL}, cfg)
    request = paused["__interrupt__"][0].value
    assert "outside my policy" in request["reason"] and request["node"] == "escalate"
    assert graph.get_state(cfg).next == ("human",)
    again = graph.invoke(Command(resume={"action": "maybe"}), cfg)  # invalid: asked again
    assert "action" in again["__interrupt__"][0].value["error"]
    out = graph.invoke(Command(resume={"action": "approve", "note": "matched", "by": "ana"}), cfg)
    assert out["status"] == "escalated"
    assert out["answer"].endswith("ana approved your request: matched")
    assert store.write_log() == []


def test_partial_failure_compensates_then_human_retry(cfg: dict[str, Any]) -> None:
    """Second write hits an outage: the first is compensated, a human retries later."""
    from tools.retail import RetailStore

    store = RetailStore("memory:")
    original = store.get_order("#W5500815")["address"]
    faults = FaultInjector(1, outage=True, tools=["cancel_pending_order"])
    graph = build(store=store, faults=faults, breaker=None).compile(checkpointer=InMemorySaver())
    request = f"ship order #W5500815 to {ADDRESS} and cancel order #W2818151, no longer needed"
    paused = graph.invoke({"request": request, "email": EMAIL, "confirm": True}, cfg)
    reason = paused["__interrupt__"][0].value["reason"]
    assert "cancel_pending_order failed" in reason and "1 earlier change(s) rolled back" in reason
    assert store.get_order("#W5500815")["address"] == original
    assert store.get_order("#W2818151")["status"] == "pending"
    assert paused["compensated"] == [{"id": "t1c0", "name": "modify_pending_order_address"}]
    ledger = resources_of(graph).ledger  # type: ignore[union-attr]
    assert [e.compensated for e in ledger.effects(cfg["configurable"]["thread_id"])] == [
        True,
        False,
    ]
    faults.outage = False  # the store is back: the human asks to try again
    out = graph.invoke(Command(resume={"action": "retry", "by": "ops"}), cfg)
    assert out["validated"], out
    assert store.get_order("#W5500815")["address"]["city"] == "Fort Worth"
    assert store.get_order("#W2818151")["status"] == "cancelled"


def test_outage_opens_breaker_and_escalates(cfg: dict[str, Any]) -> None:
    graph, _ = _graph(faults=FaultInjector(2, outage=True))
    paused = graph.invoke({"request": "where is order #W8535951?", "email": EMAIL}, cfg)
    assert "store failed" in paused["__interrupt__"][0].value["reason"]
    breaker = resources_of(graph).extra["registry"].policy("get_order_details").breaker  # type: ignore[union-attr]
    out = graph.invoke({"request": "where is order #W8535951?", "email": EMAIL}, cfg)
    out = graph.invoke({"request": "where is order #W8535951?", "email": EMAIL}, cfg)
    assert breaker.state == "open"
    assert "CircuitOpenError" in out["__interrupt__"][0].value["reason"]


@pytest.mark.parametrize("profile", ["flaky-30", "lost-response"])
def test_scripted_tasks_under_faults_match_fault_free_replay(profile: str) -> None:
    """τ² ground truth under faults: same final store as a fault-free replay, no duplicates."""
    from tools.retail import RetailStore, load_tasks, replay

    from .conftest import duplicate_writes

    tasks = [t for t in load_tasks() if len(t["evaluation_criteria"]["actions"]) >= 3]
    for task in random.Random(profile).sample(tasks, 6):
        store = RetailStore("memory:")
        faults = fault_profile(profile, seed=int(task["id"]))
        graph = build(store=store, faults=faults).compile(checkpointer=InMemorySaver())
        out = graph.invoke({"tau2_task": task["id"]}, {"configurable": {"thread_id": "s"}})
        assert out["status"] == "done", (task["id"], out.get("escalation_reason"))
        assert store.state_hash() == replay(task).state_hash, task["id"]
        assert duplicate_writes(store.write_log()) == 0
        assert sum(faults.counts[k] for k in ("transient", "timeout", "lost_response")) > 0


def test_scripted_planner_with_task_and_async(cfg: dict[str, Any]) -> None:
    import asyncio

    from tools.retail import RetailStore, load_tasks, replay

    task = load_tasks()[5]
    store = RetailStore("memory:")
    graph = build(planner=ScriptedPlanner(task), store=store).compile(checkpointer=InMemorySaver())
    out = asyncio.run(graph.ainvoke({}, cfg))
    assert out["status"] == "done" and out["auth_method"] == "script"
    assert store.state_hash() == replay(task).state_hash


def test_model_planner_with_fake_chat_model(cfg: dict[str, Any]) -> None:
    """A chat model's read calls run at once; its write call becomes the plan."""
    model = GenericFakeChatModel(
        messages=iter(
            [
                AIMessage(
                    "",
                    tool_calls=[
                        {"name": "get_order_details", "args": {"order_id": "#W5918442"}, "id": "r1"}
                    ],
                ),
                AIMessage(
                    "",
                    tool_calls=[
                        {
                            "name": "cancel_pending_order",
                            "args": {"order_id": "#W5918442", "reason": "no longer needed"},
                            "id": "w1",
                        }
                    ],
                ),
            ]
        )
    )
    graph, store = _graph(planner=model)
    paused = graph.invoke({"request": "please cancel #W5918442", "email": EMAIL}, cfg)
    assert paused["__interrupt__"][0].value["calls"][0]["name"] == "cancel_pending_order"
    out = graph.invoke(Command(resume=True), cfg)
    assert out["status"] == "done" and store.get_order("#W5918442")["status"] == "cancelled"
    assert any(m.type == "tool" for m in out["messages"])  # the read's result was fed back
