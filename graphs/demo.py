"""``make demo``: the customer-service agent at work, offline, in well under a minute.

Four requests on a fresh copy of the τ² retail store, each showing a pattern:

1. a plain cancellation: authenticate, plan, ask for confirmation, write once, validate;
2. a flaky store (35 % transient faults) and a lost response after the write committed:
   classified retries, and the retry finds the committed write instead of writing again;
3. two changes where the second hits an outage: the first is rolled back by its
   compensation and a human is asked; once the store is back the human says "retry";
4. a request outside the policy: the agent hands over to a human and waits.

Everything is checkpointed (SQLite), audited (SQLite, redacted) and traced (OpenTelemetry
spans as JSON lines) under ``.agentpatterns/demo/``.

Run: ``python -m graphs.demo`` (or ``make demo``).
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

from langgraph.types import Command
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from agentpatterns import events
from agentpatterns.checkpoint import open_checkpointer
from agentpatterns.observability import AuditLog, Observability
from agentpatterns.testing.faults import FaultInjector
from graphs.customer_service import build

__all__ = ["main"]

HOME = Path(".agentpatterns") / "demo"
EMAIL = "sofia.rossi2645@example.com"
ADDRESS = "445 Maple Drive, Suite 394, Fort Worth, TX 76165"


class _Both:
    """Two fault injectors on the same tools (flaky reads and writes + lost write replies)."""

    def __init__(self, outer: FaultInjector, inner: FaultInjector) -> None:
        self.outer, self.inner = outer, inner

    def wrap(self, tool: Any) -> Any:
        return self.outer.wrap(self.inner.wrap(tool))


class Demo:
    def __init__(self, console: Console) -> None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

        from tools.retail import RetailStore

        self.console = console
        if HOME.exists():
            shutil.rmtree(HOME)
        HOME.mkdir(parents=True)
        self.store = RetailStore(HOME / "retail.db")
        self.traces = (HOME / "traces.jsonl").open("w", encoding="utf-8")
        self.provider = TracerProvider()
        exporter = ConsoleSpanExporter(
            out=self.traces, formatter=lambda span: span.to_json(indent=None) + "\n"
        )
        self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.audit = AuditLog(f"sqlite:///{HOME / 'audit.db'}")
        self.obs = Observability(tracer_provider=self.provider, audit=self.audit)
        self.cp_url = f"sqlite:///{HOME / 'runs.db'}"
        self.events: list[events.Event] = []
        self.unlisten = events.subscribe(self.events.append)

    def graph(self, saver: Any, faults: Any = None) -> Any:
        builder = build(
            store=self.store,
            ledger=f"sqlite:///{HOME / 'effects.db'}",
            faults=faults,
            observability=self.obs,
        )
        return builder.compile(checkpointer=saver)

    def show(self, title: str, out: dict[str, Any], extra: list[str]) -> None:
        log = out.get("transitions") or []
        path: list[str] = []
        for rec in reversed(log):
            path.insert(0, rec["to"])
            if rec["from"] == "start":
                break
        lines = [f"[bold]path[/]    {' -> '.join(path)}"]
        if out.get("__interrupt__"):
            value = out["__interrupt__"][0].value
            lines.append(f"[yellow]waiting[/] {value.get('question') or value.get('reason')}")
        else:
            lines.append(f"[bold]status[/]  {out.get('status')}")
            lines.append(f"[bold]answer[/]  {out.get('answer')}")
        lines += extra
        self.console.print(Panel("\n".join(lines), title=title, expand=False))

    def since(self, mark: int, kind: str) -> list[events.Event]:
        return [e for e in self.events[mark:] if e.kind == kind]

    # -- scenes ---------------------------------------------------------------------------
    def plain(self, saver: Any) -> None:
        graph = self.graph(saver)
        cfg = {"configurable": {"thread_id": "demo-1-cancel"}}
        request = "Cancel order #W5918442, I no longer need it"
        self.console.rule("1. A plain request")
        self.console.print(f"[dim]customer ({EMAIL}):[/] {request}")
        paused = graph.invoke({"request": request, "email": EMAIL}, cfg)
        self.show("the agent asks first", paused, [])
        self.console.print("[dim]customer:[/] yes")
        out = graph.invoke(Command(resume="yes"), cfg)
        self.show("done", out, [f"writes in the store: {len(self.store.write_log())}"])

    def flaky(self, saver: Any) -> None:
        flaky = FaultInjector(7, transient_rate=0.2, timeout_rate=0.15)
        lost = FaultInjector(1, lost_response_rate=1.0, tools=["modify_pending_order_address"])
        graph = self.graph(saver, _Both(flaky, lost))
        cfg = {"configurable": {"thread_id": "demo-2-flaky"}}
        request = f"Change the address of order #W5500815 to {ADDRESS}"
        self.console.rule("2. A flaky store and a lost response")
        self.console.print(f"[dim]customer:[/] {request}   [dim](confirmed up front)[/]")
        mark = len(self.events)
        before = len(self.store.write_log())
        out = graph.invoke({"request": request, "email": EMAIL, "confirm": True}, cfg)
        retries = self.since(mark, "retry")
        kinds = Counter(str(e.attrs.get("error_type")) for e in retries)
        injected = dict(flaky.counts - Counter(calls=flaky.counts["calls"]))
        by_kind = ", ".join(f"{k} x{v}" for k, v in kinds.items())
        writes = self.store.write_log()[before:]
        self.show(
            "retried, written once",
            out,
            [
                f"[bold]faults[/]  injected {injected}"
                f" + {lost.counts['lost_response']} lost response(s) after the write committed",
                f"[bold]retries[/] {len(retries)} ({by_kind})",
                f"[bold]writes[/]  {len(writes)} in the store's write log "
                "(the retry asked the store and found the committed write)",
            ],
        )

    def rollback(self, saver: Any) -> None:
        outage = FaultInjector(0, outage=True, tools=["cancel_pending_order"])
        graph = self.graph(saver, outage)
        cfg = {"configurable": {"thread_id": "demo-3-rollback"}}
        request = f"Ship order #W2818151 to {ADDRESS} and cancel order #W5500815, no longer needed"
        self.console.rule("3. A later step fails: compensate, escalate, retry")
        self.console.print(f"[dim]customer:[/] {request}   [dim](confirmed up front)[/]")
        mark = len(self.events)
        paused = graph.invoke({"request": request, "email": EMAIL, "confirm": True}, cfg)
        undone = paused.get("compensated") or []
        self.show(
            "rolled back, a human is asked",
            paused,
            [
                f"[bold]compensated[/] {', '.join(u['name'] for u in undone)} "
                f"(order #W2818151 ships to {self.store.get_order('#W2818151')['address']['city']}"
                " again)",
                f"[bold]escalations[/] {len(self.since(mark, 'escalation'))}",
            ],
        )
        outage.outage = False
        self.console.print('[dim]ops (after the store is back):[/] {"action": "retry"}')
        out = graph.invoke(Command(resume={"action": "retry", "by": "ops"}), cfg)
        self.show("retried by a human", out, [])

    def human(self, saver: Any) -> None:
        graph = self.graph(saver)
        cfg = {"configurable": {"thread_id": "demo-4-human"}}
        request = "I saw my TV cheaper elsewhere, can you match the price?"
        self.console.rule("4. Outside the policy: a human takes over")
        self.console.print(f"[dim]customer:[/] {request}")
        paused = graph.invoke({"request": request, "email": EMAIL}, cfg)
        self.show("handed over", paused, [])
        decision = {"action": "approve", "by": "Ana (support)", "note": "price matched"}
        self.console.print(f"[dim]human:[/] {json.dumps(decision)}")
        out = graph.invoke(Command(resume=decision), cfg)
        self.show("answered by a human", out, [])

    def summary(self, started: float) -> None:
        self.obs.flush()
        self.provider.force_flush()
        self.traces.flush()
        counts = Counter(e.kind for e in self.events)
        table = Table("what", "count", title="what happened")
        for kind in ("transition", "retry", "retry_exhausted", "rollback", "escalation"):
            table.add_row(kind, str(counts.get(kind, 0)))
        writes = self.store.write_log()
        table.add_row("store writes", str(len(writes)))
        table.add_row("  of them compensated", str(sum(w["compensated"] for w in writes)))
        self.console.print(table)
        spans = len((HOME / "traces.jsonl").read_text(encoding="utf-8").splitlines())
        audit_rows = self.audit.count()
        self.console.print(
            Panel(
                "\n".join(
                    [
                        f"audit log   {HOME / 'audit.db'}  ({audit_rows} records, redacted)",
                        f"traces      {HOME / 'traces.jsonl'}  ({spans} spans, one JSON per line)",
                        f"checkpoints {HOME / 'runs.db'}",
                        f"store       {HOME / 'retail.db'}  (a copy of the τ² store)",
                        "",
                        "look closer:",
                        f"  agentpatterns history demo-3-rollback -c sqlite:///{HOME / 'runs.db'}",
                        "  agentpatterns audit query --thread demo-2-flaky "
                        f"--url sqlite:///{HOME / 'audit.db'}",
                        f"finished in {time.perf_counter() - started:.1f} s",
                    ]
                ),
                title="where to look",
                expand=False,
            )
        )

    def close(self) -> None:
        self.unlisten()
        self.obs.close()
        self.audit.close()
        self.provider.shutdown()
        self.traces.close()
        self.store.close()


def main() -> None:
    """Run the four scenes and print what happened."""
    started = time.perf_counter()
    console = Console()
    console.print(
        Panel(
            "The customer-service reference graph on the τ²-bench retail store: a state machine,"
            "\ntool allow-lists, retries, an effect ledger, compensation, escalation, audit and"
            "\ntraces. Everything runs locally; nothing leaves this machine.",
            title="agentpatterns demo",
            expand=False,
        )
    )
    demo = Demo(console)
    try:
        with open_checkpointer(demo.cp_url) as saver:
            demo.plain(saver)
            demo.flaky(saver)
            demo.rollback(saver)
            demo.human(saver)
        demo.summary(started)
    finally:
        demo.close()


if __name__ == "__main__":
    main()
