"""Running layered graphs: nesting, depth bound, failure policies, scoped context, sync+async."""

from __future__ import annotations

import asyncio
import json
import operator
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from pydantic import BaseModel

from agentpatterns.events import Event, listen
from agentpatterns.layered import Executor, LayeredState, Subtask, build_layered_graph


def _words(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"executor": "word", "inputs": {"w": w}} for w in state["task"].split()]


def _three_layers() -> Any:
    leaf = build_layered_graph(
        decompose=_words,
        executors=[Executor("word", lambda sub, ctx: sub.inputs["w"].upper())],
        name="leaf",
    )
    mid = build_layered_graph(
        decompose=lambda s: [
            {"id": f"part{i}", "executor": "leaf", "inputs": {"task": part}}
            for i, part in enumerate(s["task"].split("|"))
        ],
        executors=[Executor("leaf", leaf)],
        name="mid",
    )

    def count(sub: Subtask, ctx: Any) -> int:
        return len(ctx["user"])

    return build_layered_graph(
        decompose=lambda s: [
            {"id": "mid", "executor": "mid", "inputs": {"task": s["task"]}},
            {"id": "count", "executor": "count"},
        ],
        executors=[Executor("mid", mid), Executor("count", count, context_keys=("user",))],
        context_keys=("user",),
        name="top",
    ).compile()


def _check_three_layers(out: dict[str, Any]) -> None:
    assert out["status"] == "done", out.get("reason")
    assert out["results"]["count"] == 3
    assert out["results"]["mid"] == {
        "part0": {"word-0": "A", "word-1": "B"},
        "part1": {"word-0": "C"},
    }
    layers = sorted({h["layer"] for h in out["handoffs"]})
    assert layers == [1, 2, 3]
    assert all(h["ms"] >= 0 and h["bytes"] > 0 for h in out["handoffs"])
    assert out["layer_depth"] == 1


def test_three_layer_graph_sync() -> None:
    _check_three_layers(_three_layers().invoke({"task": "a b|c", "user": "bob"}))


async def test_three_layer_graph_async() -> None:
    _check_three_layers(await _three_layers().ainvoke({"task": "a b|c", "user": "bob"}))


def _recursive(max_depth: int, on_failure: str = "fail_all") -> Any:
    holder: dict[str, Any] = {}

    def recurse(sub: Subtask, ctx: Any) -> Any:
        return holder["g"].invoke({"task": sub.inputs["n"]})

    async def arecurse(sub: Subtask, ctx: Any) -> Any:
        return await holder["g"].ainvoke({"task": sub.inputs["n"]})

    def build(fn: Any) -> Any:
        return build_layered_graph(
            decompose=lambda s: [{"executor": "again", "inputs": {"n": s["task"] + 1}}],
            executors=[Executor("again", fn)],
            max_depth=max_depth,
            on_failure=on_failure,
            name="self",
        ).compile()

    holder["g"] = build(recurse)
    sync_graph = holder["g"]
    async_graph = build(arecurse)
    return holder, sync_graph, async_graph


@pytest.mark.parametrize("policy", ["fail_all", "best_effort", "retry"])
def test_runtime_recursion_past_max_depth_fails_with_reason(policy: str) -> None:
    _, graph, _ = _recursive(3, policy)
    out = graph.invoke({"task": 0})
    assert out["status"] == "failed"
    assert "LayerDepthError" in out["reason"]
    assert "depth 4 exceeds max_depth 3" in out["reason"]
    assert "self -> self -> self -> self" in out["reason"]


async def test_runtime_recursion_past_max_depth_async() -> None:
    holder, _, agraph = _recursive(2)
    holder["g"] = agraph
    out = await asyncio.wait_for(agraph.ainvoke({"task": 0}), timeout=30)
    assert out["status"] == "failed"
    assert "depth 3 exceeds max_depth 2" in out["reason"]


def test_explicit_layer_depth_input_counts() -> None:
    g = build_layered_graph(
        decompose=lambda s: [{"executor": "a"}],
        executors=[Executor("a", lambda sub, ctx: 1)],
        max_depth=2,
    ).compile()
    assert g.invoke({"task": 1, "layer_depth": 2})["status"] == "done"
    out = g.invoke({"task": 1, "layer_depth": 3})
    assert out["status"] == "failed" and "LayerDepthError" in out["reason"]


CALLS: dict[str, int] = {}


def _flaky(sub: Subtask, ctx: Any) -> str:
    CALLS[sub.id] = CALLS.get(sub.id, 0) + 1
    if sub.inputs.get("fail_times", 0) >= CALLS[sub.id]:
        raise ConnectionError(f"jitter {CALLS[sub.id]}")
    return f"ok:{sub.id}"


def _isolation_graph(policy: str) -> Any:
    CALLS.clear()
    return build_layered_graph(
        decompose=lambda s: [
            {"id": "a", "executor": "work"},
            {"id": "b", "executor": "work", "inputs": {"fail_times": s["task"]}},
            {"id": "c", "executor": "work"},
        ],
        executors=[Executor("work", _flaky)],
        on_failure=policy,
        max_retries=2,
    ).compile()


def test_best_effort_merges_successes_and_reports_failures() -> None:
    out = _isolation_graph("best_effort").invoke({"task": 99})
    assert out["status"] == "partial"
    assert out["results"] == {"a": "ok:a", "c": "ok:c"}
    assert out["failures"]["b"]["error_type"] == "ConnectionError"
    assert "1 of 3 subtasks failed" in out["reason"]
    assert CALLS == {"a": 1, "b": 1, "c": 1}


def test_fail_all_routes_to_failed_but_others_still_ran() -> None:
    out = _isolation_graph("fail_all").invoke({"task": 99})
    assert out["status"] == "failed"
    assert set(out["results"]) == {"a", "c"}
    assert "b (ConnectionError: jitter 1)" in out["reason"]


def test_retry_reruns_only_the_failed_subtask() -> None:
    out = _isolation_graph("retry").invoke({"task": 2})
    assert out["status"] == "done"
    assert out["failures"] == {}
    assert out["results"]["b"] == "ok:b"
    assert CALLS == {"a": 1, "b": 3, "c": 1}


def test_retry_is_bounded_then_best_effort() -> None:
    out = _isolation_graph("retry").invoke({"task": 99})
    assert out["status"] == "partial"
    assert CALLS["b"] == 3
    assert out["failures"]["b"]["attempt"] == 3


async def test_failure_isolation_async() -> None:
    out = await _isolation_graph("best_effort").ainvoke({"task": 99})
    assert out["status"] == "partial" and set(out["results"]) == {"a", "c"}


def test_all_failed_is_failed_even_best_effort() -> None:
    g = build_layered_graph(
        decompose=lambda s: [{"executor": "x"}],
        executors=[Executor("x", lambda sub, ctx: 1 / 0)],
    ).compile()
    out = g.invoke({"task": 1})
    assert out["status"] == "failed" and "ZeroDivisionError" in out["reason"]


class Ctx(TypedDict, total=False):
    user: str
    secret: str
    seen: list[str]


def test_scoped_context_callable_sees_only_declared_keys() -> None:
    seen: dict[str, Any] = {}

    def reader(sub: Subtask, ctx: Any) -> str:
        seen["keys"] = sorted(ctx)
        return ctx["user"]

    def snoop(sub: Subtask, ctx: Any) -> str:
        return ctx["secret"]

    g = build_layered_graph(
        decompose=lambda s: [{"id": "r", "executor": "reader"}, {"id": "s", "executor": "snoop"}],
        executors=[
            Executor("reader", reader, context_keys=("user",)),
            Executor("snoop", snoop, context_keys=("user",)),
        ],
        context_keys=("user", "secret"),
    ).compile()
    out = g.invoke({"task": 1, "user": "ann", "secret": "pw"})
    assert seen["keys"] == ["user"]
    assert out["results"] == {"r": "ann"}
    assert out["failures"]["s"]["error_type"] == "ContextContractError"
    assert "did not declare" in out["failures"]["s"]["message"]
    assert out["failures"]["s"]["retryable"] is False


def test_scoped_context_subgraph_gets_only_declared_keys() -> None:
    def node(state: Ctx) -> dict[str, Any]:
        return {"seen": sorted(k for k, v in state.items() if v is not None)}

    sub = StateGraph(Ctx)
    sub.add_node("n", node)
    sub.add_edge(START, "n")
    sub.add_edge("n", END)
    g = build_layered_graph(
        decompose=lambda s: [{"id": "x", "executor": "sub"}],
        executors=[Executor("sub", sub, context_keys=("user",), result_key="seen")],
        context_keys=("user", "secret"),
    ).compile()
    out = g.invoke({"task": 1, "user": "ann", "secret": "pw"})
    assert out["results"]["x"] == ["user"]


@pytest.mark.parametrize(
    ("plan", "match"),
    [
        ("do it", "got str"),
        ({"wrong": 1}, "got dict"),
        ([42], "subtask #0 is a int"),
        ([{"executor": "nope"}], "unknown executor 'nope'"),
        ([{"id": "a", "executor": "x"}, {"id": "a", "executor": "x"}], "duplicate subtask id"),
        ([{"executor": "x", "extra": 1}], "malformed"),
    ],
)
def test_malformed_subtasks_route_to_failed(plan: Any, match: str) -> None:
    g = build_layered_graph(
        decompose=lambda s: plan, executors=[Executor("x", lambda sub, ctx: 1)]
    ).compile()
    out = g.invoke({"task": 1})
    assert out["status"] == "failed"
    assert out["reason"].startswith("MalformedSubtaskError")
    assert match in out["reason"]
    assert out["results"] == {} if "results" in out else True


def test_decompose_raising_routes_to_failed() -> None:
    def bad(state: dict[str, Any]) -> Any:
        raise RuntimeError("planner down")

    g = build_layered_graph(decompose=bad, executors=[Executor("x", lambda s, c: 1)]).compile()
    out = g.invoke({"task": 1})
    assert out["status"] == "failed" and out["reason"] == "RuntimeError: planner down"


def _model(payload: Any) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=json.dumps(payload))]))


def test_chat_model_decompose_sync_and_async() -> None:
    plan = {"subtasks": [{"id": "s1", "executor": "x", "inputs": {"v": 2}}]}
    execs = [Executor("x", lambda sub, ctx: sub.inputs["v"] * 10, description="times ten")]
    out = (
        build_layered_graph(decompose=_model(plan), executors=execs)
        .compile()
        .invoke({"task": "ten"})
    )
    assert out["results"] == {"s1": 20}

    async def run() -> dict[str, Any]:
        g = build_layered_graph(decompose=_model(plan), executors=execs).compile()
        return await g.ainvoke({"task": "ten"})

    assert asyncio.run(run())["results"] == {"s1": 20}
    bad = build_layered_graph(
        decompose=GenericFakeChatModel(messages=iter([AIMessage(content="sure!")])),
        executors=execs,
    ).compile()
    out = bad.invoke({"task": "ten"})
    assert out["status"] == "failed" and "did not answer JSON" in out["reason"]


async def test_runnable_and_async_decompose_with_async_executor() -> None:
    async def plan(state: dict[str, Any]) -> list[Subtask]:
        return [Subtask(id="q", executor="x", inputs={"v": 1})]

    async def ex(sub: Subtask, ctx: Any) -> int:
        await asyncio.sleep(0)
        return sub.inputs["v"] + 1

    g = build_layered_graph(decompose=plan, executors=[Executor("x", ex)]).compile()
    assert (await g.ainvoke({"task": 0}))["results"] == {"q": 2}
    r = RunnableLambda(lambda s: [{"id": "q", "executor": "x", "inputs": {"v": 5}}])
    g2 = build_layered_graph(decompose=r, executors=[Executor("x", ex)]).compile()
    assert g2.invoke({"task": 0})["results"] == {"q": 6}  # async executor under sync invoke


class Out(BaseModel):
    n: int


class TotalState(LayeredState, total=False):
    total: Annotated[list[Any], operator.add]


def test_result_model_and_output_key() -> None:
    State = TotalState
    g = build_layered_graph(
        decompose=lambda s: [
            {"id": "good", "executor": "x", "inputs": {"n": 1}},
            {"id": "bad", "executor": "x", "inputs": {"n": "NaN"}},
        ],
        executors=[
            Executor("x", lambda sub, ctx: [{"n": sub.inputs["n"]}][0], result_model=Out),
            Executor("y", lambda sub, ctx: [sub.id], output_key="total"),
        ],
        state_schema=State,
    ).compile()
    out = g.invoke({"task": 0})
    assert out["results"]["good"] == Out(n=1)
    assert out["failures"]["bad"]["error_type"] == "ValidationError"
    g2 = build_layered_graph(
        decompose=lambda s: [{"id": "p", "executor": "y"}, {"id": "q", "executor": "y"}],
        executors=[Executor("y", lambda sub, ctx: [sub.id], output_key="total")],
        state_schema=State,
    ).compile()
    assert sorted(g2.invoke({"task": 0})["total"]) == ["p", "q"]


def test_handoff_events_and_interrupt_passes_through() -> None:
    events: list[Event] = []

    def ask(sub: Subtask, ctx: Any) -> str:
        return str(interrupt({"question": "ok?"}))

    g = build_layered_graph(
        decompose=lambda s: [{"id": "h", "executor": "ask"}], executors=[Executor("ask", ask)]
    ).compile(checkpointer=InMemorySaver())
    cfg: Any = {"configurable": {"thread_id": "t"}}
    with listen(events.append):
        first = g.invoke({"task": 0}, cfg)
    assert "__interrupt__" in first
    assert [e.kind for e in events if e.kind == "handoff"] == ["handoff"]
    out = g.invoke(Command(resume="yes"), cfg)
    assert out["status"] == "done" and out["results"] == {"h": "yes"}


def test_empty_plan_is_done() -> None:
    g = build_layered_graph(decompose=lambda s: [], executors=[Executor("x", lambda s, c: 1)])
    out = g.compile().invoke({"task": 0})
    assert out["status"] == "done" and out.get("results", {}) == {}


def test_second_task_on_same_thread_starts_clean() -> None:
    g = build_layered_graph(
        decompose=lambda s: [{"id": "b", "executor": "x", "inputs": {"fail": s["task"]}}],
        executors=[Executor("x", lambda sub, ctx: 1 / 0 if sub.inputs["fail"] else "ok")],
    ).compile(checkpointer=InMemorySaver())
    cfg: Any = {"configurable": {"thread_id": "same"}}
    assert g.invoke({"task": True}, cfg)["status"] == "failed"
    out = g.invoke({"task": False}, cfg)
    assert out["status"] == "done" and out["failures"] == {} and out["results"] == {"b": "ok"}
    assert len(out["handoffs"]) == 1


def test_runnable_executor_gets_context_and_inputs() -> None:
    r = RunnableLambda(lambda d: f"{d['user']}:{d['q']}")
    g = build_layered_graph(
        decompose=lambda s: [{"id": "r", "executor": "r", "inputs": {"q": "x"}}],
        executors=[Executor("r", r, context_keys=("user",))],
        context_keys=("user",),
    ).compile()
    assert g.invoke({"task": 0, "user": "ann"})["results"] == {"r": "ann:x"}


class _StructuredFake(GenericFakeChatModel):
    """A fake chat model whose structured output returns a ready SubtaskPlan."""

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        seen_prompts.append(schema.__name__)
        return RunnableLambda(
            lambda messages: schema(subtasks=[Subtask(id="m", executor="x", inputs={"v": 4})])
        )


seen_prompts: list[str] = []


def test_chat_model_structured_output_and_fenced_json() -> None:
    execs = [Executor("x", lambda sub, ctx: sub.inputs["v"] * 10)]
    model = _StructuredFake(messages=iter([]))
    out = build_layered_graph(decompose=model, executors=execs).compile().invoke({"task": "t"})
    assert out["results"] == {"m": 40} and seen_prompts == ["SubtaskPlan"]
    fenced = '```json\n{"subtasks": [{"id": "f", "executor": "x", "inputs": {"v": 1}}]}\n```'
    fake = GenericFakeChatModel(messages=iter([AIMessage(content=fenced)]))
    out = build_layered_graph(decompose=fake, executors=execs).compile().invoke({"task": {"a": 1}})
    assert out["results"] == {"f": 10}
