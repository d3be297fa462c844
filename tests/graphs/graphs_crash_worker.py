"""Crash-test worker for the reference graphs (a script, not a test module).

Started once as a *zygote* (``tests/_crash.py``): it imports LangGraph, the library, the
tools and the graphs, then forks one worker per JSON command read on stdin.

A worker opens the graph on SQLite files in ``cmd["dir"]`` (checkpoints, effect ledger, the
graph's own stores), then runs ``cmd["input"]`` on ``cmd["thread"]`` — or, when the thread
has a checkpoint, resumes it with ``invoke(None)``. ``cmd["faults"]`` are ``FaultInjector``
keyword arguments (latency to make kills land mid-run; ``crash_rate`` + ``crash_point`` to
die right after a write committed).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests/, for _crash
from _crash import say, serve


def work(cmd: dict[str, Any]) -> None:
    from agentpatterns.checkpoint import open_checkpointer
    from agentpatterns.testing.faults import FaultInjector

    folder = Path(cmd["dir"])
    kwargs = dict(cmd.get("faults") or {})
    if isinstance(kwargs.get("latency"), list):
        kwargs["latency"] = tuple(kwargs["latency"])  # JSON has no tuples
    faults = FaultInjector(cmd.get("seed", 0), **kwargs) if kwargs else None
    ledger = f"sqlite:///{folder / 'effects.db'}"
    with open_checkpointer(f"sqlite:///{folder / 'cp.db'}") as saver:
        if cmd["graph"] == "customer_service":
            from graphs.customer_service import build
            from tools.retail import RetailStore

            store = RetailStore(folder / "retail.db")
            builder = build(store=store, ledger=ledger, faults=faults, breaker=None)
        else:
            from graphs.order_processing import build

            builder = build(state_dir=folder, ledger=ledger, faults=faults)
        graph = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": cmd["thread"]}}
        say(ready=os.getpid(), t=time.monotonic())
        if graph.get_state(config).created_at is None:
            out = graph.invoke(cmd["input"], config)
        else:  # a checkpoint exists: continue from it (even when `next` reads empty)
            out = graph.invoke(None, config)
        say(finished=cmd["thread"], status=out.get("status"))


def main() -> None:
    # import what workers use, so that each forked worker starts in milliseconds
    import langgraph.checkpoint.sqlite  # noqa: F401

    import graphs.customer_service
    import graphs.order_processing  # noqa: F401
    from tools.retail import RetailStore

    RetailStore("memory:").close()  # builds the template database once
    serve(work)


if __name__ == "__main__":
    main()
