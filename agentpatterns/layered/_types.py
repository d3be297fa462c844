"""Public value types of the layered pattern: subtasks, executors, scoped context, state.

State:
    The default state schema :class:`LayeredState` holds ``task`` (input), ``subtasks``
    (plain dicts ``{"id", "executor", "inputs", "depth", "attempt"}``, so checkpoints hold
    no library types; executors still receive :class:`Subtask` objects), ``results`` and
    ``failures`` (dicts keyed by subtask id, merged by a reducer), ``handoffs`` (appended),
    ``status`` (``done`` | ``partial`` | ``failed``), ``reason`` and ``layer_depth``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from agentpatterns.errors import ContextContractError

__all__ = [
    "Executor",
    "Handoff",
    "LayeredState",
    "OnFailure",
    "ScopedContext",
    "Subtask",
    "SubtaskPlan",
    "append_handoffs",
    "merge_dicts",
    "subtask_of",
    "subtask_record",
]

OnFailure = Literal["best_effort", "fail_all", "retry"]


class Subtask(BaseModel):
    """One unit of work the orchestrator hands to an executor.

    Attributes:
        id: Unique within one decomposition; assigned ``"<executor>-<n>"`` when omitted.
        executor: Name of the executor that runs it (must be declared at build).
        inputs: Task-specific arguments, handed over in addition to the scoped context.
        depth: Layer depth of the executor that runs it (set by the orchestrator).
        attempt: 1 on the first run, incremented by the ``retry`` failure policy.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = ""
    executor: str
    inputs: dict[str, Any] = Field(default_factory=dict[str, Any])
    depth: int = 0
    attempt: int = 1


def subtask_record(sub: Subtask) -> dict[str, Any]:
    """The plain-dict form of ``sub`` kept in state and ``Send`` payloads (checkpoint-safe).

    ``inputs`` is kept as given (not dumped), so executors get back exactly what
    ``decompose`` returned.
    """
    return {
        "id": sub.id,
        "executor": sub.executor,
        "inputs": sub.inputs,
        "depth": sub.depth,
        "attempt": sub.attempt,
    }


def subtask_of(data: Subtask | Mapping[str, Any]) -> Subtask:
    """The :class:`Subtask` of a state record (a ``Subtask`` from an old checkpoint passes)."""
    if isinstance(data, Subtask):
        return data
    return Subtask.model_validate(data)  # faster than model_construct (1.4 vs 2.5 us)


class SubtaskPlan(BaseModel):
    """Structured output asked of a chat model used as ``decompose``."""

    subtasks: list[Subtask]


class Handoff(TypedDict):
    """One measured hand-off from an orchestrator (``layer``) to an executor.

    ``ms``: from the orchestrator building the hand-off to the executor starting (scoped
    copy + LangGraph dispatch + waiting for a worker). ``copy_ms``: building the scoped
    context alone. ``bytes``: JSON size of the context and inputs handed over.
    """

    layer: int
    executor: str
    subtask: str
    ms: float
    copy_ms: float
    bytes: int


@dataclass(frozen=True, slots=True)
class Executor:
    """An executor layer: a callable or a (compiled) subgraph plus its context contract.

    Args:
        name: Node name in the layered graph and the name subtasks refer to.
        run: ``fn(subtask, context) -> result`` (sync or async), a ``StateGraph`` or a
            compiled graph. A graph is invoked with ``{**context, **subtask.inputs}``; a nested
            layered graph also gets ``task`` from ``subtask.inputs["task"]``.
        context_keys: State keys this executor may read. It receives a read-only mapping of
            exactly these keys; touching any other key raises ``ContextContractError``.
        result_key: For a graph executor, the output key taken as the result (default: the
            whole output; a nested layered graph yields its ``results``).
        output_key: Optional parent-state key the result is also written to (its reducer
            merges results from several subtasks).
        result_model: Optional pydantic model the result must validate against.
        description: One line for a model-based ``decompose`` prompt.
    """

    name: str
    run: Any
    context_keys: tuple[str, ...] = ()
    result_key: str | None = None
    output_key: str | None = None
    result_model: type[BaseModel] | None = None
    description: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict[str, Any])


class ScopedContext(Mapping[str, Any]):
    """Read-only view of the declared context keys; any other key is a contract breach."""

    __slots__ = ("_data", "_declared", "_executor")

    def __init__(self, data: dict[str, Any], declared: frozenset[str], executor: str) -> None:
        self._data = data
        self._declared = declared
        self._executor = executor

    def __getitem__(self, key: str) -> Any:
        if key not in self._declared:
            raise ContextContractError(
                f"executor {self._executor!r} read context key {key!r} it did not declare; "
                f"declared: {sorted(self._declared)}",
                node=self._executor,
            )
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self._declared:
            self[key]  # raises ContextContractError
        return self._data.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def to_dict(self) -> dict[str, Any]:
        """A shallow copy of the declared keys that are set."""
        return dict(self._data)

    def __repr__(self) -> str:
        return f"ScopedContext({self._executor!r}, keys={sorted(self._data)})"


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer: merge ``right`` into ``left``; a ``None`` value deletes the key."""
    out = dict(left or {})
    for key, value in (right or {}).items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def append_handoffs(left: list[Any] | None, right: list[Any] | None) -> list[Any]:
    """Reducer: append; ``None`` resets the list (a new task on the same thread)."""
    if right is None:
        return []
    return [*(left or ()), *right]


class LayeredState(TypedDict, total=False):
    """Default state of a layered graph (extend it with your context keys)."""

    task: Any
    subtasks: list[dict[str, Any]]  # subtask_record(Subtask) each: checkpoint-safe dicts
    results: Annotated[dict[str, Any], merge_dicts]
    failures: Annotated[dict[str, Any], merge_dicts]
    handoffs: Annotated[list[Handoff], append_handoffs]
    status: str
    reason: str | None
    layer_depth: int


DecomposeFn = Callable[[dict[str, Any]], Any]
