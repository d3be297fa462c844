"""Property: random machines with random node decisions always end in a terminal state and
never take an undeclared transition."""

from __future__ import annotations

import itertools
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentpatterns.fsm import TERMINALS, AgentState, StateMachine, goto, when


class S(AgentState, total=False):
    r: int


@st.composite
def machines(draw: st.DrawFn) -> tuple[int, list[list[tuple[str, int | None]]], int]:
    n = draw(st.integers(1, 6))
    names = [f"s{i}" for i in range(n)]
    table: list[list[tuple[str, int | None]]] = []
    for i in range(n):
        # the chain edge keeps every state reachable and on a path to a terminal
        chain = names[i + 1] if i + 1 < n else draw(st.sampled_from(["done", "escalated"]))
        targets = draw(st.lists(st.sampled_from([*names, *TERMINALS]), max_size=3, unique=True))
        targets = [t for t in targets if t != chain]
        default_is_chain = draw(st.booleans())
        edges: list[tuple[str, int | None]] = [(chain, None if default_is_chain else 0)]
        edges += [(t, j + 1) for j, t in enumerate(targets)]
        table.append(edges)
    return n, table, draw(st.integers(0, 2**32))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(machines())
def test_random_machines_end_in_a_terminal_without_undeclared_moves(
    spec: tuple[int, list[list[tuple[str, int | None]]], int],
) -> None:
    n, table, seed = spec
    rng = random.Random(seed)
    names = [f"s{i}" for i in range(n)]
    everything = [*names, *TERMINALS, "nowhere"]

    def node(state: Any) -> Any:
        roll = rng.random()
        if roll < 0.1:
            raise RuntimeError("random failure")
        if roll < 0.3:
            return goto(rng.choice(everything), reason="random goto")
        return {"r": rng.randrange(4)}

    m = StateMachine(S, name="rand", max_steps=15)
    for name in names:
        m.state(name, node, max_visits=rng.choice([None, 2, 5]))
    for i, edges in enumerate(table):
        for dst, tag in edges:
            cond = (
                None if tag is None else when(lambda s, t=tag: s.get("r") == t % 4, name=f"r{tag}")
            )
            m.transition(names[i], dst, when=cond)
    declared = {(names[i], dst) for i, edges in enumerate(table) for dst, _ in edges}
    app = m.build().compile()
    for _ in range(3):
        out = app.invoke({"r": 0})
        assert out["status"] in TERMINALS
        log = out["transitions"]
        assert log[0]["from"] == "start" and log[-1]["to"] == out["status"]
        for prev, rec in itertools.pairwise(log):
            assert prev["to"] == rec["from"]  # the machine went where it said
        for rec in log[1:]:
            move = (rec["from"], rec["to"])
            if move not in declared:  # only the machine's own error exits are implicit
                assert rec["to"] in ("failed", "timed_out"), move
                # asked for by the node (always allowed), or the machine's own error exit
                assert rec["reason"] == "random goto" or out["error"] is not None
        assert all(rec["to"] != "nowhere" for rec in log)
        assert out["steps"] <= 16
