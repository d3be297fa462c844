"""Rollback with compensation, escalation to a human, error routing; failure stories."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command
from tenacity import stop_after_attempt, wait_none

from agentpatterns.alerts import DEFAULT_RULES, Alert, Alerter, CallableSink
from agentpatterns.errors import CircuitOpenError, CompensationError, RollbackError
from agentpatterns.events import Event, listen
from agentpatterns.resilience import (
    EffectLedger,
    Retry,
    arollback,
    error_router,
    escalate_to_human,
    last_where,
    rollback,
)


class Order(TypedDict, total=False):
    status: str
    done: Annotated[list[str], operator.add]
    escalation_reason: str
    human_decision: dict[str, Any]
    error: dict[str, Any]


class Shop:
    """A store with side effects and their compensations."""

    def __init__(self) -> None:
        self.stock = 10
        self.charged = 0
        self.log: list[str] = []
        self.fail_ship = True

    def reserve(self, args: dict[str, Any]) -> dict[str, Any]:
        self.stock -= args["qty"]
        self.log.append("reserve")
        return {"reserved": args["qty"]}

    def charge(self, args: dict[str, Any]) -> dict[str, Any]:
        self.charged += args["amount"]
        self.log.append("charge")
        return {"charge_id": "ch1"}

    def compensations(self) -> dict[str, Any]:
        def release(args: dict[str, Any], result: Any) -> None:
            self.stock += result["reserved"]
            self.log.append("release")

        def refund(args: dict[str, Any], result: Any) -> None:
            self.charged -= args["amount"]
            self.log.append("refund")

        return {"reserve": release, "charge": refund}


def _graph(shop: Shop, ledger: EffectLedger) -> Any:
    def effect(tool: str, args: dict[str, Any], config: RunnableConfig) -> None:
        thread_id = config["configurable"]["thread_id"]
        ledger.run_once(
            f"{thread_id}:{tool}",
            lambda: getattr(shop, tool)(args),
            tool=tool,
            args=args,
            thread_id=thread_id,
        )

    def validate(state: Order) -> dict[str, Any]:
        return {"status": "validated"}

    def reserve(state: Order, config: RunnableConfig) -> dict[str, Any]:
        effect("reserve", {"qty": 2}, config)
        return {"done": ["reserve"], "status": "reserved"}

    def charge(state: Order, config: RunnableConfig) -> dict[str, Any]:
        effect("charge", {"amount": 30}, config)
        return {"done": ["charge"], "status": "charged"}

    def ship(state: Order) -> dict[str, Any]:
        if shop.fail_ship:
            raise ValueError("address rejected by carrier")  # permanent: partial success
        return {"done": ["ship"], "status": "shipped"}

    b = StateGraph(Order)
    for name, fn in [
        ("validate", validate),
        ("reserve", reserve),
        ("charge", charge),
        ("ship", ship),
    ]:
        b.add_node(name, fn)
    b.add_edge(START, "validate")
    b.add_edge("validate", "reserve")
    b.add_edge("reserve", "charge")
    b.add_edge("charge", "ship")
    b.add_edge("ship", END)
    return b.compile(checkpointer=InMemorySaver())


def test_partial_success_rolls_back_with_compensation_newest_first() -> None:
    """Failure story: some tools succeeded while another failed -> inconsistent state.
    rollback rewinds to the last validated state and compensates newest first."""
    shop, ledger = Shop(), EffectLedger("memory:")
    graph = _graph(shop, ledger)
    config: RunnableConfig = {"configurable": {"thread_id": "o1"}}
    with pytest.raises(ValueError):
        graph.invoke({"done": []}, config)
    assert shop.stock == 8 and shop.charged == 30
    events: list[Event] = []
    with listen(events.append):
        new_config = rollback(
            graph,
            config,
            to=last_where(lambda s: s.values.get("status") == "validated"),
            ledger=ledger,
            compensations=shop.compensations(),
        )
    assert shop.log == ["reserve", "charge", "refund", "release"]
    assert shop.stock == 10 and shop.charged == 0
    assert all(e.compensated for e in ledger.effects("o1"))
    state = graph.get_state(config)
    assert state.values["status"] == "validated" and state.next == ("reserve",)
    assert (
        new_config["configurable"]["checkpoint_id"] == state.config["configurable"]["checkpoint_id"]
    )
    assert [e.kind for e in events] == ["rollback"] and events[0].attrs["compensated"] == 2
    # the thread continues from the validated state; the effects run again (they were undone)
    shop.fail_ship = False
    final = graph.invoke(None, config)
    assert final["status"] == "shipped" and shop.stock == 8 and shop.charged == 30
    # rolling back again finds nothing left to compensate twice
    assert rollback(
        graph,
        config,
        to=last_where(lambda s: s.values.get("status") == "validated"),
        ledger=ledger,
        compensations=shop.compensations(),
    )
    assert shop.stock == 10 and shop.charged == 0


def test_rollback_unknown_target() -> None:
    shop, ledger = Shop(), EffectLedger("memory:")
    graph = _graph(shop, ledger)
    config: RunnableConfig = {"configurable": {"thread_id": "o2"}}
    with pytest.raises(ValueError):
        graph.invoke({"done": []}, config)
    with pytest.raises(RollbackError):
        rollback(graph, config, to="no-such-checkpoint")
    with pytest.raises(RollbackError):
        rollback(graph, config, to=lambda s: s.values.get("status") == "never")


def test_failing_compensation_alerts_and_escalates() -> None:
    shop, ledger = Shop(), EffectLedger("memory:")
    graph = _graph(shop, ledger)
    config: RunnableConfig = {"configurable": {"thread_id": "o3"}}
    with pytest.raises(ValueError):
        graph.invoke({"done": []}, config)
    comps = shop.compensations()

    def refund_down(args: dict[str, Any], result: Any) -> None:
        raise ConnectionError("payments down")

    alerts: list[Alert] = []
    with (
        Alerter([CallableSink(alerts.append)], rules=DEFAULT_RULES),
        pytest.raises(CompensationError) as info,
    ):
        rollback(
            graph,
            config,
            to=last_where(lambda s: s.values.get("status") == "validated"),
            ledger=ledger,
            compensations={**comps, "charge": refund_down},
        )
    err = info.value
    assert err.details["key"] == "o3:charge" and err.details["pending"] == [
        "o3:charge",
        "o3:reserve",
    ]
    assert [a.name for a in alerts] == ["compensation_failed"]
    assert shop.charged == 30 and shop.stock == 8  # nothing compensated out of order
    # escalation path: the thread is already rewound; a retry after the fix finishes the job
    assert graph.get_state(err.details["config"]).values["status"] == "validated"
    rollback(
        graph,
        config,
        to=last_where(lambda s: s.values.get("status") == "validated"),
        ledger=ledger,
        compensations=comps,
    )
    assert shop.charged == 0 and shop.stock == 10


async def test_arollback() -> None:
    shop, ledger = Shop(), EffectLedger("memory:")
    graph = _graph(shop, ledger)
    config: RunnableConfig = {"configurable": {"thread_id": "o4"}}
    with pytest.raises(ValueError):
        await graph.ainvoke({"done": []}, config)
    comps = shop.compensations()

    async def refund(args: dict[str, Any], result: Any) -> None:
        comps["charge"](args, result)

    await arollback(
        graph,
        config,
        to=last_where(lambda s: s.values.get("status") == "validated"),
        ledger=ledger,
        compensations={**comps, "charge": refund},
    )
    assert shop.charged == 0 and shop.stock == 10


def test_escalation_interrupt_validates_and_resumes() -> None:
    b = StateGraph(Order)
    b.add_node("escalate", escalate_to_human(context_keys=("done",)))
    b.add_edge(START, "escalate")
    b.add_edge("escalate", END)
    graph = b.compile(checkpointer=InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": "h1"}}
    events: list[Event] = []
    with listen(events.append):
        out = graph.invoke({"escalation_reason": "refund over limit", "done": ["charge"]}, config)
        payload = out["__interrupt__"][0].value
        assert payload["reason"] == "refund over limit" and payload["thread_id"] == "h1"
        assert payload["context"] == {"done": ["charge"]}
        assert "action" in payload["response_schema"]["properties"]
        bad = graph.invoke(Command(resume={"action": "maybe"}), config)  # invalid: asks again
        assert "action" in bad["__interrupt__"][0].value["error"]
        final = graph.invoke(Command(resume={"action": "approve", "by": "ana"}), config)
    assert final["human_decision"]["action"] == "approve" and final["status"] == "escalated"
    assert [e.kind for e in events] == ["escalation"]


def test_error_router_sends_exhausted_node_to_fallback_state() -> None:
    """Failure story: one failing tool must not abort the whole flow. After its retries,
    the node's error handler routes to a degraded path and the run completes."""
    calls = {"n": 0}

    def quote(state: Order) -> dict[str, Any]:
        calls["n"] += 1
        raise ConnectionError("pricing down")

    def degrade(state: Order) -> dict[str, Any]:
        return {"status": "degraded"}

    retry = Retry(stop=stop_after_attempt(3), wait=wait_none())
    b = StateGraph(Order)
    b.add_node(
        "quote",
        quote,
        retry_policy=retry.as_retry_policy(),
        error_handler=error_router(
            {CircuitOpenError: "escalate", ConnectionError: "degrade"}, default="escalate"
        ),
    )
    b.add_node("degrade", degrade)
    b.add_node("escalate", escalate_to_human())
    b.add_edge(START, "quote")
    b.add_edge("quote", END)
    b.add_edge("degrade", END)
    b.add_edge("escalate", END)
    graph = b.compile(checkpointer=InMemorySaver())
    out = graph.invoke({"done": []}, {"configurable": {"thread_id": "r1"}})
    assert out["status"] == "degraded" and calls["n"] == 3
    assert "ConnectionError" in out["escalation_reason"]
