"""Plain-language requests to intents, without a model (what the rule planner understands).

A request is cut into clauses (at ``;``, sentence ends and ``and`` before a new verb); each
clause yields at most one intent:

=========================================================  ================================
phrasing (examples)                                        intent ``kind``
=========================================================  ================================
"cancel order #W2611340, ordered by mistake"               ``cancel`` (order, reason)
"change the address of order #W1 to 1 Main St, Austin,     ``order_address`` (order, address)
TX 78701" / "ship order #W1 to ..."
"change my address to 1 Main St, Apt 2, Austin, TX 78701"  ``user_address`` (address)
"pay order #W1 with gift_card_123"                         ``payment`` (order, method)
"return order #W1" / "return 1234567890 from order #W1"    ``return`` (order, items, method)
"exchange 1234567890 for 2345678901 in order #W1"          ``exchange`` (order, pairs, method)
"change item 1234567890 to 2345678901 in order #W1"        ``modify_items`` (order, pairs, ..)
"where is order #W1" / "status of order #W1"               ``order_status`` (order)
anything else                                              ``unknown`` (escalated)
=========================================================  ================================

Example:
    >>> [i["kind"] for i in parse_request("Cancel order #W2611340, ordered by mistake.")]
    ['cancel']
    >>> parse_request("cancel order #W2611340, ordered by mistake")[0]["reason"]
    'ordered by mistake'
    >>> parse_address("445 Maple Drive, Suite 394, Fort Worth, TX 76165")["city"]
    'Fort Worth'
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["find_identity", "parse_address", "parse_request", "split_clauses"]

_ORDER = re.compile(r"#?\s?\b(W\d{7})\b", re.IGNORECASE)
_ITEM = re.compile(r"\b(\d{10})\b")
_PAIR = re.compile(r"\b(\d{10})\s*(?:for|->|to|with|into)\s*(?:item\s*)?(\d{10})\b", re.IGNORECASE)
_METHOD = re.compile(r"\b((?:gift_card|credit_card|paypal)_\d+)\b")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_NAME_ZIP = re.compile(
    r"\b(?:i am|i'm|this is|my name is|name:?)\s+([A-Z][a-z]+)\s+([A-Z][a-z]+)"
    r"[^.;]*?\bzip(?:\s*code)?\s*(?:is\s*)?:?\s*(\d{5})\b",
    re.IGNORECASE,
)
_VERBS = r"(?:cancel|return|exchange|change|modify|update|ship|send|deliver|pay|switch|swap|where)"
_SPLIT = re.compile(rf"\s*(?:;|\.\s+|\band\s+(?:also\s+|then\s+)?(?={_VERBS}\b))\s*", re.IGNORECASE)
_ADDRESS_TO = re.compile(r"\bto\s+(\d+\s+[^;]+)$", re.IGNORECASE)
_STATE_ZIP = re.compile(r"^([A-Za-z]{2})\s+(\d{5})$")
_COUNTRIES = {"usa": "USA", "us": "USA", "united states": "USA"}


def split_clauses(text: str) -> list[str]:
    """Cut a request into clauses, one request each."""
    return [c.strip(" ,.") for c in _SPLIT.split(text.strip()) if c and c.strip(" ,.")]


def _order(clause: str) -> str | None:
    match = _ORDER.search(clause)
    return f"#{match.group(1).upper()}" if match else None


def parse_address(text: str) -> dict[str, str] | None:
    """``"1 Main St[, Apt 2], City, ST 12345[, USA]"`` to the six τ² address fields."""
    parts = [p.strip() for p in text.strip(" .").split(",") if p.strip()]
    country = "USA"
    if parts and parts[-1].lower() in _COUNTRIES:
        country = _COUNTRIES[parts.pop().lower()]
    if len(parts) >= 2 and re.fullmatch(r"\d{5}", parts[-1]) and len(parts[-2]) == 2:
        state, zip_code = parts[-2].upper(), parts[-1]
        parts = parts[:-2]
    elif parts and (m := _STATE_ZIP.match(parts[-1])):
        state, zip_code = m.group(1).upper(), m.group(2)
        parts = parts[:-1]
    else:
        return None
    if len(parts) < 2 or len(parts) > 3 or not re.match(r"\d", parts[0]):
        return None
    address2 = parts[1] if len(parts) == 3 else ""
    return {
        "address1": parts[0],
        "address2": address2,
        "city": parts[-1],
        "state": state,
        "country": country,
        "zip": zip_code,
    }


def _reason(clause: str) -> str | None:
    low = clause.lower()
    if "mistake" in low:
        return "ordered by mistake"
    if "no longer need" in low or "don't need" in low or "do not need" in low:
        return "no longer needed"
    return None


def _with_address(kind: str, clause: str, **extra: Any) -> dict[str, Any]:
    match = _ADDRESS_TO.search(clause)
    address = parse_address(match.group(1)) if match else None
    if address is None:
        return {"kind": "unknown", "text": clause, "why": "could not read the address"}
    return {"kind": kind, "address": address, **extra}


def _parse_clause(clause: str) -> dict[str, Any] | None:
    low = clause.lower()
    order = _order(clause)
    method = _METHOD.search(clause)
    pay = method.group(1) if method else None
    if re.search(r"\bcancel\b", low) and order:
        return {"kind": "cancel", "order_id": order, "reason": _reason(clause)}
    if re.search(r"\b(?:address|ship|send|deliver)\b", low) and order:
        return _with_address("order_address", clause, order_id=order)
    if re.search(r"\baddress\b", low) and re.search(r"\b(?:my|default)\b", low):
        return _with_address("user_address", clause)
    if re.search(r"\bpay(?:ment)?\b", low) and order and pay:
        return {"kind": "payment", "order_id": order, "payment_method_id": pay}
    if re.search(r"\breturn\b", low) and order:
        items = [i for i in _ITEM.findall(clause)]
        return {"kind": "return", "order_id": order, "item_ids": items, "payment_method_id": pay}
    pairs = [list(p) for p in _PAIR.findall(clause)]
    if re.search(r"\bexchange\b", low) and order and pairs:
        return {"kind": "exchange", "order_id": order, "pairs": pairs, "payment_method_id": pay}
    if re.search(r"\b(?:change|modify|swap|switch)\b", low) and order and pairs:
        return {"kind": "modify_items", "order_id": order, "pairs": pairs, "payment_method_id": pay}
    if re.search(r"\b(?:status|where|details|track|show)\b", low) and order:
        return {"kind": "order_status", "order_id": order}
    return None


def parse_request(text: str) -> list[dict[str, Any]]:
    """The intents of a request, in order; ``[{"kind": "unknown", ...}]`` if none is clear.

    Clauses that carry no intent of their own (greetings, the identity sentence) are
    skipped; a request with no intent at all is one ``unknown`` intent.
    """
    intents: list[dict[str, Any]] = []
    for clause in split_clauses(text):
        found = _parse_clause(clause)
        if found is not None:
            if found["kind"] == "cancel" and found["reason"] is None:
                found["reason"] = _reason(text)
            intents.append(found)
    return intents or [{"kind": "unknown", "text": text.strip(), "why": "no known request"}]


def find_identity(state: dict[str, Any]) -> dict[str, str] | None:
    """How to authenticate: ``{"email": ...}`` or ``{"first_name","last_name","zip"}``.

    Taken from the state keys ``email`` / ``first_name``, ``last_name``, ``zip`` first,
    else from the request text ("I am Yusuf Rossi, zip 19122", an e-mail address).
    """
    if state.get("email"):
        return {"email": str(state["email"])}
    if state.get("first_name") and state.get("last_name") and state.get("zip"):
        return {
            "first_name": str(state["first_name"]),
            "last_name": str(state["last_name"]),
            "zip": str(state["zip"]),
        }
    text = str(state.get("request") or "")
    match = _EMAIL.search(text)
    if match:
        return {"email": match.group(0)}
    match = _NAME_ZIP.search(text)
    if match:
        return {"first_name": match.group(1), "last_name": match.group(2), "zip": match.group(3)}
    return None
