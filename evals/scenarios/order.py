"""``order-processing``: the saga graph (charge -> reserve -> notify) on 20 orders.

Scenarios (seeded, fixed): 1-3 line items over four SKUs; every fifth order pays with a
card that the gateway declines (designed: nothing may happen), every seventh asks for a
sold-out SKU (designed: the charge must be refunded by compensation). Each episode uses its
own order id, payment method and e-mail address, so the worker's gateway, inventory and
outbox (never reset) are judged per episode:

- success: a valid order ends ``done`` with exactly one live charge of the right amount,
  one active reservation and one e-mail; a designed failure ends ``failed`` with no net
  charge, no active reservation and no e-mail;
- duplicates: charges, reservations or e-mails beyond one for the order;
- lost: a step missing although the saga said ``done``.
"""

from __future__ import annotations

import random
from typing import Any

from evals.scenarios.base import ScenarioHarness, calls_from_results, effects

__all__ = ["OrderHarness"]

_SKUS = {"MUG-BLUE": 19.99, "KEYBOARD-CLICKY": 89.0, "THERMOSTAT-GH": 129.5, "LAMP-DESK": 34.25}
_STOCK = {**{sku: 10**9 for sku in _SKUS}, "SOLD-OUT": 0}


def _scenarios() -> dict[str, dict[str, Any]]:
    rng = random.Random("order-processing")
    out: dict[str, dict[str, Any]] = {}
    for n in range(20):
        items = [
            {"sku": sku, "qty": rng.randint(1, 3), "price": _SKUS[sku]}
            for sku in rng.sample(sorted(_SKUS), rng.randint(1, 3))
        ]
        kind = "ok"
        if n % 5 == 4:
            kind = "declined"
        elif n % 7 == 6:
            kind = "sold_out"
            items.append({"sku": "SOLD-OUT", "qty": 1, "price": 5.0})
        out[f"op-{n:02d}"] = {"items": items, "kind": kind, "calls": 3}
    return out


SCENARIOS = _scenarios()


class OrderHarness(ScenarioHarness):
    suite = "order-processing"
    prefix = "op-"

    def setup(self) -> None:
        from graphs.order_processing import Inventory
        from tools.notifications import Outbox
        from tools.payments import PaymentGateway

        self.gateway = PaymentGateway(str(self.dir / "payments.db"))
        self.outbox = Outbox(str(self.dir / "outbox.db"))
        self.inventory = Inventory(str(self.dir / "inventory.db"), stock=_STOCK)

    def scenarios(self) -> dict[str, dict[str, Any]]:
        return SCENARIOS

    def build(self, config: str) -> Any:
        from graphs.order_processing import build

        return build(
            ledger=self.ledger,
            gateway=self.gateway,
            outbox=self.outbox,
            inventory=self.inventory,
            retry=self.no_retry() if config == "no-retry" else None,
            faults=self.injector,
            observability=self.obs if config == "full" else None,
            name=f"order_processing_{config.replace('-', '_')}",
        )

    def inputs(self, scenario: dict[str, Any], ident: str, seed: int) -> dict[str, Any]:
        method = f"{'declined' if scenario['kind'] == 'declined' else 'credit_card'}_{ident}"
        order = {
            "order_id": ident,
            "email": f"{ident}@example.com",
            "payment_method_id": method,
            "items": [dict(i) for i in scenario["items"]],
        }
        return {"order": order}

    def _one(self, conn: Any, lock: Any, sql: str, params: tuple[Any, ...]) -> Any:
        with lock:
            return conn.execute(sql, params).fetchone()

    def judge(
        self,
        scenario: dict[str, Any],
        prepared: dict[str, Any],
        values: dict[str, Any],
        error: str | None,
    ) -> dict[str, Any]:
        order = prepared["inputs"]["order"]
        amount = round(sum(i["price"] * i["qty"] for i in order["items"]), 2)
        gw, inv, ob = self.gateway, self.inventory, self.outbox
        charges, charged, refunded = self._one(
            gw._conn,
            gw._lock,
            "SELECT count(*), coalesce(sum(amount_cents), 0), coalesce(sum(refunded_cents), 0) "
            "FROM charges WHERE payment_method_id = ?",
            (order["payment_method_id"],),
        )
        reserved, active = self._one(
            inv._conn,
            inv._lock,
            "SELECT count(*), coalesce(sum(status = 'active'), 0) FROM reservations "
            "WHERE order_id = ?",
            (order["order_id"],),
        )
        (mails,) = self._one(
            ob._conn,
            ob._lock,
            "SELECT count(*) FROM outbox WHERE recipient = ? AND status != 'cancelled'",
            (order["email"],),
        )
        net = (charged - refunded) / 100.0
        status = "crashed" if error else str(values.get("status") or "interrupted")
        designed = scenario["kind"] != "ok"
        if designed:
            success = status == "failed" and abs(net) < 0.005 and active == 0 and mails == 0
        else:
            success = (
                status == "done"
                and abs(net - amount) < 0.005
                and charges == 1
                and active == 1
                and mails == 1
            )
        duplicates = max(0, charges - 1) + max(0, reserved - 1) + max(0, mails - 1)
        done_steps = int(charges - (1 if refunded else 0) > 0) + int(active > 0) + int(mails > 0)
        missing = 0 if designed else 3 - min(3, done_steps)
        compensated = list(values.get("compensated") or [])
        rolled = bool(compensated)
        return {
            "success": success,
            "status": status,
            "designed_failure": designed,
            "calls": calls_from_results(
                list(values.get("tool_results") or []),
                {"charge_payment", "reserve_inventory"} if designed else set(),
            ),
            "side_effects": effects(
                executed=int(charges + reserved + mails),
                duplicates=int(duplicates),
                lost=missing if status == "done" else 0,
                missing=missing,
            ),
            "rollback": {
                "happened": rolled and not designed,
                "correct": (abs(net) < 0.005 and active == 0 and mails == 0) if rolled else None,
            },
            "detail": {
                "kind": scenario["kind"],
                "net_charged": net,
                "amount": amount,
                "designed_rollback": rolled and designed,
            },
        }

    def close(self) -> None:
        super().close()
        for store in (self.gateway, self.outbox, self.inventory):
            store.close()
