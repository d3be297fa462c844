"""``report-generation``: the layered report graph on 15 report requests.

Each scenario is a request (which sections) and optional filters (order statuses, top N).
The expected report is the one the same graph writes without faults (computed once per
worker and cached). Success: status ``done`` and exactly that report. Hand-off latency per
layer comes from the layered graph's ``handoffs`` records. Reads only: no side effects.
"""

from __future__ import annotations

from typing import Any

from evals.scenarios.base import ScenarioHarness, effects

__all__ = ["ReportHarness"]

_REQUESTS = (
    ("revenue and top customers", None, 5),
    ("full report", None, 5),
    ("sales by product", None, 5),
    ("order status pipeline", None, 5),
    ("gift card liability", None, 5),
    ("revenue for delivered orders", ["delivered"], 5),
    ("top customers, top 10 spend", None, 10),
    ("sales and revenue of pending orders", ["pending"], 5),
    ("everything", ["delivered", "processed"], 3),
    ("customers and gift liability", None, 8),
    ("status of orders and sales", ["cancelled"], 5),
    ("income and money overview", None, 5),
    ("top customers", ["pending", "processed"], 4),
    ("product sales, gift cards", None, 5),
    ("revenue, customers, sales, statuses", ["delivered"], 7),
)

SCENARIOS: dict[str, dict[str, Any]] = {
    f"rg-{n:02d}": {"task": task, "statuses": statuses, "top": top, "calls": 5}
    for n, (task, statuses, top) in enumerate(_REQUESTS)
}


class ReportHarness(ScenarioHarness):
    suite = "report-generation"
    prefix = "rg-"

    def setup(self) -> None:
        from tools.retail import RetailStore

        self.store = RetailStore("memory:")
        self._expected: dict[str, str] = {}

    def scenarios(self) -> dict[str, dict[str, Any]]:
        return SCENARIOS

    def build(self, config: str) -> Any:
        from graphs.report_generation import build

        return build(
            store=self.store,
            retry=self.no_retry() if config == "no-retry" else None,
            faults=self.injector if config != "expected" else None,
            observability=self.obs if config == "full" else None,
            name=f"report_generation_{config.replace('-', '_')}",
        )

    def inputs(self, scenario: dict[str, Any], ident: str, seed: int) -> dict[str, Any]:
        out: dict[str, Any] = {"task": scenario["task"], "top": scenario["top"]}
        if scenario["statuses"]:
            out["statuses"] = list(scenario["statuses"])
        return out

    def expected(self, scenario: dict[str, Any]) -> str:
        key = repr(sorted(scenario.items()))
        if key not in self._expected:
            graph, _ = self.graph("expected")
            conf = {"configurable": {"thread_id": f"expected|{key}"}}
            out = graph.invoke(self.inputs(scenario, "", 0), conf)
            self._expected[key] = str(out["report"])
        return self._expected[key]

    def judge(
        self,
        scenario: dict[str, Any],
        prepared: dict[str, Any],
        values: dict[str, Any],
        error: str | None,
    ) -> dict[str, Any]:
        want = self.expected(scenario)
        status = "crashed" if error else str(values.get("status") or "interrupted")
        got = values.get("report")
        results = dict(values.get("results") or {})
        failures = dict(values.get("failures") or {})
        subtasks = list(values.get("subtasks") or [])
        by_tool = self.injector.by_tool
        calls: list[dict[str, Any]] = []
        for sub in subtasks:
            sid = sub["id"] if isinstance(sub, dict) else sub.id
            executor = sid.rsplit("-", 1)[0]
            from graphs.report_generation import SECTIONS

            tally = by_tool.get(SECTIONS[executor][0], {})
            faults = sum(v for k, v in tally.items() if k not in ("calls", "latency"))
            calls.append(
                {
                    "ran": True,
                    "ok": sid in results,
                    "designed": False,
                    "attempts": int(tally.get("calls", 1)),
                    "elapsed_ms": None,
                    "retried": faults > 0,
                }
            )
        for c in calls:  # attempts > 1 marks a retried call for call_stats
            if not c.pop("retried"):
                c["attempts"] = min(c["attempts"], 1)
        handoffs = [float(h["ms"]) for h in values.get("handoffs") or []]
        return {
            "success": status == "done" and got == want,
            "status": status,
            "calls": calls,
            "side_effects": effects(),
            "handoff_ms": handoffs,
            "detail": {
                "sections": len(results),
                "missing_sections": sorted(failures),
                "layers": sorted({int(h.get("layer", 0)) for h in values.get("handoffs") or []}),
            },
        }

    def close(self) -> None:
        super().close()
        self.store.close()
