"""``build_layered_graph``: an orchestrator layer over executor layers, scoped hand-off.

State:
    Reads ``task`` (and each executor's declared context keys). Writes ``subtasks``,
    ``results`` (subtask id -> result), ``failures`` (subtask id -> error info), ``handoffs``
    (one ``{layer, executor, subtask, ms, bytes}`` per hand-off, nested layers included),
    ``status`` (``done`` | ``partial`` | ``failed``), ``reason`` and ``layer_depth``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, cast, get_type_hints

from langchain_core.runnables import Runnable
from langgraph._internal._runnable import RunnableCallable
from langgraph.graph import END, START, StateGraph

from agentpatterns.errors import LayerDefinitionError
from agentpatterns.layered._nodes import MERGE, ORCHESTRATOR, LayerRuntime, mark
from agentpatterns.layered._types import Executor, LayeredState

__all__ = ["LayerInfo", "build_layered_graph", "layer_info"]

_ON_FAILURE = ("best_effort", "fail_all", "retry")
_RESERVED = frozenset({ORCHESTRATOR, MERGE, START, "__end__"})
_OWN_KEYS = frozenset(get_type_hints(LayeredState))


@dataclass(frozen=True, slots=True)
class LayerInfo:
    """What a layered builder records about itself (``builder.__agentpatterns__["layered"]``)."""

    name: str
    max_depth: int
    executors: tuple[Executor, ...]
    on_failure: str


def layer_info(graph: Any) -> LayerInfo | None:
    """The :class:`LayerInfo` of a layered ``StateGraph`` or compiled graph, else ``None``."""
    builder = getattr(graph, "builder", graph)
    info = (getattr(builder, "__agentpatterns__", None) or {}).get("layered")
    return info if isinstance(info, LayerInfo) else None


def _schema(
    state_schema: type[Any] | None, context_keys: Sequence[str]
) -> tuple[type[Any], frozenset[str]]:
    if state_schema is None:
        fields: dict[str, Any] = dict(get_type_hints(LayeredState, include_extras=True))
        for key in context_keys:
            fields.setdefault(key, Any)
        schema = cast(Any, TypedDict)("LayeredGraphState", fields, total=False)
        return schema, frozenset(fields)
    try:
        keys = frozenset(get_type_hints(state_schema, include_extras=True))
    except Exception as exc:
        raise LayerDefinitionError(f"cannot read keys of state_schema {state_schema!r}") from exc
    missing = sorted(_OWN_KEYS - keys)
    if missing:
        raise LayerDefinitionError(
            f"state_schema lacks layered keys {missing}; subclass agentpatterns.layered."
            "LayeredState"
        )
    unknown = sorted(set(context_keys) - keys)
    if unknown:
        raise LayerDefinitionError(f"context_keys {unknown} are not in state_schema")
    return state_schema, keys


def _nested_depth(ex: Executor, chain: tuple[str, ...]) -> int:
    """Static nesting depth below ``ex``; raises on a cycle between layers."""
    info = layer_info(ex.run)
    if info is None:
        return 0
    if info.name in chain:
        raise LayerDefinitionError(f"cycle between layers: {' -> '.join((*chain, info.name))}")
    return 1 + max((_nested_depth(e, (*chain, info.name)) for e in info.executors), default=0)


def _check_run(ex: Executor) -> None:
    if isinstance(ex.run, (StateGraph, Runnable)):
        return
    if not callable(ex.run):
        raise LayerDefinitionError(
            f"executor {ex.name!r}: run must be a function, a Runnable or a graph, "
            f"got {type(ex.run)!r}"
        )
    try:
        inspect.signature(ex.run).bind(None, None)
    except TypeError as exc:
        raise LayerDefinitionError(
            f"executor {ex.name!r}: run must accept (subtask, context): {exc}"
        ) from exc
    except ValueError:  # builtins without a signature: trust them
        pass


def _check_executors(
    executors: Sequence[Executor], allowed: frozenset[str], schema_keys: frozenset[str]
) -> dict[str, Executor]:
    if not executors:
        raise LayerDefinitionError("a layered graph needs at least one executor")
    table: dict[str, Executor] = {}
    for ex in executors:
        if not isinstance(ex, Executor):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise LayerDefinitionError(f"executors must be Executor(...), got {type(ex)!r}")
        if ex.name in table:
            raise LayerDefinitionError(f"duplicate executor name {ex.name!r}")
        if ex.name in _RESERVED or any(c in ex.name for c in ":|"):
            raise LayerDefinitionError(f"executor name {ex.name!r} is reserved or has ':'/'|'")
        unknown = sorted(set(ex.context_keys) - allowed)
        if unknown:
            raise LayerDefinitionError(
                f"executor {ex.name!r} asks for context keys {unknown} that are not in the "
                f"state schema / context_keys; available: {sorted(allowed)}"
            )
        if ex.output_key is not None and ex.output_key not in schema_keys:
            raise LayerDefinitionError(
                f"executor {ex.name!r} output_key {ex.output_key!r} is not a state key"
            )
        _check_run(ex)
        table[ex.name] = ex
    return table


def build_layered_graph(
    *,
    decompose: Any,
    executors: Sequence[Executor],
    max_depth: int = 5,
    context_keys: Sequence[str] = (),
    on_failure: str = "best_effort",
    max_retries: int = 2,
    state_schema: type[Any] | None = None,
    name: str = "layer",
    measure_bytes: bool = True,
) -> StateGraph[Any]:
    """Build an orchestrator layer that fans subtasks out to executor layers.

    The orchestrator calls ``decompose`` (a function of the state returning subtasks, a
    Runnable, or a LangChain chat model answering ``{"subtasks": [...]}`` via structured
    output or JSON text), validates the subtasks and sends each one with ``Send`` to its
    executor together with a copy of only the context keys that executor declared. Results
    and failures are merged by reducers; one failing executor never stops the others.

    Args:
        decompose: ``fn(state) -> list[Subtask | dict]`` (sync or async), a Runnable, or a
            chat model.
        executors: The executor layers (:class:`Executor`); a graph executor may itself be a
            layered graph (nesting is tracked and bounded by ``max_depth``).
        max_depth: Deepest allowed call chain of orchestrators (this one is depth 1).
        context_keys: Extra state keys executors may declare (added to the default schema).
        on_failure: ``best_effort`` (merge successes, report failures, status ``partial``),
            ``fail_all`` (any failure -> ``failed``) or ``retry`` (re-run failed subtasks up
            to ``max_retries`` times, then best effort).
        max_retries: Bound of the ``retry`` policy.
        state_schema: Your own schema (must include :class:`LayeredState` keys).
        name: Layer name, used in depth chains, cycle checks, markers and events.
        measure_bytes: Record the JSON size of every hand-off (cheap; off for hot paths).

    Returns:
        An uncompiled ``StateGraph``; compile it with your checkpointer.

    Raises:
        LayerDefinitionError: unknown/undeclared context keys, duplicate or reserved executor
            names, a bad policy, static nesting deeper than ``max_depth``, cycles between layers.

    State:
        Reads ``task`` and declared context keys; writes ``subtasks``, ``results``,
        ``failures``, ``handoffs``, ``status``, ``reason``, ``layer_depth``.

    Example:
        >>> from agentpatterns.layered import Executor, build_layered_graph
        >>> g = build_layered_graph(
        ...     decompose=lambda s: [{"executor": "upper", "inputs": {"text": s["task"]}}],
        ...     executors=[Executor("upper", lambda sub, ctx: sub.inputs["text"].upper())],
        ... ).compile()
        >>> out = g.invoke({"task": "hi"})
        >>> out["status"], out["results"]
        ('done', {'upper-0': 'HI'})
    """
    if on_failure not in _ON_FAILURE:
        raise LayerDefinitionError(f"on_failure must be one of {_ON_FAILURE}, got {on_failure!r}")
    if not isinstance(max_depth, int) or max_depth < 1:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise LayerDefinitionError(f"max_depth must be an int >= 1, got {max_depth!r}")
    if max_retries < 0:
        raise LayerDefinitionError("max_retries must be >= 0")
    schema, schema_keys = _schema(state_schema, context_keys)
    allowed = (
        frozenset({"task", *context_keys}) if state_schema is None or context_keys else schema_keys
    )
    table = _check_executors(executors, allowed, schema_keys)
    nested = max((_nested_depth(e, (name,)) for e in table.values()), default=0)
    if 1 + nested > max_depth:
        raise LayerDefinitionError(
            f"layer {name!r} nests {1 + nested} layers deep, over max_depth {max_depth}"
        )
    graphs: dict[str, Any] = {}
    for ex in table.values():
        if isinstance(ex.run, StateGraph):
            graphs[ex.name] = cast(StateGraph[Any], ex.run).compile()
        elif isinstance(ex.run, Runnable):  # compiled graphs and any other Runnable
            graphs[ex.name] = ex.run
    rt = LayerRuntime(
        name=name,
        decompose=decompose,
        executors=table,
        graphs=graphs,
        max_depth=max_depth,
        on_failure=on_failure,
        max_retries=max_retries,
        measure_bytes=measure_bytes,
    )
    builder: StateGraph[Any] = StateGraph(schema)

    def orchestrate(state: dict[str, Any]) -> dict[str, Any]:
        return rt.orchestrate(state)

    async def aorchestrate(state: dict[str, Any]) -> dict[str, Any]:
        return await rt.aorchestrate(state)

    def merge(state: dict[str, Any]) -> dict[str, Any]:
        return rt.merge(state)

    orchestrator = RunnableCallable(orchestrate, aorchestrate, name=ORCHESTRATOR, trace=False)
    builder.add_node(
        ORCHESTRATOR, mark(orchestrator, layer=name, layer_role="orchestrator", max_depth=max_depth)
    )
    builder.add_node(MERGE, mark(merge, layer=name, layer_role="merge", on_failure=on_failure))
    builder.add_edge(START, ORCHESTRATOR)
    for ex_name in table:
        builder.add_node(ex_name, rt.executor_node(ex_name))
        builder.add_edge(ex_name, MERGE)
    builder.add_conditional_edges(ORCHESTRATOR, rt.route_plan, [*table, MERGE])
    if on_failure == "retry":
        builder.add_conditional_edges(MERGE, rt.route_merge, [*table, END])
    else:
        builder.add_edge(MERGE, END)
    info = LayerInfo(name, max_depth, tuple(table.values()), on_failure)
    mark(builder, layered=info, layer=name)
    return builder
