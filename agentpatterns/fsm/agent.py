"""The guide's canonical agent machine: start -> plan -> execute -> validate -> done.

State:
    Reads ``task`` and/or ``messages`` (planner input), ``plan`` (executor input),
    ``results`` and whatever the validator reads. Writes ``plan`` (list of tool calls
    ``{"name","args","id"}``), ``messages`` (a model planner appends its AIMessage),
    ``valid``, ``feedback``, ``replans`` plus the machine keys of
    :class:`~agentpatterns.fsm.AgentState`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langgraph.graph import StateGraph
from langgraph.graph.message import add_messages

from agentpatterns.fsm.conditions import when
from agentpatterns.fsm.machine import StateMachine
from agentpatterns.fsm.state import AgentState

__all__ = ["AgentGraphState", "Rule", "RulePlanner", "build_agent_graph"]


class AgentGraphState(AgentState, total=False):
    """State of :func:`build_agent_graph`; extend it for your own keys."""

    task: str
    messages: Annotated[list[AnyMessage], add_messages]
    plan: list[dict[str, Any]]
    results: list[Any]
    valid: bool
    feedback: str | None
    replans: int


@dataclass(frozen=True, slots=True)
class Rule:
    """One planning rule: when ``pattern`` matches the task, call ``tool``.

    Args:
        pattern: A regular expression searched (case-insensitive) in the task text.
        tool: Name of the tool to call.
        args: Arguments: a dict, or ``fn(match, state) -> dict`` built from the match
            (e.g. ``lambda m, s: {"order_id": m.group(1)}``).
    """

    pattern: str
    tool: str
    args: Mapping[str, Any] | Callable[[re.Match[str], Mapping[str, Any]], Mapping[str, Any]] = (
        field(default_factory=dict[str, Any])
    )


class RulePlanner:
    """Deterministic planner without a model: keyword / regex rules to tool calls.

    The task text is ``state["task"]``, else the content of the last human message. Every
    rule whose pattern matches adds one tool call, in rule order; each rule fires once per
    plan. No match gives an empty plan. On a re-plan the ``feedback`` of the validator is
    appended to the task text, so rules can react to it (e.g. ``Rule("not found", ...)``).

    Example:
        >>> p = RulePlanner([Rule(r"order #?(\\d+)", "get_order",
        ...                       lambda m, s: {"order_id": m.group(1)})])
        >>> p({"task": "Where is order #42?"})["plan"][0]["args"]
        {'order_id': '42'}
    """

    def __init__(self, rules: Sequence[Rule | tuple[str, str]] = ()) -> None:
        self.rules = tuple(r if isinstance(r, Rule) else Rule(*r) for r in rules)
        self._compiled = tuple(re.compile(r.pattern, re.IGNORECASE) for r in self.rules)

    def __call__(self, state: Mapping[str, Any]) -> dict[str, Any]:
        text = task_text(state)
        if state.get("feedback"):
            text = f"{text}\n{state['feedback']}"
        plan: list[dict[str, Any]] = []
        for rule, rx in zip(self.rules, self._compiled, strict=True):
            match = rx.search(text)
            if match is None:
                continue
            args = rule.args(match, state) if callable(rule.args) else rule.args
            plan.append({"name": rule.tool, "args": dict(args), "id": f"call_{len(plan)}"})
        return {"plan": plan}


def task_text(state: Mapping[str, Any]) -> str:
    """The task: ``state["task"]`` or the last human message's text."""
    if state.get("task"):
        return str(state["task"])
    messages: Sequence[Any] = state.get("messages") or ()
    for msg in reversed(messages):
        if isinstance(msg, HumanMessage):
            return str(msg.content)
    return ""


def _model_planner(model: Any, tools: Sequence[Any]) -> Runnable[Any, Any]:
    """Planner node over a chat model: its tool calls become the plan."""
    bound = model
    if tools:
        try:
            bound = model.bind_tools(list(tools))
        except NotImplementedError:  # fake chat models in tests cannot bind
            bound = model

    def inputs(state: Mapping[str, Any]) -> list[BaseMessage]:
        msgs: list[BaseMessage] = list(state.get("messages") or ())
        if not msgs:
            msgs = [HumanMessage(task_text(state))]
        if state.get("feedback"):
            msgs.append(HumanMessage(f"Validation failed: {state['feedback']}. Re-plan."))
        return msgs

    def outputs(ai: Any) -> dict[str, Any]:
        calls = list(getattr(ai, "tool_calls", None) or ())
        plan = [
            {"name": c["name"], "args": dict(c["args"]), "id": c.get("id") or uuid.uuid4().hex}
            for c in calls
        ]
        out: dict[str, Any] = {"plan": plan}
        if isinstance(ai, AIMessage):
            out["messages"] = [ai]
        return out

    def plan(state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        return outputs(bound.invoke(inputs(state), config))

    async def aplan(state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        return outputs(await bound.ainvoke(inputs(state), config))

    return RunnableLambda(plan, afunc=aplan, name="plan")


def _is_chat_model(obj: Any) -> bool:
    return (
        hasattr(obj, "bind_tools")
        and hasattr(obj, "invoke")
        and not callable(getattr(obj, "__func__", None))
    )


def _replans_so_far(state: Mapping[str, Any]) -> int:
    n = 0
    for rec in reversed(state.get("transitions") or ()):
        if rec["from"] == "validate" and rec["to"] == "plan":
            n += 1
        if rec["from"] == "start":
            break
    return n


def _validator_node(validator: Callable[..., Any]) -> Callable[..., Any]:
    """Normalise the validator's answer (bool or dict with ``valid``) into an update."""
    import inspect

    def norm(out: Any, state: Mapping[str, Any]) -> dict[str, Any]:
        upd: dict[str, Any] = {"valid": bool(out)} if not isinstance(out, Mapping) else dict(out)
        upd.setdefault("valid", False)
        done = _replans_so_far(state)  # from this run's log: a new run starts at 0
        if not upd["valid"]:
            upd["replans"] = done + 1
        else:
            upd["replans"] = done
            upd.setdefault("feedback", None)
        return upd

    if inspect.iscoroutinefunction(validator):

        async def avalidate(state: Mapping[str, Any]) -> dict[str, Any]:
            return norm(await validator(state), state)

        return avalidate

    def validate(state: Mapping[str, Any]) -> dict[str, Any]:
        return norm(validator(state), state)

    return validate


def build_agent_graph(
    *,
    planner: Any = None,
    executor: Callable[..., Any],
    validator: Callable[..., Any],
    max_replans: int = 2,
    tools: Sequence[Any] = (),
    state_schema: type[Any] = AgentGraphState,
    name: str = "agent",
    timeouts: Mapping[str, float] | None = None,
    retry: Mapping[str, Any] | None = None,
    max_steps: int | None = 100,
) -> StateGraph[Any]:
    """The canonical plan -> execute -> validate machine, as an uncompiled ``StateGraph``.

    ``validate`` goes to ``done`` when valid; when not, back to ``plan`` while fewer than
    ``max_replans`` re-plans were made, else to ``failed``. Errors go to ``failed``,
    timeouts to ``timed_out``.

    Args:
        planner: A function ``state -> {"plan": [...]}`` (sync or async), a chat model with
            ``bind_tools`` (its tool calls become the plan), or ``None`` for an empty
            :class:`RulePlanner` (pass ``RulePlanner(rules)`` for real rules).
        executor: Node that runs ``state["plan"]`` and writes e.g. ``results``.
        validator: ``state -> bool`` or ``-> {"valid": bool, "feedback": str, ...}``.
        max_replans: Re-plans allowed after failed validations.
        tools: Tools to bind to a chat-model planner.
        state_schema: State TypedDict (default :class:`AgentGraphState`).
        name: Machine name.
        timeouts: Per-state timeouts in seconds, e.g. ``{"execute": 30}``.
        retry: Per-state retry policies, e.g. ``{"plan": RetryPolicy(max_attempts=3)}``.
        max_steps: Whole-run step budget.

    State:
        Reads ``task`` / ``messages``, ``plan``, ``results``, ``transitions``. Writes
        ``plan``, ``messages`` (model planner), ``results`` (your executor), ``valid``,
        ``feedback``, ``replans`` and the machine keys (``status``, ``reason``,
        ``transitions``, ``error``, ``steps``, ``visits``).

    Example:
        >>> g = build_agent_graph(
        ...     planner=RulePlanner([Rule("refund", "refund_order")]),
        ...     executor=lambda s: {"results": [c["name"] for c in s["plan"]]},
        ...     validator=lambda s: bool(s["results"]),
        ... ).compile()
        >>> out = g.invoke({"task": "please refund me"})
        >>> out["status"], out["results"]
        ('done', ['refund_order'])
    """
    if planner is None:
        planner = RulePlanner()
    plan_node = _model_planner(planner, tools) if _is_chat_model(planner) else planner
    timeouts = dict(timeouts or {})
    retry = dict(retry or {})
    valid = when(lambda s: s.get("valid"), name="valid")
    can_replan = when(lambda s: (s.get("replans") or 0) <= max_replans, name="can_replan")
    m = StateMachine(state_schema, name=name, max_steps=max_steps)
    for state, node in (
        ("plan", plan_node),
        ("execute", executor),
        ("validate", _validator_node(validator)),
    ):
        m.state(state, node, timeout=timeouts.get(state), retry=retry.get(state))
    m.transition("plan", "execute")
    m.transition("execute", "validate")
    m.transition("validate", "done", when=valid)
    m.transition("validate", "plan", when=~valid & can_replan)
    m.transition("validate", "failed")
    return m.build()
