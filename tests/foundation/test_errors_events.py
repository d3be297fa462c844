"""The exception tree and the core event hook."""

from __future__ import annotations

import inspect
import pickle

import pytest

from agentpatterns import errors
from agentpatterns.events import EVENT_KINDS, emit, listen, subscribe


def test_every_public_error_derives_from_the_root_and_is_documented() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert inspect.isclass(cls) and issubclass(cls, errors.AgentPatternsError), name
        assert name in doc, f"{name} missing from the tree drawn in errors.py"


def test_build_time_errors_are_value_errors() -> None:
    for cls in (
        errors.MachineDefinitionError,
        errors.LayerDefinitionError,
        errors.ConfigurationError,
        errors.UnsupportedURLError,
    ):
        assert issubclass(cls, ValueError)
    assert not issubclass(errors.IllegalTransitionError, ValueError)
    assert issubclass(errors.StepTimeoutError, TimeoutError)


def test_runtime_errors_carry_node_attempt_cause_and_pickle() -> None:
    cause = ConnectionError("reset by peer")
    err = errors.RetryExhaustedError("gave up", node="pay", attempt=3, cause=cause, tool="pay")
    text = str(err)
    assert "node=pay" in text and "attempt=3" in text and "ConnectionError" in text
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is errors.RetryExhaustedError
    assert (back.node, back.attempt, back.details) == ("pay", 3, {"tool": "pay"})


def test_events_reach_listeners_and_stop_after_unsubscribe() -> None:
    seen: list[tuple[str, int]] = []
    with listen(lambda e: seen.append((e.kind, e.attrs["attempt"]))):
        emit("retry", attempt=1)
        emit("retry", attempt=2)
    emit("retry", attempt=3)
    assert seen == [("retry", 1), ("retry", 2)]
    assert "retry" in EVENT_KINDS


def test_a_broken_listener_never_breaks_the_emitter(caplog: pytest.LogCaptureFixture) -> None:
    good: list[str] = []

    def broken(_: object) -> None:
        raise RuntimeError("sink down")

    off_broken = subscribe(broken)
    off_good = subscribe(lambda e: good.append(e.kind))
    try:
        emit("rollback", thread_id="t")
    finally:
        off_broken()
        off_good()
    assert good == ["rollback"]
    assert "sink down" in caplog.text
