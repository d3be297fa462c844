"""The retail tools as LangChain tools, their compensations, registration and task replay.

``tools(store)`` gives the 16 τ² retail tools bound to one :class:`RetailStore`, as
``StructuredTool`` objects with pydantic argument models. Write tools read the executor's
idempotency key from ``config["configurable"]["agentpatterns_effect_key"]`` and store it in
the write log. Domain errors propagate as :class:`RetailError` (a ``ValueError``: permanent)
for the executor to turn into error results.

Example:
    >>> from tools.retail import RetailStore, tools, replay, load_tasks
    >>> store = RetailStore("memory:")
    >>> by_name = {t.name: t for t in tools(store)}
    >>> by_name["find_user_id_by_email"].invoke({"email": "noah.brown7922@example.com"})
    'noah_brown_6181'
    >>> replay(load_tasks()[0]).domain_errors
    0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.tools import BaseTool, StructuredTool

from tools._common import current_effect_key, pack_tool
from tools.retail.data import task_actions
from tools.retail.reads import READS
from tools.retail.store import RetailError, RetailStore
from tools.retail.writes import WRITES

if TYPE_CHECKING:
    from agentpatterns.orchestration import ToolPolicy, ToolRegistry
    from agentpatterns.resilience import Retry

__all__ = [
    "READ_TOOLS",
    "WRITE_TOOLS",
    "ReplayResult",
    "compensation",
    "current_effect_key",
    "reconciler",
    "register_retail_tools",
    "replay",
    "tools",
]

READ_TOOLS: tuple[str, ...] = tuple(READS)
WRITE_TOOLS: tuple[str, ...] = tuple(WRITES)
READ_AGENTS = ("reader", "default", "writer")
WRITE_AGENTS = ("writer",)


def _read_tool(store: RetailStore, name: str) -> StructuredTool:
    fn, model, description = READS[name]

    def run(**kwargs: Any) -> Any:
        return fn(store, **kwargs)

    return pack_tool(run, model, description, name=name, pack="retail", side_effect=False)


def _write_tool(store: RetailStore, name: str) -> StructuredTool:
    fn, model, business_key, description = WRITES[name]

    def run(**kwargs: Any) -> Any:
        return fn(store, current_effect_key(), **kwargs)

    return pack_tool(
        run,
        model,
        description,
        name=name,
        pack="retail",
        side_effect=True,
        business_key=business_key,
    )


def tools(store: RetailStore) -> list[BaseTool]:
    """The 16 retail tools bound to ``store``: 9 reads then 7 writes."""
    out: list[BaseTool] = [_read_tool(store, name) for name in READ_TOOLS]
    return out + [_write_tool(store, name) for name in WRITE_TOOLS]


def compensation(store: RetailStore, name: str) -> Callable[[dict[str, Any], Any], int]:
    """``compensate(args, result)`` for write tool ``name``: undo its newest live write.

    The write is found by tool and business key (order or user id from ``args``); records are
    restored from the before-image if they still equal the after-image, and the log row is
    marked compensated. Returns the write-log id.

    Raises:
        CompensationError: nothing to undo, or the record changed since the write.
    """
    business_key = WRITES[name][2]

    def compensate(args: dict[str, Any], result: Any) -> int:
        return store.compensate(name, str(args[business_key]))

    compensate.__name__ = f"compensate_{name}"
    return compensate


def reconciler(store: RetailStore, name: str) -> Callable[[dict[str, Any]], Any]:
    """``reconcile(args)`` for write tool ``name``: the committed result of this write, or None.

    A retry after a lost response asks it before writing again: if a live write of ``name``
    with exactly these arguments (and the running call's effect key, when there is one) is in
    the write log and its records are unchanged since, the changed record is returned as the
    tool would have returned it, and the write is not repeated.
    """

    def reconcile(args: dict[str, Any]) -> Any:
        return store.find_write(name, dict(args), current_effect_key())

    reconcile.__name__ = f"reconcile_{name}"
    return reconcile


def register_retail_tools(
    registry: ToolRegistry,
    store: RetailStore,
    *,
    policy_overrides: Mapping[str, ToolPolicy] | None = None,
    wrap: Callable[[BaseTool], BaseTool] | None = None,
    retry: Retry | None = None,
    timeout: float | None = None,
) -> list[str]:
    """Register the 16 retail tools with policies and per-agent grants.

    Writes get ``ToolPolicy(side_effect=True, compensate=compensation(store, name),
    reconcile=reconciler(store, name))`` (no idempotency-key function: the executor's default
    key is used); reads a plain ``ToolPolicy()``.
    Reads are granted to agents ``reader``, ``default`` and ``writer``; writes to ``writer``.

    Args:
        registry: An ``agentpatterns.orchestration.ToolRegistry``.
        store: The store the tools work on.
        policy_overrides: tool name -> ``ToolPolicy`` replacing the default one.
        retry: A ``resilience.Retry`` put on every default policy (reads and writes).
        timeout: Per-call timeout (s) put on every default policy.
        wrap: Applied to each tool before registration, e.g.
            ``agentpatterns.testing.faults.FaultInjector(seed, ...).wrap`` (it must keep the
            tool's name).

    Returns:
        The registered tool names.

    Raises:
        ConfigurationError: an override names no retail tool.
    """
    from agentpatterns.errors import ConfigurationError
    from agentpatterns.orchestration import ToolPolicy

    overrides = dict(policy_overrides or {})
    unknown = sorted(set(overrides) - set(READ_TOOLS) - set(WRITE_TOOLS))
    if unknown:
        raise ConfigurationError(f"policy_overrides name unknown retail tools: {unknown}")
    names: list[str] = []
    for tool in tools(store):
        if tool.name in WRITE_TOOLS:
            default = ToolPolicy(
                timeout=timeout,
                retry=retry,
                side_effect=True,
                compensate=compensation(store, tool.name),
                reconcile=reconciler(store, tool.name),
            )
            agents = WRITE_AGENTS
        else:
            default, agents = ToolPolicy(timeout=timeout, retry=retry), READ_AGENTS
        registered = tool if wrap is None else wrap(tool)
        registry.register(registered, policy=overrides.get(tool.name, default), agents=agents)
        names.append(tool.name)
    return names


@dataclass
class ReplayResult:
    """Outcome of replaying one task's ground-truth actions on a fresh store."""

    task_id: str
    state_hash: str
    actions: int
    writes: int
    domain_errors: int
    errors: list[tuple[str, str, str]] = field(default_factory=list[tuple[str, str, str]])
    """(action id, tool name, τ² message) of each action that raised a domain error."""


def replay(task: dict[str, Any], *, store: RetailStore | None = None) -> ReplayResult:
    """Run a task's ground-truth actions on a fresh in-memory store (or ``store``).

    Domain errors are counted and recorded, not raised (τ² expects some on purpose).
    """
    own = store is None
    db = RetailStore("memory:") if store is None else store
    try:
        by_name = {t.name: t for t in tools(db)}
        result = ReplayResult(
            task_id=str(task.get("id")), state_hash="", actions=0, writes=0, domain_errors=0
        )
        for action in task_actions(task):
            result.actions += 1
            try:
                by_name[action["name"]].invoke(dict(action.get("arguments") or {}))
            except RetailError as exc:
                result.domain_errors += 1
                result.errors.append((str(action.get("action_id")), action["name"], str(exc)))
                continue
            result.writes += action["name"] in WRITE_TOOLS
        result.state_hash = db.state_hash()
        return result
    finally:
        if own:
            db.close()
