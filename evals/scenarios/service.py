"""``customer-service``: the customer-service graph with its rule planner on 16 requests.

Requests are written from the τ² store (first pending / delivered orders in id order, their
owners' e-mail addresses): cancellations, returns, address changes, status questions and
one request outside the policy (escalated to a human). The expected outcome is the same
graph's fault-free run on a fresh store (computed once per worker): success = the same
final status and the same final records (orders and users named in either write log), as
in the τ² suite. Duplicates: write-log rows beyond the fault-free run's per business action.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any

from evals.accounting import action_key, side_effects
from evals.scenarios.base import ScenarioHarness, calls_from_results

__all__ = ["ServiceHarness"]


@cache
def _scenarios() -> dict[str, dict[str, Any]]:
    from tools.retail import RetailStore

    with RetailStore("memory:") as store:
        rows = store.query("SELECT order_id, user_id, status FROM orders ORDER BY order_id")
        email = dict(store.query("SELECT user_id, email FROM users"))
    pending = [r for r in rows if r[2] == "pending"]
    delivered = [r for r in rows if r[2] == "delivered"]
    out: dict[str, dict[str, Any]] = {}

    def add(text: str, user: str) -> None:
        out[f"cs-{len(out):02d}"] = {"request": text, "email": email[user], "calls": 3}

    for oid, user, _ in pending[:5]:
        add(f"Cancel order {oid}, I no longer need it", user)
    for oid, user, _ in delivered[:4]:
        add(f"I want to return order {oid}", user)
    for oid, user, _ in pending[5:8]:
        add(f"Please ship order {oid} to 12 Elm Street, Apt 3, Austin, TX 78701", user)
    for oid, user, _ in delivered[4:7]:
        add(f"Where is order {oid}?", user)
    oid, user, _ = pending[8]
    add(f"Can you give me a discount on order {oid} because I am a loyal customer?", user)
    return out


def _request(scenario: dict[str, Any]) -> dict[str, Any]:
    return {"request": scenario["request"], "email": scenario["email"], "confirm": True}


def _status(values: dict[str, Any], error: str | None) -> str:
    if error:
        return "crashed"
    status = str(values.get("status") or "interrupted")
    if values.get("escalated") and status in ("running", "interrupted"):
        return "escalated"
    return status


class ServiceHarness(ScenarioHarness):
    suite = "customer-service"
    prefix = "cs-"

    def setup(self) -> None:
        from tools.retail import RetailStore

        self.store = RetailStore(self.dir / "retail.db")
        self._exp_store = RetailStore("memory:")
        self._pristine = RetailStore("memory:")
        self._expected: dict[str, dict[str, Any]] = {}

    def scenarios(self) -> dict[str, dict[str, Any]]:
        return _scenarios()

    def build(self, config: str) -> Any:
        from graphs.customer_service import build

        expected = config == "expected"
        return build(
            store=self._exp_store if expected else self.store,
            ledger=self.ledger,
            retry=self.no_retry() if config == "no-retry" else None,
            faults=None if expected else self.injector,
            observability=self.obs if config == "full" else None,
            name=f"customer_service_{config.replace('-', '_')}",
        )

    def inputs(self, scenario: dict[str, Any], ident: str, seed: int) -> dict[str, Any]:
        self.store.reset()
        return _request(scenario)

    def _records(self, store: Any, orders: set[str], users: set[str]) -> dict[str, str]:
        from evals.tau2 import _row_texts

        return _row_texts(store, orders, users)

    def expected(self, task: str, scenario: dict[str, Any]) -> dict[str, Any]:
        exp = self._expected.get(task)
        if exp is None:
            from evals.accounting import touched_keys

            graph, _ = self.graph("expected")
            self._exp_store.reset()
            conf = {"configurable": {"thread_id": f"expected|{task}|{id(self)}"}}
            graph.invoke(_request(scenario), conf)
            values = dict(graph.get_state(conf).values or {})
            log = self._exp_store.write_log()
            orders, users = touched_keys(log)
            exp = self._expected[task] = {
                "status": _status(values, None),
                "orders": orders,
                "users": users,
                "texts": self._records(self._exp_store, orders, users),
                "writes": Counter(action_key(r["tool"], r["args"]) for r in log),
            }
        return exp

    def task_scenario(self, task: str) -> dict[str, Any]:
        return {**self.scenarios()[task], "task": task}

    def judge(
        self,
        scenario: dict[str, Any],
        prepared: dict[str, Any],
        values: dict[str, Any],
        error: str | None,
    ) -> dict[str, Any]:
        from evals.accounting import touched_keys

        exp = self.expected(scenario["task"], scenario)
        log = self.store.write_log()
        orders, users = touched_keys(log)
        got = self._records(self.store, orders | exp["orders"], users | exp["users"])
        want = {
            **self._records(self._pristine, orders - exp["orders"], users - exp["users"]),
            **exp["texts"],
        }
        status = _status(values, error)
        rows = [(*action_key(r["tool"], r["args"]), bool(r["compensated"])) for r in log]
        compensated = list(values.get("compensated") or [])
        rolled = bool(compensated)
        return {
            "success": status == exp["status"] and got == want,
            "status": status,
            "calls": calls_from_results(list(values.get("tool_results") or []), set()),
            "side_effects": {
                **side_effects(exp["writes"], rows, reported_done=status == "done"),
                "duplicate_effect_keys": 0,
                "misreported": 0,
            },
            "rollback": {
                "happened": rolled,
                "correct": (not any(not r["compensated"] for r in log)) if rolled else None,
            },
            "detail": {"expected_status": exp["status"]},
        }

    def close(self) -> None:
        super().close()
        for s in (self.store, self._exp_store, self._pristine):
            s.close()
