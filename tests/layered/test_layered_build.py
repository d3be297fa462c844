"""Build-time errors of build_layered_graph: typed LayerDefinitionError, never a late crash."""

from __future__ import annotations

import operator
from typing import Annotated, Any

import pytest

from agentpatterns.errors import LayerDefinitionError
from agentpatterns.layered import Executor, LayeredState, build_layered_graph, layer_info


def _echo(sub: Any, ctx: Any) -> Any:
    return sub.inputs


def _plan(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"executor": "a"}]


def test_executor_asking_for_unknown_context_key_is_rejected() -> None:
    with pytest.raises(LayerDefinitionError, match=r"'a'.*\['secret'\]"):
        build_layered_graph(
            decompose=_plan,
            executors=[Executor("a", _echo, context_keys=("secret",))],
            context_keys=("user",),
        )


def test_declared_context_key_in_custom_schema_is_accepted() -> None:
    class State(LayeredState, total=False):
        user: str
        notes: Annotated[list[str], operator.add]

    builder = build_layered_graph(
        decompose=_plan,
        executors=[Executor("a", _echo, context_keys=("user",), output_key="notes")],
        state_schema=State,
    )
    assert layer_info(builder) is not None
    with pytest.raises(LayerDefinitionError, match="not a state key"):
        build_layered_graph(
            decompose=_plan,
            executors=[Executor("a", _echo, output_key="nope")],
            state_schema=State,
        )


def test_schema_without_layered_keys_is_rejected() -> None:
    from typing import TypedDict

    class Bare(TypedDict):
        task: str

    with pytest.raises(LayerDefinitionError, match="lacks layered keys"):
        build_layered_graph(decompose=_plan, executors=[Executor("a", _echo)], state_schema=Bare)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"executors": []}, "at least one executor"),
        ({"executors": [Executor("a", _echo), Executor("a", _echo)]}, "duplicate"),
        ({"executors": [Executor("merge", _echo)]}, "reserved"),
        ({"executors": [Executor("a:b", _echo)]}, "reserved"),
        ({"executors": [Executor("a", 42)]}, "run must be"),
        ({"executors": [Executor("a", lambda sub: sub)]}, r"accept \(subtask, context\)"),
        ({"executors": ["a"]}, "Executor"),
        ({"on_failure": "ignore"}, "on_failure"),
        ({"max_depth": 0}, "max_depth"),
        ({"max_retries": -1}, "max_retries"),
        ({"decompose": 42}, "decompose must be"),
    ],
)
def test_bad_definitions(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"decompose": _plan, "executors": [Executor("a", _echo)], **kwargs}
    with pytest.raises(LayerDefinitionError, match=match):
        build_layered_graph(**args)


def test_cycle_between_layers_is_detected() -> None:
    inner = build_layered_graph(decompose=_plan, executors=[Executor("a", _echo)], name="alpha")
    middle = build_layered_graph(decompose=_plan, executors=[Executor("a", inner)], name="beta")
    with pytest.raises(LayerDefinitionError, match="cycle between layers: alpha -> beta -> alpha"):
        build_layered_graph(decompose=_plan, executors=[Executor("a", middle)], name="alpha")


def test_static_nesting_deeper_than_max_depth_is_rejected() -> None:
    g = build_layered_graph(decompose=_plan, executors=[Executor("a", _echo)], name="l0")
    for i in range(1, 3):
        g = build_layered_graph(decompose=_plan, executors=[Executor("a", g)], name=f"l{i}")
    # three layers nested: fine at max_depth=3, rejected at 2
    build_layered_graph(decompose=_plan, executors=[Executor("a", g)], name="top", max_depth=4)
    with pytest.raises(LayerDefinitionError, match="over max_depth 3"):
        build_layered_graph(decompose=_plan, executors=[Executor("a", g)], name="top", max_depth=3)
