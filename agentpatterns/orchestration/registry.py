"""The tool registry: one place for tools, their contracts, policies and permissions.

Tools are registered once and reused by every agent that is granted them. Everything the
executor needs per call (argument model, allowed argument names, semaphores, sync/async
capabilities) is computed here at registration time so the hot path only looks things up.

Permissions: a tool registered without ``agents`` is shared by every agent; a tool registered
with ``agents=[...]`` (or ``agents=()`` for "nobody yet") may be called only by the agents on
its allow-list, which :meth:`ToolRegistry.grant` extends.

Example:
    >>> from langchain_core.tools import tool
    >>> from agentpatterns.orchestration import ToolRegistry, ToolPolicy
    >>> @tool
    ... def add(a: int, b: int) -> int:
    ...     '''Add two integers.'''
    ...     return a + b
    >>> registry = ToolRegistry()
    >>> _ = registry.register(add, policy=ToolPolicy(timeout=1.0), agents=["math"])
    >>> [t.name for t in registry.tools_for("math")], registry.tools_for("sales")
    (['add'], [])
"""

from __future__ import annotations

import asyncio
import json
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from langchain_core.tools import BaseTool, StructuredTool, Tool
from langchain_core.tools import tool as make_tool
from pydantic import BaseModel, ValidationError

from agentpatterns.errors import (
    ConfigurationError,
    ToolContractError,
    ToolPermissionError,
    UnknownToolError,
)
from agentpatterns.orchestration.policy import ToolPolicy

if TYPE_CHECKING:
    from agentpatterns.resilience import EffectLedger

__all__ = ["DEFAULT_MAX_ARG_BYTES", "RegisteredTool", "ToolRegistry"]

#: Default limit on the JSON size of one call's arguments.
DEFAULT_MAX_ARG_BYTES = 64 * 1024


def _describe_validation(error: ValidationError, what: str) -> str:
    parts: list[str] = []
    for item in error.errors()[:5]:
        loc = ".".join(str(p) for p in item.get("loc", ())) or "<root>"
        got = item.get("input")
        shown = repr(got) if len(repr(got)) <= 60 else repr(got)[:57] + "..."
        if item.get("type") == "missing":
            parts.append(f"{what} '{loc}': field required")
        else:
            parts.append(f"{what} '{loc}': {item.get('msg')} (got {shown})")
    more = len(error.errors()) - 5
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


# tool_call_schema builds a new pydantic model on every access (~4 ms); tools made per store
# or per request share their args_schema class, so cache the call schema per class.
_SCHEMA_CACHE: weakref.WeakKeyDictionary[type, Any] = weakref.WeakKeyDictionary()


def _call_schema(tool: BaseTool) -> Any:
    args_schema = tool.args_schema
    if not (isinstance(args_schema, type) and issubclass(args_schema, BaseModel)):
        return tool.tool_call_schema
    cached = _SCHEMA_CACHE.get(args_schema)
    if cached is None:
        cached = _SCHEMA_CACHE[args_schema] = tool.tool_call_schema
    return cached


class RegisteredTool:
    """A tool with everything the executor needs, precomputed at registration."""

    __slots__ = (
        "_async_sems",
        "allowed",
        "arg_names",
        "args_model",
        "has_async",
        "has_sync",
        "name",
        "policy",
        "sem",
        "tool",
        "wants_call",
    )

    def __init__(self, tool: BaseTool, policy: ToolPolicy, allowed: frozenset[str] | None) -> None:
        self.tool = tool
        self.name = tool.name
        self.policy = policy
        self.allowed = allowed
        schema = _call_schema(tool)
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            self.args_model: type[BaseModel] | None = schema
            self.arg_names: frozenset[str] | None = frozenset(schema.model_fields)
        else:
            self.args_model = None
            self.arg_names = None
        if isinstance(tool, StructuredTool | Tool):
            self.has_sync = tool.func is not None
            self.has_async = tool.coroutine is not None
        else:
            self.has_sync = True
            self.has_async = type(tool)._arun is not BaseTool._arun
        self.wants_call = _wants_tool_call_id(tool)
        limit = policy.max_concurrency
        self.sem = threading.BoundedSemaphore(limit) if limit else None
        self._async_sems: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    def async_sem(self) -> asyncio.Semaphore | None:
        """The per-event-loop semaphore enforcing ``policy.max_concurrency`` (or None)."""
        limit = self.policy.max_concurrency
        if not limit:
            return None
        loop = asyncio.get_running_loop()
        sem = self._async_sems.get(loop)
        if sem is None:
            sem = self._async_sems[loop] = asyncio.Semaphore(limit)
        return sem

    def check_args(self, args: Any, max_bytes: int) -> None:
        """Validate one call's arguments against the contract; raise ToolContractError."""
        if not isinstance(args, dict):
            raise ToolContractError(
                f"arguments of tool '{self.name}' must be a JSON object, got {type(args).__name__}",
                node=self.name,
            )
        try:
            size = len(json.dumps(args, default=str, ensure_ascii=False).encode())
        except (TypeError, ValueError) as exc:  # circular structure etc.
            raise ToolContractError(
                f"arguments of tool '{self.name}' are not JSON-serialisable: {exc}",
                node=self.name,
            ) from None
        if size > max_bytes:
            raise ToolContractError(
                f"arguments of tool '{self.name}' are {size} bytes, over the limit of "
                f"{max_bytes} bytes",
                node=self.name,
            )
        if self.args_model is None:
            return
        assert self.arg_names is not None
        unexpected = [key for key in args if key not in self.arg_names]
        if unexpected:
            expected = ", ".join(sorted(self.arg_names)) or "none"
            raise ToolContractError(
                f"tool '{self.name}' got unexpected argument(s) "
                f"{', '.join(repr(k) for k in unexpected)} (expected: {expected})",
                node=self.name,
            )
        try:
            self.args_model.model_validate(args)
        except ValidationError as exc:
            raise ToolContractError(
                f"arguments of tool '{self.name}' break its contract: "
                f"{_describe_validation(exc, 'argument')}",
                node=self.name,
            ) from None

    def check_output(self, output: Any) -> None:
        """Validate the tool's output against ``policy.output_model`` (if any)."""
        model = self.policy.output_model
        if model is None or isinstance(output, model):
            return
        try:
            if isinstance(output, str | bytes):
                model.model_validate_json(output)
            else:
                model.model_validate(output)
        except ValidationError as exc:
            raise ToolContractError(
                f"output of tool '{self.name}' breaks its contract "
                f"({model.__name__}): {_describe_validation(exc, 'field')}",
                node=self.name,
            ) from None


class ToolRegistry:
    """Tools, their policies and per-agent allow-lists.

    Args:
        ledger: An ``agentpatterns.resilience.EffectLedger`` recording side effects of tools
            whose policy has ``side_effect=True`` (used by the executor unless the executor
            is given its own ledger).
        max_arg_bytes: Calls whose arguments serialise to more JSON bytes are refused.

    Example:
        >>> from agentpatterns.orchestration import ToolRegistry
        >>> def shout(text: str) -> str:
        ...     '''Upper-case a text.'''
        ...     return text.upper()
        >>> registry = ToolRegistry()
        >>> registry.register(shout).invoke({"text": "hi"})
        'HI'
    """

    def __init__(
        self, *, ledger: EffectLedger | None = None, max_arg_bytes: int = DEFAULT_MAX_ARG_BYTES
    ) -> None:
        if isinstance(max_arg_bytes, bool) or not isinstance(max_arg_bytes, int):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError(f"max_arg_bytes must be an int, got {max_arg_bytes!r}")
        if max_arg_bytes < 1:
            raise ConfigurationError(f"max_arg_bytes must be >= 1, got {max_arg_bytes}")
        self.ledger = ledger
        self.max_arg_bytes = max_arg_bytes
        self._tools: dict[str, RegisteredTool] = {}

    def register(
        self,
        tool: BaseTool | Callable[..., Any],
        *,
        policy: ToolPolicy | None = None,
        agents: Iterable[str] | None = None,
    ) -> BaseTool:
        """Add a tool; returns the (possibly wrapped) ``BaseTool``.

        Args:
            tool: A LangChain ``BaseTool``, an ``@tool`` function or a plain function with a
                docstring and type hints (wrapped with ``langchain_core.tools.tool``).
            policy: How the executor runs it (default ``ToolPolicy()``).
            agents: Agents allowed to call it; ``None`` shares it with every agent.

        Raises:
            ConfigurationError: Duplicate name, not a tool, or a function LangChain cannot
                turn into a tool (e.g. no docstring).
        """
        if policy is None:
            policy = ToolPolicy()
        elif not isinstance(policy, ToolPolicy):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError(f"policy must be a ToolPolicy, got {policy!r}")
        if not isinstance(tool, BaseTool):
            if not callable(tool):
                raise ConfigurationError(f"cannot register {tool!r}: not a tool or a function")
            try:
                tool = make_tool(tool)
            except (ValueError, TypeError) as exc:
                raise ConfigurationError(f"cannot turn {tool!r} into a tool: {exc}") from exc
        assert isinstance(tool, BaseTool)
        if tool.name in self._tools:
            raise ConfigurationError(f"a tool named '{tool.name}' is already registered")
        allowed = None if agents is None else frozenset(_agent_names(agents))
        self._tools[tool.name] = RegisteredTool(tool, policy, allowed)
        return tool

    def grant(self, agent: str, *tool_names: str) -> None:
        """Allow ``agent`` to call the named (restricted) tools.

        Raises:
            UnknownToolError: A name is not registered.
            ConfigurationError: The tool is shared with every agent already (register it
                with ``agents=()`` to restrict it).
        """
        (agent,) = _agent_names([agent])
        for name in tool_names:
            spec = self.spec(name)
            if spec.allowed is None:
                raise ConfigurationError(
                    f"tool '{name}' is shared with every agent; register it with agents=() "
                    f"to make it grant-only"
                )
            spec.allowed = spec.allowed | {agent}

    def revoke(self, agent: str, *tool_names: str) -> None:
        """Take ``agent`` off the allow-lists of the named restricted tools."""
        for name in tool_names:
            spec = self.spec(name)
            if spec.allowed is None:
                raise ConfigurationError(f"tool '{name}' is shared with every agent")
            spec.allowed = spec.allowed - {agent}

    def spec(self, name: str) -> RegisteredTool:
        """The registered entry for ``name`` (tool, policy, allow-list)."""
        try:
            return self._tools[name]
        except KeyError:
            raise UnknownToolError(
                f"no tool named {name!r}; registered: {', '.join(sorted(self._tools)) or 'none'}",
                node=str(name),
            ) from None

    def get(self, name: str) -> BaseTool:
        """The tool registered as ``name``; raises UnknownToolError."""
        return self.spec(name).tool

    def policy(self, name: str) -> ToolPolicy:
        """The policy of the tool registered as ``name``."""
        return self.spec(name).policy

    def allows(self, agent: str, name: str) -> bool:
        """True when ``agent`` may call tool ``name`` (False for unknown tools)."""
        spec = self._tools.get(name)
        return spec is not None and (spec.allowed is None or agent in spec.allowed)

    def check_permission(self, agent: str, name: str) -> RegisteredTool:
        """The entry for ``name`` if ``agent`` may call it; raises otherwise."""
        spec = self._tools.get(name)
        if spec is None or not (spec.allowed is None or agent in spec.allowed):
            granted = ", ".join(t.name for t in self.tools_for(agent)) or "none"
            if spec is None:
                raise UnknownToolError(
                    f"no tool named {name!r}; tools available to agent '{agent}': {granted}",
                    node=str(name),
                )
            raise ToolPermissionError(
                f"agent '{agent}' is not allowed to call tool '{name}'; "
                f"tools available to it: {granted}",
                node=name,
            )
        return spec

    def tools_for(self, agent: str) -> list[BaseTool]:
        """The tools ``agent`` may call, in registration order (for ``bind_tools``)."""
        return [
            spec.tool
            for spec in self._tools.values()
            if spec.allowed is None or agent in spec.allowed
        ]

    @property
    def names(self) -> list[str]:
        """Registered tool names in registration order."""
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[BaseTool]:
        return (spec.tool for spec in self._tools.values())

    def __repr__(self) -> str:
        return f"ToolRegistry({', '.join(self._tools)})"


def _wants_tool_call_id(tool: BaseTool) -> bool:
    """True when the tool declares an ``InjectedToolCallId`` argument (invoke with a ToolCall)."""
    try:
        from langchain_core.tools.base import (
            InjectedToolCallId,
            _is_injected_arg_type,
            get_all_basemodel_annotations,
        )

        schema = tool.get_input_schema()
        return any(
            _is_injected_arg_type(hint, injected_type=InjectedToolCallId)
            for hint in get_all_basemodel_annotations(schema).values()
        )
    except Exception:  # unusual schema: fall back to plain argument calls
        return False


def _agent_names(agents: Iterable[str]) -> list[str]:
    if isinstance(agents, str):
        raise ConfigurationError(f"agents must be a list of names, not the string {agents!r}")
    names = list(agents)
    for name in names:
        if not isinstance(name, str) or not name:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError(f"agent names must be non-empty strings, got {name!r}")
    return names
