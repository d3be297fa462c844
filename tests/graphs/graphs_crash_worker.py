"""Crash-test worker for the reference graphs (a script, not a test module).

Started once as a *zygote*: it imports LangGraph, the library, the tools and the graphs,
then reads JSON commands on stdin and forks one worker per command, so the test can SIGKILL
workers at random points without paying Python's start-up each time. The zygote reaps each
worker and reports ``{"exit": pid, "status": ...}``.

A worker opens the graph on SQLite files in ``cmd["dir"]`` (checkpoints, effect ledger, the
graph's own stores), then runs ``cmd["input"]`` on ``cmd["thread"]`` — or, when the thread
has a checkpoint, resumes it with ``invoke(None)``. ``cmd["faults"]`` are ``FaultInjector``
keyword arguments (latency to make kills land mid-run; ``crash_rate`` + ``crash_point`` to
die right after a write committed).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _say(**msg: Any) -> None:
    sys.stdout.write(json.dumps(msg, default=str) + "\n")
    sys.stdout.flush()


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
        _say(ready=os.getpid(), t=time.monotonic())
        if graph.get_state(config).created_at is None:
            out = graph.invoke(cmd["input"], config)
        else:  # a checkpoint exists: continue from it (even when `next` reads empty)
            out = graph.invoke(None, config)
        _say(finished=cmd["thread"], status=out.get("status"))


def main() -> None:
    # import what workers use, so that each forked worker starts in milliseconds
    import langgraph.checkpoint.sqlite  # noqa: F401

    import graphs.customer_service
    import graphs.order_processing  # noqa: F401
    from tools.retail import RetailStore

    RetailStore("memory:").close()  # builds the template database once

    for line in sys.stdin:
        cmd = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                work(cmd)
            except BaseException:
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            os._exit(code)
        _say(pids=[pid])
        _, status = os.waitpid(pid, 0)
        _say(exit=pid, status=status)


if __name__ == "__main__":
    main()
