"""Crash-test worker (a script, not a test module).

Started once as a *zygote* (``tests/_crash.py``): it imports LangGraph and the library,
then forks ``copies`` worker processes per JSON command read on stdin (the zygote reaps
them: the ledger's liveness check must see a killed owner as gone).

A worker runs a small order graph (reserve -> charge -> ship, ship also notifies) for each
thread id it is given, resuming any thread that has a checkpoint. Every side effect goes
through ``EffectLedger.run_once`` with a business key and a reconcile hook that looks in the
tool's own write log (a separate SQLite file that, unlike the ledger, has no uniqueness:
it records every time an effect really ran).
"""

from __future__ import annotations

import operator
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from agentpatterns.checkpoint import open_checkpointer
from agentpatterns.resilience import EffectLedger

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests/, for _crash
from _crash import say, serve


class OrderState(TypedDict, total=False):
    order: int
    done: Annotated[list[str], operator.add]


class WriteLog:
    """The tools' own record of effects that really happened."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS writes (id INTEGER PRIMARY KEY "
            "AUTOINCREMENT, key TEXT NOT NULL, tool TEXT NOT NULL, pid INTEGER)"
        )

    def effect(self, key: str, tool: str) -> dict[str, Any]:
        time.sleep(0.002)  # work before the write
        cur = self.conn.execute(
            "INSERT INTO writes (key, tool, pid) VALUES (?,?,?)", (key, tool, os.getpid())
        )
        time.sleep(0.002)  # the response travels back: a kill here loses it
        return {"tool": tool, "write_id": cur.lastrowid}

    def reconcile(self, key: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT id, tool FROM writes WHERE key=? ORDER BY id LIMIT 1", (key,)
        ).fetchone()
        say(reconcile=key, found=row is not None)
        return {"tool": row[1], "write_id": row[0]} if row else None


def build(ledger: EffectLedger, log: WriteLog) -> StateGraph[Any]:
    def step(*tools: str) -> Any:
        def node(state: OrderState, config: RunnableConfig) -> dict[str, Any]:
            thread_id = config["configurable"]["thread_id"]
            for tool in tools:
                key = f"{thread_id}:{tool}"
                ledger.run_once(
                    key,
                    lambda k=key, t=tool: log.effect(k, t),
                    tool=tool,
                    args={"order": state["order"]},
                    thread_id=thread_id,
                    reconcile=lambda _a, k=key: log.reconcile(k),
                )
            return {"done": list(tools)}

        return node

    builder = StateGraph(OrderState)
    builder.add_node("reserve", step("reserve"))
    builder.add_node("charge", step("charge"))
    builder.add_node("ship", step("ship", "notify"))
    builder.add_edge(START, "reserve")
    builder.add_edge("reserve", "charge")
    builder.add_edge("charge", "ship")
    builder.add_edge("ship", END)
    return builder


def work(cmd: dict[str, Any]) -> None:
    with (
        open_checkpointer(cmd["checkpoint_url"]) as saver,
        EffectLedger(cmd["ledger_url"], stale_after=5.0) as ledger,
    ):
        graph = build(ledger, WriteLog(cmd["write_log"])).compile(checkpointer=saver)
        say(ready=os.getpid(), t=time.monotonic())
        for thread_id in cmd["threads"]:
            config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
            snap = graph.get_state(config)
            if snap.created_at is None:
                graph.invoke(
                    {"order": int(thread_id.rsplit("-", 1)[1]), "done": []},
                    config,
                    durability=cmd.get("durability", "async"),
                )
            else:  # not `if snap.next`: after a kill between a step's saved writes and the
                # next checkpoint, `next` reads () although the run is not finished
                graph.invoke(None, config, durability=cmd.get("durability", "async"))
            say(finished=thread_id)


def main() -> None:
    # import what workers import lazily, so that each forked worker starts in milliseconds
    import langgraph.checkpoint.sqlite  # noqa: F401
    import psycopg_pool  # noqa: F401
    from langgraph.checkpoint.postgres import PostgresSaver  # noqa: F401

    serve(work)


if __name__ == "__main__":
    main()
