"""What every scenario suite shares: the worker harness and the episode skeleton.

A scenario suite runs one reference graph (``graphs/``) on a fixed list of small,
deterministic scenarios. Configurations: ``full`` (the graph as built, with
``Observability`` and its audit log where the graph takes one) and ``no-retry`` (the same
graph with one attempt per tool call: what the retry layer buys). The harness of a worker
owns a SQLite checkpointer, an effect ledger, an audit log and a re-seedable fault
injector; graphs are built once per configuration and reused, their breakers reset per
episode. Crash profiles fork a child per run (resumed from the checkpointer after a
SIGKILL), as in the τ² suite.

Subclasses implement ``scenarios()``, ``build(config)``, ``inputs(...)`` and ``judge(...)``.
"""

from __future__ import annotations

import os
import signal
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from evals.faults import CRASH_PROFILES, ReseedableInjector, kill_plan

__all__ = ["MAX_RESUMES", "ScenarioHarness", "calls_from_results"]

MAX_RESUMES = 50


def calls_from_results(
    records: list[dict[str, Any]], designed: set[str] | frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Per-call records (``ok``, ``attempts``, ``designed``) from a graph's ``tool_results``."""
    return [
        {
            "ran": True,
            "ok": bool(r.get("ok")),
            "attempts": int(r.get("attempts") or 0),
            "designed": r.get("name") in designed and not r.get("ok"),
            "error_type": r.get("error_type"),
            "elapsed_ms": r.get("elapsed_ms"),
        }
        for r in records
    ]


class ScenarioHarness(ABC):
    """Worker-side harness of one scenario suite (see the module docstring)."""

    suite: ClassVar[str] = ""
    prefix: ClassVar[str] = ""
    CONFIGS: ClassVar[tuple[str, ...]] = ("full", "no-retry")
    observed: ClassVar[bool] = True

    def __init__(self, folder: Path) -> None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from agentpatterns.checkpoint import open_checkpointer
        from agentpatterns.observability import AuditLog, Observability
        from agentpatterns.resilience import EffectLedger

        self.dir = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.injector = ReseedableInjector()
        self.ledger = EffectLedger(f"sqlite:///{folder / 'effects.db'}")
        self._saver_cm = open_checkpointer(f"sqlite:///{folder / 'checkpoints.db'}")
        self.saver = self._saver_cm.__enter__()
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.audit = AuditLog(f"sqlite:///{folder / 'audit.db'}", **self.audit_options())
        self.obs = Observability(tracer_provider=provider, audit=self.audit, **self.obs_options())
        self._graphs: dict[str, tuple[Any, Any]] = {}
        self.setup()

    # -- hooks ----------------------------------------------------------------------------
    def setup(self) -> None:  # noqa: B027 - optional hook, most suites need no stores
        """Open the suite's own stores."""

    def audit_options(self) -> dict[str, Any]:
        # durable: a SIGKILLed episode keeps the records of every step it acknowledged
        return {"durable": True}

    def obs_options(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    def scenarios(self) -> dict[str, dict[str, Any]]: ...

    @abstractmethod
    def build(self, config: str) -> Any:
        """The uncompiled graph of ``config`` (faults through ``self.injector``)."""
        ...

    @abstractmethod
    def inputs(self, scenario: dict[str, Any], ident: str, seed: int) -> dict[str, Any]: ...

    def resume_value(self, scenario: dict[str, Any], interrupt: Any) -> Any:
        """The answer to an interrupt (None: leave the run paused)."""
        return None

    @abstractmethod
    def judge(
        self,
        scenario: dict[str, Any],
        prepared: dict[str, Any],
        values: dict[str, Any],
        error: str | None,
    ) -> dict[str, Any]:
        """``success``, ``status``, ``calls``, ``side_effects``, ``rollback``, ``detail``..."""

    def no_retry(self) -> Any:
        from tenacity import stop_after_attempt, wait_none

        from agentpatterns.resilience import Retry

        return Retry(stop=stop_after_attempt(1), wait=wait_none())

    # -- machinery --------------------------------------------------------------------------
    def graph(self, config: str) -> tuple[Any, Any]:
        found = self._graphs.get(config)
        if found is None:
            from graphs._common import resources_of

            builder = self.build(config)
            found = self._graphs[config] = (
                builder.compile(checkpointer=self.saver),
                resources_of(builder),
            )
        return found

    def _reset_breakers(self, resources: Any) -> None:
        registry = (resources.extra if resources is not None else {}).get("registry")
        if registry is None:
            return
        for name in registry.names:
            breaker = registry.policy(name).breaker
            if breaker is not None:
                breaker.reset()

    def task_scenario(self, task: str) -> dict[str, Any]:
        return self.scenarios()[task]

    def close(self) -> None:
        for _, res in self._graphs.values():
            if res is not None:
                res.close()
        self.obs.close()
        self.audit.close()
        self.ledger.close()
        self._saver_cm.__exit__(None, None, None)

    def _invoke(
        self, config: str, prepared: dict[str, Any], thread: str, resume: bool
    ) -> str | None:
        from langgraph.types import Command

        from agentpatterns.resilience import retry_scope

        graph, res = self.graph(config)
        self._reset_breakers(res)
        conf: dict[str, Any] = {"configurable": {"thread_id": thread}}
        scenario = prepared["scenario"]
        try:
            with retry_scope():
                out = graph.invoke(None if resume else prepared["inputs"], conf)
                for _ in range(3):
                    pending = out.get("__interrupt__") if isinstance(out, dict) else None
                    if not pending:
                        break
                    answer = self.resume_value(scenario, pending[0].value)
                    if answer is None:
                        break
                    out = graph.invoke(Command(resume=answer), conf)
        except Exception as exc:
            return f"{type(exc).__name__}: {str(exc)[:200]}"
        return None

    def _forked(
        self,
        config: str,
        prepared: dict[str, Any],
        thread: str,
        profile: str,
        seed: int,
        kill_at: tuple[int, str] | None,
    ) -> tuple[str | None, int, float | None]:
        kills = 0
        killed_at: float | None = None
        for attempt in range(MAX_RESUMES + 1):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child process
                code = 0
                try:
                    child = type(self)(self.dir)
                    child.injector.reset(
                        profile, seed + attempt, kill_at=kill_at if attempt == 0 else None
                    )
                    error = child._invoke(config, prepared, thread, resume=attempt > 0)
                    child.audit.close()
                    code = 3 if error else 0
                except BaseException:
                    code = 1
                os._exit(code)
            _, status = os.waitpid(pid, 0)
            if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
                kills += 1
                killed_at = time.perf_counter()
                continue
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
            if code == 1:
                raise RuntimeError(f"scenario child failed for {thread}")
            resume_ms = (time.perf_counter() - killed_at) * 1000.0 if killed_at else None
            return ("crashed in child" if code == 3 else None), kills, resume_ms
        raise RuntimeError(f"{thread} was killed {kills} times; giving up")

    def run_episode(
        self, config: str, profile: str, task: str, trial: int, seed: int
    ) -> dict[str, Any]:
        from agentpatterns.checkpoint import checkpoint_size

        scenario = self.task_scenario(task)
        thread = f"{config}|{profile}|{task}|{trial}|{seed}"
        ident = f"{task}-{config}-{profile}-t{trial}-{seed % 1_000_000}"
        prepared = {
            "scenario": scenario,
            "inputs": self.inputs(scenario, ident, seed),
            "ident": ident,
        }
        graph, _ = self.graph(config)
        planned = int(scenario.get("calls", 3))
        kill_at = kill_plan(seed, planned) if profile == "process-kill" else None
        self.injector.reset(profile, seed, kill_at=kill_at)
        self.exporter.clear()
        t0 = time.perf_counter()
        kills, resume_ms = 0, None
        if profile in CRASH_PROFILES:
            error, kills, resume_ms = self._forked(config, prepared, thread, profile, seed, kill_at)
        else:
            error = self._invoke(config, prepared, thread, resume=False)
        t_end = time.perf_counter()
        values = dict(graph.get_state({"configurable": {"thread_id": thread}}).values or {})
        judged = self.judge(scenario, prepared, values, error)
        audit = None
        if self.observed and config == "full":
            self.audit.flush()
            t_vis = time.perf_counter()
            records = self.audit.query(thread_id=thread, limit=None)
            t_got = time.perf_counter()
            audit = {
                "coverage": 1.0 if records else 0.0,
                "collection_ms": (t_vis - t_end) * 1000.0,
                "retrieval_ms": (t_got - t_vis) * 1000.0,
            }
            judged.setdefault("detail", {})["audit_records"] = len(records)
            check = getattr(self, "check_audit", None)
            if check is not None and not check(records):
                judged["success"] = False
                judged["detail"]["audit_leak"] = True
        transitions = list(values.get("transitions") or [])
        recovery = [
            c["elapsed_ms"]
            for c in judged["calls"]
            if c["attempts"] > 1 and c["ok"] and c.get("elapsed_ms") is not None
        ]
        if resume_ms is not None:
            recovery.append(resume_ms)
        from evals.accounting import call_stats

        return {
            "suite": self.suite,
            "config": config,
            "profile": profile,
            "task": task,
            "trial": trial,
            "seed": seed,
            "success": bool(judged["success"]),
            "status": judged.get("status") or str(values.get("status") or "interrupted"),
            "error": error,
            "wall_ms": round((t_end - t0) * 1000.0, 3),
            "calls": call_stats(judged["calls"]),
            "call_latency_ms": [round(v, 3) for v in self.injector.latencies],
            "recovery_ms": recovery,
            "side_effects": judged["side_effects"],
            "rollback": judged.get("rollback") or {"happened": False, "correct": None},
            "transitions": {
                "total": len(transitions),
                "failed": 0
                if judged.get("designed_failure")
                else sum(1 for t in transitions if t.get("to") in ("failed", "timed_out")),
            },
            "transition_ms": [
                t["elapsed_ms"] for t in transitions if t.get("elapsed_ms") is not None
            ],
            "handoff_ms": judged.get("handoff_ms") or [],
            "checkpoint_bytes": checkpoint_size(self.saver, thread),
            "audit": audit,
            "faults": dict(self.injector.counts),
            "kills": kills,
            "detail": judged.get("detail") or {},
        }


def effects(
    executed: int = 0, duplicates: int = 0, lost: int = 0, missing: int = 0
) -> dict[str, int]:
    """A side-effect record for scenario suites (no effect-key or misreport accounting)."""
    return {
        "executed": executed,
        "duplicates": duplicates,
        "duplicate_effect_keys": 0,
        "lost": lost,
        "missing": missing,
        "misreported": 0,
    }
