"""Turn ``decompose`` (a function, a Runnable or a chat model) into validated subtasks."""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from pydantic import ValidationError

from agentpatterns.errors import LayerDefinitionError, MalformedSubtaskError
from agentpatterns.layered._types import Executor, Subtask, SubtaskPlan

__all__ = ["Decomposer", "normalize_subtasks"]


def _prompt(executors: Mapping[str, Executor], task: Any) -> list[BaseMessage]:
    lines = [f"- {e.name}: {e.description or 'no description'}" for e in executors.values()]
    system = (
        "Split the task into subtasks for these executors:\n"
        + "\n".join(lines)
        + '\nAnswer with JSON only: {"subtasks": [{"id": "...", "executor": "...", '
        '"inputs": {...}}]}'
    )
    text = task if isinstance(task, str) else json.dumps(task, default=str)
    return [SystemMessage(system), HumanMessage(text)]


def _from_message(message: BaseMessage) -> Any:
    text = str(message.text)
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedSubtaskError(f"decompose model did not answer JSON: {text[:120]!r}") from exc


class Decomposer:
    """Calls the user's ``decompose`` the same way for sync and async graphs."""

    def __init__(self, decompose: Any, executors: Mapping[str, Executor]) -> None:
        self.executors = executors
        self.is_model = isinstance(decompose, BaseLanguageModel)
        self.structured: Runnable[Any, Any] | None = None
        if self.is_model:
            try:
                self.structured = decompose.with_structured_output(SubtaskPlan)  # type: ignore[union-attr]
            except (NotImplementedError, AttributeError, TypeError):
                self.structured = None  # fake or tool-less models: parse JSON text instead
        self.target: Any = self.structured or decompose
        self.is_async_fn = inspect.iscoroutinefunction(decompose)
        if not (self.is_model or isinstance(decompose, Runnable) or callable(decompose)):
            raise LayerDefinitionError(
                f"decompose must be a function, Runnable or chat model, got {type(decompose)!r}"
            )

    def _arg(self, state: Mapping[str, Any]) -> Any:
        return _prompt(self.executors, state.get("task")) if self.is_model else dict(state)

    def _out(self, raw: Any) -> Any:
        return _from_message(raw) if isinstance(raw, BaseMessage) else raw

    def __call__(self, state: Mapping[str, Any]) -> Any:
        if isinstance(self.target, Runnable):
            return self._out(self.target.invoke(self._arg(state)))
        if self.is_async_fn:
            raise MalformedSubtaskError("async decompose needs an async run (ainvoke)")
        return self._out(self.target(dict(state)))

    async def acall(self, state: Mapping[str, Any]) -> Any:
        if isinstance(self.target, Runnable):
            return self._out(await self.target.ainvoke(self._arg(state)))
        result = self.target(dict(state))
        if inspect.isawaitable(result):
            result = await result
        return self._out(result)


def normalize_subtasks(raw: Any, executors: Mapping[str, Executor], *, depth: int) -> list[Subtask]:
    """Validate ``raw`` into subtasks with unique ids and known executors.

    Raises:
        MalformedSubtaskError: wrong type, unknown executor, duplicate id, bad fields.
    """
    if isinstance(raw, SubtaskPlan):
        raw = raw.subtasks
    elif isinstance(raw, Mapping) and "subtasks" in raw:
        raw = raw["subtasks"]  # type: ignore[index]
    if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Sequence):
        raise MalformedSubtaskError(
            f"decompose must return a list of Subtask (or dicts), got {type(raw).__name__}"
        )
    out: list[Subtask] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):  # type: ignore[arg-type]
        try:
            if isinstance(item, Subtask):
                sub = item
                if not sub.id or sub.depth != depth or sub.attempt != 1:
                    sub = sub.model_copy(
                        update={
                            "id": sub.id or f"{sub.executor}-{index}",
                            "depth": depth,
                            "attempt": 1,
                        }
                    )
            elif isinstance(item, Mapping):
                data: dict[str, Any] = {**item, "depth": depth, "attempt": 1}  # type: ignore[dict-item]
                if not data.get("id"):
                    data["id"] = f"{data.get('executor')}-{index}"
                sub = Subtask.model_validate(data)
            else:
                raise MalformedSubtaskError(
                    f"subtask #{index} is a {type(item).__name__}, expected Subtask or dict"
                )
        except ValidationError as exc:
            raise MalformedSubtaskError(f"subtask #{index} is malformed: {exc}") from exc
        if sub.executor not in executors:
            raise MalformedSubtaskError(
                f"subtask #{index} names unknown executor {sub.executor!r}; "
                f"known: {sorted(executors)}"
            )
        if sub.id in seen:
            raise MalformedSubtaskError(f"duplicate subtask id {sub.id!r}")
        seen.add(sub.id)
        out.append(sub)
    return out
