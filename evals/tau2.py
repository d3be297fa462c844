"""The ``tau2-retail`` suite: τ²-bench retail tasks replayed under faults, judged by the store.

One :class:`Tau2Harness` per worker process owns a copy of the retail store (SQLite file in
the worker's folder), a :class:`~evals.faults.ReseedableInjector` wrapping the tools once,
a SQLite checkpointer, an effect ledger, a circuit breaker and an ``Observability`` with an
in-memory span exporter and a SQLite audit log. Configurations are built on first use and
reused; each episode resets the store, the breaker and the injector and runs on its own
thread id inside a fresh retry budget, so an episode's result does not depend on which
worker ran it or what ran before.

Crash profiles (``partial-write-crash``, ``process-kill``) run the episode in a forked
child (fresh connections to the same files); a SIGKILLed child is followed by another that
resumes the thread from the checkpointer (and the ledger), until the run finishes.

Example:
    >>> from evals.tau2 import task_ids
    >>> len(task_ids("test")), len(task_ids("all"))
    (40, 114)
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from evals.accounting import action_key, call_stats, side_effects, succeeded, touched_keys
from evals.faults import CRASH_PROFILES, ReseedableInjector, kill_plan

__all__ = ["SUITE", "Tau2Harness", "task_ids"]

SUITE = "tau2-retail"
MAX_RESUMES = 50
_SPLITS = {"train": "train", "test": "test", "all": "base", "base": "base"}


def task_ids(split: str = "test", *, limit: int | None = None) -> list[str]:
    """Task ids of a split (``train`` 74, ``test`` 40, ``all`` 114), in file order."""
    from tools.retail import split_ids

    if split not in _SPLITS:
        from agentpatterns.errors import ConfigurationError

        raise ConfigurationError(f"unknown split {split!r}; use train, test or all")
    wanted = set(split_ids(_SPLITS[split]))  # pyright: ignore[reportArgumentType]
    from tools.retail import load_tasks

    ids = [str(t["id"]) for t in load_tasks() if str(t["id"]) in wanted]
    return ids[:limit] if limit else ids


def _row_texts(store: Any, orders: set[str], users: set[str]) -> dict[str, str]:
    from evals.accounting import _ORDER_COLS, _USER_COLS, _row_text

    out: dict[str, str] = {}
    for table, key, cols, ids, tag in (
        ("orders", "order_id", _ORDER_COLS, sorted(orders), "o:"),
        ("users", "user_id", _USER_COLS, sorted(users), "u:"),
    ):
        if ids:
            sql, params = _row_text(table, key, cols, ids)
            for (text,) in store.query(sql, params):
                out[tag + text.split("\x1f", 1)[0]] = text
    return out


class _Expected:
    """The fault-free replay of one task: designed errors, writes, final records."""

    def __init__(self, task: dict[str, Any], store: Any, by_name: dict[str, Any]) -> None:
        from tools.retail import RetailError, task_actions

        store.reset()
        self.script: list[dict[str, Any]] = []
        self.designed: set[str] = set()
        for n, action in enumerate(task_actions(task)):
            cid = str(action.get("action_id") or n)
            args = dict(action.get("arguments") or {})
            self.script.append({"name": action["name"], "args": args, "id": cid})
            try:
                by_name[action["name"]].invoke(args)
            except RetailError:
                self.designed.add(cid)
        log = store.write_log()
        self.writes: Counter[tuple[str, str]] = Counter(
            action_key(r["tool"], r["args"]) for r in log
        )
        self.orders, self.users = touched_keys(log)
        self.texts = _row_texts(store, self.orders, self.users)
        self.full_hash: str | None = None


class Tau2Harness:
    """Everything one worker process needs to run τ² episodes (see the module docstring)."""

    suite = SUITE

    def __init__(self, folder: Path, *, full_hash: bool = False) -> None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from agentpatterns.checkpoint import open_checkpointer
        from agentpatterns.observability import AuditLog, Observability
        from agentpatterns.resilience import EffectLedger
        from graphs._common import default_breaker
        from tools.retail import RetailStore, load_tasks, tools

        self.dir = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.full_hash = full_hash
        self.tasks = {str(t["id"]): t for t in load_tasks()}
        self.store = RetailStore(folder / "retail.db")
        self.injector = ReseedableInjector()
        self.faulty_tools = [self.injector.wrap(t) for t in tools(self.store)]
        self.breaker = default_breaker("retail-store")
        self.ledger = EffectLedger(f"sqlite:///{folder / 'effects.db'}")
        self._saver_cm = open_checkpointer(f"sqlite:///{folder / 'checkpoints.db'}")
        self.saver = self._saver_cm.__enter__()
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        # durable: a SIGKILLed episode keeps the records of every step it acknowledged
        self.audit = AuditLog(f"sqlite:///{folder / 'audit.db'}", durable=True)
        self.obs = Observability(tracer_provider=provider, audit=self.audit)
        self.designed: set[str] = set()
        self.scratch: list[dict[str, Any]] = []
        self._configs: dict[str, Any] = {}
        self._expected: dict[str, _Expected] = {}
        self._plain: Any = None
        self._replay: Any = None  # opened on first use (a crash child never needs them)
        self._replay_tools: dict[str, Any] = {}
        self._pristine_store: Any = None

    # -- building blocks ----------------------------------------------------------------
    def config(self, name: str) -> Any:
        found = self._configs.get(name)
        if found is None:
            from evals.configs import build_config

            found = self._configs[name] = build_config(name, self)
        return found

    def plain_registry(self) -> Any:
        """Retail tools with plain ``ToolPolicy()`` (no retry, ledger or compensation)."""
        if self._plain is None:
            from agentpatterns.orchestration import ToolPolicy, ToolRegistry
            from tools.retail import READ_TOOLS, WRITE_TOOLS, register_retail_tools

            reg = ToolRegistry()
            plain = {n: ToolPolicy() for n in (*READ_TOOLS, *WRITE_TOOLS)}
            register_retail_tools(reg, self.store, policy_overrides=plain, wrap=self.injector.wrap)
            self._plain = reg
        return self._plain

    @property
    def _pristine(self) -> Any:
        if self._pristine_store is None:
            from tools.retail import RetailStore

            self._pristine_store = RetailStore("memory:")
        return self._pristine_store

    def expected(self, task_id: str) -> _Expected:
        exp = self._expected.get(task_id)
        if exp is None:
            if self._replay is None:
                from tools.retail import RetailStore, tools

                self._replay = RetailStore("memory:")
                self._replay_tools = {t.name: t for t in tools(self._replay)}
            exp = _Expected(self.tasks[task_id], self._replay, self._replay_tools)
            if self.full_hash:
                exp.full_hash = self._replay.state_hash()
            self._expected[task_id] = exp
        return exp

    def close(self) -> None:
        self.obs.close()
        self.audit.close()
        self.ledger.close()
        self._saver_cm.__exit__(None, None, None)
        self.store.close()

    # -- one episode ----------------------------------------------------------------------
    def run_episode(
        self, config: str, profile: str, task: str, trial: int, seed: int
    ) -> dict[str, Any]:
        """Run one episode and judge it; a JSON-able record (see ``evals/SCHEMA.md``)."""
        exp = self.expected(task)
        self.designed = exp.designed
        self.store.reset()
        thread = f"{config}|{profile}|{task}|{trial}|{seed}"
        kill_at = kill_plan(seed, len(exp.script)) if profile == "process-kill" else None
        t0 = time.perf_counter()
        if profile in CRASH_PROFILES:
            run = self._forked(config, profile, exp.script, thread, seed, kill_at)
        else:
            run = self.execute(config, profile, exp.script, thread, seed, None, resume=False)
        wall_ms = (time.perf_counter() - t0) * 1000.0
        return self._judge(config, profile, task, trial, seed, exp, run, wall_ms)

    def execute(
        self,
        config: str,
        profile: str,
        script: list[dict[str, Any]],
        thread: str,
        seed: int,
        kill_at: tuple[int, str] | None,
        *,
        resume: bool,
    ) -> dict[str, Any]:
        """Start (or resume) one run here and read back what it did."""
        from agentpatterns.checkpoint import checkpoint_size
        from agentpatterns.resilience import retry_scope

        cfg = self.config(config)
        self.breaker.reset()
        self.injector.reset(profile, seed, kill_at=kill_at)
        self.exporter.clear()
        conf: dict[str, Any] = {
            "configurable": {"thread_id": thread},
            "recursion_limit": 4 * len(script) + 40,
        }
        error: str | None = None
        with retry_scope():
            try:
                if resume:
                    cfg.resume(conf)
                else:
                    cfg.start(script, conf)
            except Exception as exc:  # a configuration without error handling crashes
                error = f"{type(exc).__name__}: {str(exc)[:200]}"
        t_end = time.perf_counter()
        run: dict[str, Any] = dict(cfg.read(script, conf, error))
        run["error"] = error
        run["faults"] = dict(self.injector.counts)
        run["call_latency_ms"] = [round(v, 3) for v in self.injector.latencies]
        run["checkpoint_bytes"] = checkpoint_size(self.saver, thread)
        run["audit"] = None
        from evals.configs import OBSERVED_CONFIGS

        if config in OBSERVED_CONFIGS:
            self.audit.flush()
            t_vis = time.perf_counter()
            records = self.audit.query(thread_id=thread, kind="tool", limit=None)
            t_got = time.perf_counter()
            attempts = sum(c.get("attempts") or 0 for c in run["calls"] if c.get("ran"))
            run["audit"] = {
                "coverage": min(len(records), attempts) / attempts if attempts else 1.0,
                "collection_ms": (t_vis - t_end) * 1000.0,
                "retrieval_ms": (t_got - t_vis) * 1000.0,
            }
        elif config == "no-logging":
            run["audit"] = {"coverage": 0.0, "collection_ms": None, "retrieval_ms": None}
        return run

    def _forked(
        self,
        config: str,
        profile: str,
        script: list[dict[str, Any]],
        thread: str,
        seed: int,
        kill_at: tuple[int, str] | None,
    ) -> dict[str, Any]:
        out = self.dir / "child.json"
        kills = 0
        killed_at: float | None = None
        for attempt in range(MAX_RESUMES + 1):
            out.unlink(missing_ok=True)
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child process
                code = 0
                try:
                    child = Tau2Harness(self.dir, full_hash=False)
                    child.designed = self.designed
                    run = child.execute(
                        config,
                        profile,
                        script,
                        thread,
                        seed + attempt,
                        kill_at if attempt == 0 else None,
                        resume=attempt > 0,
                    )
                    child.audit.close()
                    out.write_text(json.dumps(run, default=str), encoding="utf-8")
                except BaseException as exc:
                    out.write_text(json.dumps({"child_error": repr(exc)}), encoding="utf-8")
                    code = 1
                os._exit(code)
            _, status = os.waitpid(pid, 0)
            if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
                kills += 1
                killed_at = time.perf_counter()
                continue
            run = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
            if "child_error" in run or not run:
                raise RuntimeError(f"episode child failed: {run.get('child_error', status)}")
            run["kills"] = kills
            run["resume_ms"] = (
                (time.perf_counter() - killed_at) * 1000.0 if killed_at is not None else None
            )
            return run
        raise RuntimeError(f"episode {thread} was killed {kills} times; giving up")

    # -- judging --------------------------------------------------------------------------
    def _judge(
        self,
        config: str,
        profile: str,
        task: str,
        trial: int,
        seed: int,
        exp: _Expected,
        run: dict[str, Any],
        wall_ms: float,
    ) -> dict[str, Any]:
        from tools.retail import WRITE_TOOLS

        log = self.store.write_log()
        orders, users = touched_keys(log)
        orders |= exp.orders
        users |= exp.users
        got = _row_texts(self.store, orders, users)
        base = _row_texts(self._pristine, orders - exp.orders, users - exp.users)
        want = {**base, **exp.texts}
        success = got == want
        if self.full_hash:
            success = self.store.state_hash() == exp.full_hash
        rows = [(*action_key(r["tool"], r["args"]), bool(r["compensated"])) for r in log]
        effects = side_effects(exp.writes, rows, reported_done=run["status"] == "done")
        keys = Counter(r["effect_key"] for r in log if r["effect_key"] is not None)
        effects["duplicate_effect_keys"] = sum(n - 1 for n in keys.values())
        live = {action_key(r["tool"], r["args"]) for r in log if not r["compensated"]}
        effects["misreported"] = sum(
            1
            for c, s in zip(run["calls"], exp.script, strict=True)
            if c.get("ran")
            and not c["ok"]
            and s["name"] in WRITE_TOOLS
            and action_key(s["name"], s["args"]) in live
        )
        rolled_back = run.get("compensated", 0) > 0
        rollback_ok: bool | None = None
        if rolled_back:
            rollback_ok = not any(not r["compensated"] for r in log)
        transitions = run.get("transitions") or []
        failed_tr = sum(1 for t in transitions if t.get("to") in ("failed", "timed_out"))
        calls = run["calls"]
        recovery = [
            c["elapsed_ms"]
            for c in calls
            if c.get("ran")
            and (c.get("attempts") or 0) > 1
            and c.get("elapsed_ms") is not None
            and succeeded(c)
        ]
        if run.get("resume_ms") is not None:
            recovery.append(run["resume_ms"])
        return {
            "suite": SUITE,
            "config": config,
            "profile": profile,
            "task": task,
            "trial": trial,
            "seed": seed,
            "success": success,
            "status": run["status"],
            "error": run.get("error"),
            "wall_ms": round(wall_ms, 3),
            "calls": call_stats(calls),
            "call_latency_ms": run.get("call_latency_ms") or [],
            "recovery_ms": recovery,
            "side_effects": effects,
            "rollback": {"happened": rolled_back, "correct": rollback_ok},
            "transitions": {"total": len(transitions), "failed": failed_tr},
            "transition_ms": [
                t["elapsed_ms"] for t in transitions if t.get("elapsed_ms") is not None
            ],
            "checkpoint_bytes": run.get("checkpoint_bytes"),
            "audit": run.get("audit"),
            "faults": run.get("faults") or {},
            "kills": run.get("kills", 0),
        }
