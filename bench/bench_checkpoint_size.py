"""Figure 6: checkpoint bytes per step, one entry per graph.

Each case runs its graph once on an ``InMemorySaver`` and measures every checkpoint of the
thread (serialised state + metadata, the formula of ``agentpatterns.checkpoint.
checkpoint_size``, which is checked against the latest one). The value is the largest
checkpoint of the run (the worst step); the mean is in the notes. Target: <= 10 KB per
step (DESIGN.md). Cases with a raw-LangGraph twin report it as the baseline, so the
ratio shows what the pattern adds (the FSM's ``transitions`` log, ``visits``...).

Add a graph: append a :class:`Case` to :func:`cases` (the reference graphs of ``graphs/``
join here when they land).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from bench.common import Target, fsm_chain, raw_chain, result, step, unavailable

FIGURE = 6
TARGET = Target("<=", 10_240, on="value", unit="B")


@dataclass(frozen=True)
class Case:
    """A graph to measure: ``build()`` returns an uncompiled StateGraph run with ``inputs``;
    ``baseline`` names the raw-LangGraph case it is compared with."""

    name: str
    build: Callable[[], Any]
    inputs: dict[str, Any]
    baseline: str | None = None
    recursion_limit: int = 250
    resume: Any = None  # Command(resume=...) value for a graph that pauses once


def checkpoint_sizes(case: Case) -> tuple[list[int], int]:
    """Bytes of every checkpoint of one run, oldest first, over all namespaces (subgraph
    checkpoints included), and how many of them belong to subgraphs."""
    from langgraph.types import Command

    from agentpatterns.checkpoint import checkpoint_size

    saver = InMemorySaver()
    app = case.build().compile(checkpointer=saver)
    config: Any = {"configurable": {"thread_id": "size"}, "recursion_limit": case.recursion_limit}
    app.invoke(case.inputs, config)
    if case.resume is not None:
        app.invoke(Command(resume=case.resume), config)
    sizes: list[int] = []
    nested = 0
    root: list[int] = []
    for tup in saver.list({"configurable": {"thread_id": "size"}}):
        _, body = saver.serde.dumps_typed(tup.checkpoint)
        _, meta = saver.serde.dumps_typed(tup.metadata)
        sizes.append(len(body) + len(meta))
        if tup.config["configurable"].get("checkpoint_ns"):
            nested += 1
        else:
            root.append(sizes[-1])
    sizes.reverse()
    latest = checkpoint_size(saver, "size")
    if latest != root[0]:
        raise AssertionError(f"size formula differs from checkpoint_size: {root[0]} != {latest}")
    return sizes, nested


# --- cases --------------------------------------------------------------------------------
class LoopState(TypedDict, total=False):
    x: int
    status: str


def raw_loop(n: int) -> Any:
    """One node visited ``n`` times (a retry/poll loop), then ``done``."""
    g: Any = StateGraph(LoopState)
    g.add_node("poll", step)
    g.add_node("done", lambda s: {"status": "done"})
    g.add_edge(START, "poll")
    g.add_conditional_edges("poll", lambda s: "poll" if s["x"] < n else "done", ["poll", "done"])
    g.add_edge("done", END)
    return g


def fsm_loop(n: int) -> Any:
    from agentpatterns.fsm import AgentState, StateMachine, when

    class FsmLoop(AgentState, total=False):
        x: int

    m = StateMachine(FsmLoop, name="loop", max_steps=n + 10)
    m.state("poll", step, max_visits=n + 1)
    m.transition("poll", "poll", when=when(lambda s: s["x"] < n, name="more"))
    m.transition("poll", "done")
    return m.build()


TASK = "Refund order #W2378156 and tell me the status of order #W4817420 for user yusuf_rossi"
RESULT = {"order_id": "#W2378156", "status": "processed", "items": ["1151293680", "4983901480"]}


def _plan(state: Any) -> dict[str, Any]:
    calls = [
        {"name": "get_order_details", "args": {"order_id": "#W2378156"}, "id": "call_0"},
        {"name": "get_order_details", "args": {"order_id": "#W4817420"}, "id": "call_1"},
        {"name": "return_delivered_order_items", "args": RESULT, "id": "call_2"},
    ]
    return {"plan": calls}


def _execute(state: Any) -> dict[str, Any]:
    return {"results": [dict(RESULT, call=c["id"]) for c in state["plan"]]}


def _validate(state: Any) -> dict[str, Any]:
    replans = state.get("replans") or 0
    ok = replans >= 1  # first validation fails: one re-plan, like a real correction
    return {"valid": ok, "feedback": None if ok else "order status not checked"}


class RawAgentState(TypedDict, total=False):
    task: str
    messages: Annotated[list[Any], lambda a, b: [*(a or []), *(b or [])]]
    plan: list[dict[str, Any]]
    results: list[Any]
    valid: bool
    feedback: str | None
    replans: int
    status: str


def raw_agent() -> Any:
    """plan -> execute -> validate -> (plan | done) hand-written in raw LangGraph."""
    g: Any = StateGraph(RawAgentState)
    g.add_node("plan", _plan)
    g.add_node("execute", _execute)

    def validate(state: Any) -> dict[str, Any]:
        out = _validate(state)
        if not out["valid"]:
            out["replans"] = (state.get("replans") or 0) + 1
        return out

    g.add_node("validate", validate)
    g.add_node("done", lambda s: {"status": "done"})
    g.add_edge(START, "plan")
    g.add_edge("plan", "execute")
    g.add_edge("execute", "validate")
    g.add_conditional_edges(
        "validate", lambda s: "done" if s["valid"] else "plan", ["done", "plan"]
    )
    g.add_edge("done", END)
    return g


def fsm_agent() -> Any:
    from agentpatterns.fsm.agent import build_agent_graph

    return build_agent_graph(planner=_plan, executor=_execute, validator=_validate)


def cases() -> list[Case]:
    out = [
        Case("raw 10-node chain", lambda: raw_chain(step), {"x": 0}),
        Case("raw loop of 90 visits", lambda: raw_loop(90), {"x": 0}),
        Case("raw plan/execute/validate (1 re-plan)", raw_agent, {"task": TASK}),
    ]
    if fsm_chain(step) is not None:
        out += [
            Case(
                "StateMachine 10-state chain",
                lambda: fsm_chain(step),
                {"x": 0},
                baseline="raw 10-node chain",
            ),
            Case(
                "StateMachine loop of 90 visits",
                lambda: fsm_loop(90),
                {"x": 0},
                baseline="raw loop of 90 visits",
            ),
        ]
        if find_spec("agentpatterns.fsm.agent") is not None:
            out.append(
                Case(
                    "FSM canonical build_agent_graph (1 re-plan)",
                    fsm_agent,
                    {"task": TASK},
                    baseline="raw plan/execute/validate (1 re-plan)",
                )
            )
    return out + reference_cases()


def reference_cases() -> list[Case]:
    """The reference graphs of ``graphs/`` with their documented example inputs."""
    out: list[Case] = []
    if find_spec("graphs.customer_service") is not None:
        out.append(
            Case(
                "reference: customer_service (cancel an order)",
                lambda: _ref("customer_service").build(),
                {
                    "request": "Cancel order #W5918442, I no longer need it",
                    "email": "sofia.rossi2645@example.com",
                    "confirm": True,
                },
            )
        )
    if find_spec("graphs.order_processing") is not None:
        out.append(
            Case(
                "reference: order_processing (saga, happy path)",
                lambda: _ref("order_processing").build(),
                {"order": _ref("order_processing").DEMO_ORDER},
            )
        )
    if find_spec("graphs.report_generation") is not None:
        out.append(
            Case(
                "reference: report_generation (layered)",
                lambda: _ref("report_generation").build(),
                {"task": "revenue and top customers"},
            )
        )
    if find_spec("graphs.diagnosis") is not None:
        out.append(
            Case(
                "reference: diagnosis (sign-off interrupt, approved)",
                lambda: _ref("diagnosis").build(),
                {"patient": 7},
                resume={"approve": True, "clinician": "Dr. Test"},
            )
        )
    return out


def _ref(name: str) -> Any:
    from importlib import import_module

    return import_module(f"graphs.{name}")


def run(quick: bool) -> list[dict[str, Any]]:
    measured: dict[str, list[int]] = {}
    rows: list[dict[str, Any]] = []
    for case in cases():
        try:
            sizes, nested = checkpoint_sizes(case)
        except Exception as exc:  # one broken graph must not hide the others
            row = unavailable(case.name, FIGURE, f"error: {type(exc).__name__}: {exc}"[:300])
            row["status"] = "error"
            rows.append(row)
            continue
        measured[case.name] = sizes
        base = max(measured[case.baseline]) if case.baseline in measured else None
        rows.append(
            result(
                case.name,
                FIGURE,
                float(max(sizes)),
                "B",
                baseline=float(base) if base is not None else None,
                target=TARGET,
                notes=(
                    f"largest of {len(sizes)} checkpoints"
                    + (f" ({nested} in subgraphs)" if nested else "")
                    + f" (mean {statistics.fmean(sizes):,.0f} B, last {sizes[-1]:,} B)"
                    + (f"; baseline = largest checkpoint of '{case.baseline}'" if base else "")
                ),
                sizes=sizes,
            )
        )
    return rows
