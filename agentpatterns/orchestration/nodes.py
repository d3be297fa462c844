"""Node factories: tool selector -> tool executor -> tool aggregator.

Each factory returns a node that works in sync and async graphs (``node(state, config)``
runs it synchronously; LangGraph's ``ainvoke``/``astream`` use the native async version).
Nodes carry ``__agentpatterns__ = {"tool_node": <role>, "registry": registry, ...}`` so
readiness checks can find them.

State:
    Reads ``messages`` (the last ``AIMessage.tool_calls``) or ``plan`` (a list of
    ``{"name", "args", "id"}``), ``tool_selection``, ``tool_outcomes``. Writes
    ``tool_selection`` (selector), ``tool_refusals`` (selector, appended), ``tool_outcomes``
    (executor), ``messages`` (aggregator: one ``ToolMessage`` per call, in call order) and
    ``tool_results`` (aggregator, appended: ``{"id", "name", "ok", "error_type", "error",
    "attempts", "elapsed_ms"}``). Key names are parameters.

Example:
    >>> from langchain_core.messages import AIMessage
    >>> from agentpatterns.orchestration import (
    ...     ToolRegistry, tool_aggregator, tool_executor, tool_selector)
    >>> def double(x: int) -> int:
    ...     '''Double a number.'''
    ...     return 2 * x
    >>> reg = ToolRegistry()
    >>> _ = reg.register(double)
    >>> state = {"messages": [AIMessage("", tool_calls=[
    ...     {"name": "double", "args": {"x": 21}, "id": "c1"},
    ...     {"name": "nope", "args": {}, "id": "c2"}])]}
    >>> state |= tool_selector(reg)(state)
    >>> state |= tool_executor(reg)(state)
    >>> [(m.content[:16], m.status) for m in tool_aggregator()(state)["messages"]]
    [('42', 'success'), ('UnknownToolError', 'error')]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph._internal._runnable import RunnableCallable

from agentpatterns.errors import ToolError
from agentpatterns.orchestration.engine import Executor
from agentpatterns.orchestration.outcomes import record

if TYPE_CHECKING:
    from agentpatterns.orchestration.registry import ToolRegistry
    from agentpatterns.resilience import EffectLedger

__all__ = [
    "Merge",
    "OrchestrationNode",
    "default_merge",
    "select_calls",
    "tool_aggregator",
    "tool_executor",
    "tool_selector",
    "tool_step",
]

#: ``merge(state, outcomes) -> update``: turns a step's outcomes into a state update.
Merge = Callable[[Any, list[dict[str, Any]]], dict[str, Any]]


class OrchestrationNode(RunnableCallable):
    """A node with a sync and an async implementation that is also a plain callable."""

    def __init__(
        self,
        func: Callable[..., Any],
        afunc: Callable[..., Any],
        *,
        name: str,
        marker: dict[str, Any],
    ) -> None:
        super().__init__(func, afunc, name=name, trace=False)
        for target in (func, afunc):
            target.__agentpatterns__ = {**getattr(target, "__agentpatterns__", {}), **marker}  # type: ignore[attr-defined]
        self.__agentpatterns__ = marker

    def __call__(self, state: Any, config: RunnableConfig | None = None) -> Any:
        """Run the node synchronously (outside a graph too)."""
        assert self.func is not None
        return self.func(state, config or {})

    async def acall(self, state: Any, config: RunnableConfig | None = None) -> Any:
        """Run the node's async implementation."""
        assert self.afunc is not None
        return await self.afunc(state, config or {})


def _get(state: Any, key: str) -> Any:
    if isinstance(state, dict):
        return state.get(key)
    return getattr(state, key, None)


def select_calls(
    registry: ToolRegistry,
    agent: str,
    state: Any,
    config: RunnableConfig,
    *,
    messages_key: str = "messages",
    plan_key: str | None = "plan",
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pick this step's tool calls and check them; returns ``(selection, refusals)``.

    Each selection entry is ``{"id", "name", "args", "refusal"}`` where ``refusal`` is None
    or ``{"error_type", "message"}`` (unknown tool, not granted, arguments breaking the
    contract). Nothing runs here.
    """
    raw: list[Any] = []
    plan = _get(state, plan_key) if plan_key else None
    if plan and isinstance(plan, list | tuple):  # another shape of "plan" is not ours
        raw = list(plan)
    else:
        messages = _get(state, messages_key)
        if messages:
            last = messages[-1]
            if isinstance(last, AIMessage):
                raw = list(last.tool_calls)
    selection: list[dict[str, Any]] = []
    refusals: list[dict[str, Any]] = []
    step = (config.get("metadata") or {}).get("langgraph_step", 0)
    for index, item in enumerate(raw):
        if isinstance(item, dict):
            name, args, call_id = item.get("name"), item.get("args", {}), item.get("id")
        else:
            name, args, call_id = getattr(item, "name", None), getattr(item, "args", {}), None
        call_id = str(call_id) if call_id else f"call_{step}_{index}"
        entry: dict[str, Any] = {"id": call_id, "name": name, "args": args, "refusal": None}
        try:
            spec = registry.check_permission(agent, str(name))
            spec.check_args(args, registry.max_arg_bytes)
        except ToolError as exc:
            refusal = {"error_type": type(exc).__name__, "message": exc.message}
            entry["refusal"] = refusal
            refusals.append({"id": call_id, "name": name, "agent": agent, **refusal})
        selection.append(entry)
    return selection, refusals


def tool_selector(
    registry: ToolRegistry,
    *,
    agent: str = "default",
    messages_key: str = "messages",
    plan_key: str | None = "plan",
    selection_key: str = "tool_selection",
    refusals_key: str = "tool_refusals",
) -> OrchestrationNode:
    """Node taking the planner's tool calls and checking existence, permission, contract.

    Refused calls stay in the selection (marked) so that they get an error result in call
    order, and are recorded in ``refusals_key``.

    State:
        Reads ``plan_key`` (if non-empty) else the last message of ``messages_key`` (its
        ``tool_calls``). Writes ``selection_key`` (``[{"id", "name", "args", "refusal"}]``)
        and appends ``{"id", "name", "agent", "error_type", "message"}`` to ``refusals_key``.

    Example:
        >>> from agentpatterns.orchestration import ToolRegistry, tool_selector
        >>> sel = tool_selector(ToolRegistry())({"plan": [{"name": "rm", "args": {}, "id": "1"}]})
        >>> sel["tool_refusals"][0]["error_type"]
        'UnknownToolError'
    """

    def select(state: Any, config: RunnableConfig) -> dict[str, Any]:
        selection, refusals = select_calls(
            registry, agent, state, config, messages_key=messages_key, plan_key=plan_key
        )
        update: dict[str, Any] = {selection_key: selection}
        if refusals:
            update[refusals_key] = refusals
        return update

    async def aselect(state: Any, config: RunnableConfig) -> dict[str, Any]:
        return select(state, config)

    marker = {"tool_node": "selector", "registry": registry, "agent": agent}
    return OrchestrationNode(select, aselect, name="tool_selector", marker=marker)


def tool_executor(
    registry: ToolRegistry,
    *,
    agent: str = "default",
    ledger: EffectLedger | None = None,
    max_workers: int = 16,
    messages_key: str = "messages",
    plan_key: str | None = "plan",
    selection_key: str = "tool_selection",
    outcomes_key: str = "tool_outcomes",
) -> OrchestrationNode:
    """Node running the selected calls in parallel with per-call timeout and limits.

    Sync graphs run calls on one shared thread pool of ``max_workers`` threads (created on
    first use); async graphs use ``asyncio.gather``. A failing call gets an error outcome
    (``"ToolExecutionError: <type>: <message>"``); the node raises ``ToolExecutionError``
    only for tools whose policy is ``fail_fast``. Tools with ``retry``/``breaker``/
    ``fallback``/``side_effect`` run through ``agentpatterns.resilience.guard``. If the
    state has no selection (no selector upstream) the executor selects by itself.

    State:
        Reads ``selection_key`` (or, without a selector upstream, ``plan_key`` /
        ``messages_key``). Writes ``outcomes_key``: one outcome per call, in call order.

    Args:
        registry: Where the tools and policies are.
        agent: Whose permissions apply when the executor selects by itself.
        ledger: Effect ledger for side-effecting tools (default: the registry's).
        max_workers: Size of the shared worker pool (timed-out sync calls occupy a worker
            until they return).

    Example:
        >>> from agentpatterns.orchestration import ToolRegistry, tool_executor
        >>> def ping() -> str:
        ...     '''Answer pong.'''
        ...     return "pong"
        >>> reg = ToolRegistry(); _ = reg.register(ping)
        >>> out = tool_executor(reg)({"plan": [{"name": "ping", "args": {}, "id": "p"}]})
        >>> out["tool_outcomes"][0]["content"]
        'pong'
    """
    engine = Executor(registry, ledger=ledger, max_workers=max_workers)

    def selection_of(state: Any, config: RunnableConfig) -> list[dict[str, Any]]:
        selection = _get(state, selection_key)
        if selection is None:
            selection, _ = select_calls(
                registry, agent, state, config, messages_key=messages_key, plan_key=plan_key
            )
        return selection

    def execute(state: Any, config: RunnableConfig) -> dict[str, Any]:
        return {outcomes_key: engine.run(selection_of(state, config), config)}

    async def aexecute(state: Any, config: RunnableConfig) -> dict[str, Any]:
        return {outcomes_key: await engine.arun(selection_of(state, config), config)}

    marker = {"tool_node": "executor", "registry": registry, "agent": agent}
    node = OrchestrationNode(execute, aexecute, name="tool_executor", marker=marker)
    node.engine = engine  # type: ignore[attr-defined]  # pools, shutdown()
    return node


def default_merge(messages_key: str = "messages") -> Merge:
    """The default merge: one ``ToolMessage`` per outcome appended to ``messages_key``."""

    def merge(state: Any, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            messages_key: [
                ToolMessage(
                    o["content"],
                    tool_call_id=o["id"],
                    name=o["name"],
                    status="success" if o["ok"] else "error",
                )
                for o in outcomes
            ]
        }

    return merge


def tool_aggregator(
    *,
    merge: Merge | None = None,
    messages_key: str = "messages",
    selection_key: str = "tool_selection",
    outcomes_key: str = "tool_outcomes",
    results_key: str = "tool_results",
) -> OrchestrationNode:
    """Node merging the executor's outcomes into state, in call order.

    Args:
        merge: ``merge(state, outcomes) -> update`` (default: ``ToolMessage`` per call
            appended to ``messages_key``; the ``ToolMessage.status`` is ``"error"`` for failed
            or refused calls). Each outcome is ``{"id", "name", "ok", "content", "output",
            "error_type", "error", "attempts", "elapsed_ms"}``.

    State:
        Reads ``outcomes_key``. Writes what ``merge`` returns (default: ``ToolMessage`` objects
        appended to ``messages_key``), appends ``{"id", "name", "ok", "error_type", "error",
        "attempts", "elapsed_ms"}`` per call to ``results_key`` (for evals) and clears
        ``selection_key`` and ``outcomes_key``.

    Example:
        >>> from agentpatterns.orchestration import tool_aggregator
        >>> out = tool_aggregator(merge=lambda s, o: {"answers": [x["output"] for x in o]})(
        ...     {"tool_outcomes": [{"id": "1", "name": "t", "ok": True, "content": "7",
        ...       "output": 7, "error_type": None, "error": None, "attempts": 1,
        ...       "elapsed_ms": 0.1}]})
        >>> out["answers"], out["tool_results"][0]["ok"]
        ([7], True)
    """
    do_merge = merge if merge is not None else default_merge(messages_key)

    def aggregate(state: Any, config: RunnableConfig) -> dict[str, Any]:
        outcomes: list[dict[str, Any]] = _get(state, outcomes_key) or []
        if not outcomes:
            return {}
        update = dict(do_merge(state, outcomes))
        update[results_key] = [record(o) for o in outcomes]
        update[outcomes_key] = []
        update[selection_key] = []
        return update

    async def aaggregate(state: Any, config: RunnableConfig) -> dict[str, Any]:
        return aggregate(state, config)

    marker = {"tool_node": "aggregator", "merge": merge}
    return OrchestrationNode(aggregate, aaggregate, name="tool_aggregator", marker=marker)


def tool_step(
    registry: ToolRegistry,
    *,
    agent: str = "default",
    merge: Merge | None = None,
    ledger: EffectLedger | None = None,
    max_workers: int = 16,
    messages_key: str = "messages",
    plan_key: str | None = "plan",
    refusals_key: str = "tool_refusals",
    results_key: str = "tool_results",
) -> OrchestrationNode:
    """Selector, executor and aggregator fused into one node (one graph step, no scratch keys).

    Same behaviour and state updates as the three nodes in a row, minus ``tool_selection`` /
    ``tool_outcomes``; saves LangGraph two supersteps per tool round. Used by
    ``add_tool_orchestration(..., fused=True)``.

    State:
        Reads ``plan_key`` / ``messages_key``; writes the merge's keys (default
        ``messages_key``), appends to ``results_key`` and ``refusals_key``.

    Example:
        >>> from agentpatterns.orchestration import ToolRegistry, tool_step
        >>> def ping() -> str:
        ...     '''Answer pong.'''
        ...     return "pong"
        >>> reg = ToolRegistry(); _ = reg.register(ping)
        >>> out = tool_step(reg)({"plan": [{"name": "ping", "args": {}, "id": "p"}]})
        >>> out["messages"][0].content, out["tool_results"][0]["ok"]
        ('pong', True)
    """
    engine = Executor(registry, ledger=ledger, max_workers=max_workers)
    do_merge = merge if merge is not None else default_merge(messages_key)

    def select(state: Any, config: RunnableConfig) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        selection, refusals = select_calls(
            registry, agent, state, config, messages_key=messages_key, plan_key=plan_key
        )
        return selection, ({refusals_key: refusals} if refusals else {})

    def combine(state: Any, outcomes: list[dict[str, Any]], update: dict[str, Any]) -> Any:
        if not outcomes:
            return update
        update.update(do_merge(state, outcomes))
        update[results_key] = [record(o) for o in outcomes]
        return update

    def step(state: Any, config: RunnableConfig) -> dict[str, Any]:
        selection, update = select(state, config)
        return combine(state, engine.run(selection, config), update)

    async def astep(state: Any, config: RunnableConfig) -> dict[str, Any]:
        selection, update = select(state, config)
        return combine(state, await engine.arun(selection, config), update)

    marker = {"tool_node": "step", "registry": registry, "agent": agent, "merge": merge}
    node = OrchestrationNode(step, astep, name="tool_step", marker=marker)
    node.engine = engine  # type: ignore[attr-defined]
    return node
