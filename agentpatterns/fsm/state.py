"""The state keys every state machine keeps, and the reducer of the transition log."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, TypedDict

from langgraph.channels.last_value import LastValue

__all__ = [
    "MACHINE_KEYS",
    "RESERVED_NAMES",
    "TERMINALS",
    "AgentState",
    "Status",
    "TransitionRecord",
    "append_transitions",
]

#: Built-in terminal states; each is a real node that records status and reason, then ends.
TERMINALS: Final = ("done", "failed", "timed_out", "escalated")

#: Names a user state may not take.
RESERVED_NAMES: Final = frozenset({*TERMINALS, "__start__", "__end__", "start", "end"})

Status = Literal["running", "done", "failed", "timed_out", "escalated"]


#: One entry of the ``transitions`` log ("from" is a keyword, hence the functional syntax).
TransitionRecord = TypedDict(
    "TransitionRecord",
    {"from": str, "to": str, "step": int, "reason": str, "elapsed_ms": float},
)


def append_transitions(
    left: list[dict[str, Any]] | None, right: list[dict[str, Any]] | dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Reducer of ``transitions``: append records (a list or one dict); ``None`` keeps all."""
    if not right:
        return left or []
    if isinstance(right, dict):
        return [*(left or ()), right]
    return [*(left or ()), *right]


#: LangGraph's "no value" sentinel, taken from a fresh channel (not a private import).
_MISSING: Final = LastValue(Any).value


class NoneUntilWritten(LastValue[Any]):
    """A ``LastValue`` channel that reads ``None`` until the first write.

    After every step LangGraph reads each output key of the state (``invoke`` streams the
    values), and an empty channel costs a raised-and-caught ``EmptyChannelError`` each
    time. The run-summary keys are written once per run at most, so they read ``None``
    instead. Until written the channel still reports itself unavailable, so LangGraph
    skips it in its per-step channel loop and node inputs leave the key out; it has no
    version, so checkpoints do not store it. Measured on 5 such keys of a 10-node graph:
    +3.2 % as plain empty channels, +1.9 % as these.
    """

    __slots__ = ()

    def get(self) -> Any:
        value = self.value
        return None if value is _MISSING else value


class AgentState(TypedDict, total=False):
    """Base state of a :class:`~agentpatterns.fsm.StateMachine`; extend it with your keys.

    Keys (all written by the machine, read freely by nodes):
        status: ``"running"`` while a run is in a user state, then the terminal's name.
        reason: Why the run ended (the reason of the transition into the terminal).
        transitions: Append-only log of ``{"from","to","step","reason","elapsed_ms"}``.
        error: ``{"type","message","node"}`` of the error that sent the run to an error
            exit, else ``None``.
        visits: Entries per state in the run, written by the terminal state (in the
            graph's output ``visits``, ``steps``, ``reason``, ``error`` and
            ``state_size_warning`` read ``None`` until first written; nodes do not get a
            key that was never written). During a run
            the machine derives visits and steps from ``transitions`` instead of writing
            them every step (each extra key written per step cost ~4 % with a
            checkpointer); the current state is ``transitions[-1]["to"]``.
        steps: States executed in the run, written by the terminal state.
        state_size_warning: ``{"size","budget","node","step"}`` when the state went over
            its size budget in ``"warn"`` mode.
    """

    status: Status
    reason: Annotated[str | None, NoneUntilWritten(Any)]
    transitions: Annotated[list[dict[str, Any]], append_transitions]
    error: Annotated[dict[str, Any] | None, NoneUntilWritten(Any)]
    visits: Annotated[dict[str, int] | None, NoneUntilWritten(Any)]
    steps: Annotated[int | None, NoneUntilWritten(Any)]
    state_size_warning: Annotated[dict[str, Any] | None, NoneUntilWritten(Any)]


#: Keys a state schema must have for the machine to run.
MACHINE_KEYS: Final = tuple(AgentState.__annotations__)
