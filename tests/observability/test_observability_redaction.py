"""Redactor rules, and zero leaks of a secrets/PII corpus into spans, logs and the audit log."""

from __future__ import annotations

import json
import operator
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode

from agentpatterns.observability import AuditLog, Observability, Redactor
from agentpatterns.testing.otel import OTelCapture

#: Each value must never appear (in full) anywhere we record.
CORPUS = {
    "email": "jane.roe+orders@example-mail.com",
    "phone_us": "(415) 555-0134",
    "phone_intl": "+44 20 7946 0958",
    "card_spaces": "4111 1111 1111 1111",
    "card_plain": "5555555555554444",
    "ssn": "123-45-6789",
    "openai": "sk-proj-Abc123def456GHI789jkl012",
    "anthropic": "sk-ant-api03-abcdefghijklmnopqrstuvwx",
    "github": "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "slack": "xoxb-123456789012-abcdefghijkl",
    "google": "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    "stripe": "sk_live_51Habcdefghijklmnopqrstu",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
    "bearer": "Bearer abcdef0123456789ABCDEF",
    "password_text": "password=Hunter2Secret!",
    "db_url": "postgresql://admin:S3cr3tPw@db.internal:5432/prod",
}
SECRET_FIELDS = {
    "password": "correct-horse-battery",
    "api_key": "plain-looking-value-42",
    "Authorization": "opaque-token-value-99",
    "session_id": "sess-value-123",
}
NEEDLES = [*CORPUS.values(), *SECRET_FIELDS.values(), "S3cr3tPw", "Hunter2Secret"]
TEXT = " | ".join(f"{k}: {v}" for k, v in CORPUS.items())


def test_redactor_catches_each_kind() -> None:
    r = Redactor.default()
    for kind, value in CORPUS.items():
        out = r.redact_text(f"before {value} after")
        assert value not in out, (kind, out)
        assert "[REDACTED:" in out and out.startswith("before ") and out.endswith(" after")


def test_redactor_keeps_harmless_numbers_and_text() -> None:
    r = Redactor.default()
    for text in (
        "order #W2378156 shipped on 2024-01-15 at 10:30",
        "total 1234.56 USD",
        "version 1.2.24",
        "zip 94103",
        "id 1234567812345678 (not Luhn)",
        "user_id sara_doe_6923",
        "max_tokens=512",
    ):
        assert r.redact_text(text) == text


def test_secret_keys_structure_and_truncation() -> None:
    r = Redactor.default().with_rules(
        {"order": r"#W\d{7}"}, secret_keys=["dob"], max_items=9, max_string=20
    )
    out = r.redact(
        {
            "Password": 1,
            "X-Api-Key": [1, 2],
            "dob": "x",
            "max_tokens": 5,
            "note": "order #W1234567",
            "nested": {"refresh_token": "a"},
            "long": "a" * 50,
            "many": list(range(10)),
        }
    )
    assert out["Password"] == out["X-Api-Key"] == out["dob"] == "[REDACTED:secret]"
    assert out["max_tokens"] == 5
    assert out["note"] == "order [REDACTED:order]"
    assert out["nested"] == {"refresh_token": "[REDACTED:secret]"}
    assert out["long"] == "a" * 20 + "...[truncated 30 chars]"
    assert out["many"] == [*range(9), "[+1 more items]"]
    assert len(r.redact({str(i): i for i in range(12)})) == 10  # 9 keys + marker
    assert Redactor.disabled().redact_text(CORPUS["email"]) == CORPUS["email"]


def test_secret_straddling_the_truncation_point_is_caught() -> None:
    r = Redactor.default().with_rules(max_string=30)
    text = "x" * 25 + CORPUS["openai"] + "y" * 100
    out = r.redact_text(text)
    assert "Abc123" not in out and "sk-proj" not in out


def test_messages_and_models_become_redacted_dicts() -> None:
    out = Redactor.default().redact([AIMessage(f"mail me at {CORPUS['email']}")])
    assert out[0]["type"] == "ai"
    assert out[0]["content"] == "mail me at [REDACTED:email]"


# --- end to end: nothing leaks anywhere ----------------------------------------------------
class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    note: str
    profile: dict[str, Any]
    transitions: Annotated[list[dict[str, Any]], operator.add]


@tool
def charge(card: str, email: str, api_key: str) -> str:
    """Charge a card."""
    # An opaque secret in free text is only caught with a key (api_key=...): see README.
    return f"charged {card} for {email}; receipt sent with api_key={api_key}; {TEXT}"


def agent(state: State) -> dict[str, Any]:
    if len(state["messages"]) > 1:
        return {
            "messages": [AIMessage(f"done for {CORPUS['email']}")],
            "transitions": [
                {"from": "agent", "to": "done", "reason": f"user {CORPUS['phone_us']} satisfied"}
            ],
        }
    call = {
        "name": "charge",
        "id": "call-1",
        "args": {
            "card": CORPUS["card_spaces"],
            "email": CORPUS["email"],
            "api_key": SECRET_FIELDS["api_key"],
        },
    }
    return {
        "messages": [AIMessage(TEXT, tool_calls=[call])],
        "note": TEXT,
        "profile": dict(SECRET_FIELDS),
    }


def graph_builder() -> StateGraph[Any]:
    b = StateGraph(State)
    b.add_node("agent", agent)
    b.add_node("tools", ToolNode([charge]))
    b.add_edge(START, "agent")
    b.add_conditional_edges(
        "agent", lambda s: "tools" if s["messages"][-1].tool_calls else END, ["tools", END]
    )
    b.add_edge("tools", "agent")
    return b


def everything_recorded(otel: OTelCapture, audit: AuditLog) -> list[str]:
    texts: list[str] = []
    for span in otel.spans.get_finished_spans():
        texts.append(span.name)
        texts.append(json.dumps(dict(span.attributes or {}), default=str))
        texts.append(span.status.description or "")
        for event in span.events:
            texts.append(event.name + json.dumps(dict(event.attributes or {}), default=str))
    for item in otel.logs.get_finished_logs():
        record = getattr(item, "log_record", item)
        texts.append(json.dumps(record.body, default=str))
        texts.append(json.dumps(dict(record.attributes or {}), default=str))
    for point in otel.metric_points("gen_ai.client.operation.duration"):
        texts.append(json.dumps(dict(point.attributes), default=str))
    for row in audit.query(limit=None):
        texts.append(json.dumps(row.data, default=str))
        texts.append(repr(row))
    return texts


def test_zero_leaks_with_content_capture_on(otel: OTelCapture, tmp_path: Any) -> None:
    audit = AuditLog(f"sqlite:///{tmp_path / 'audit.db'}")
    obs = Observability(
        **otel.providers(),
        audit=audit,
        capture_content=True,
        log_state_changes=True,
        node_metrics=True,
    )
    graph = obs.instrument(graph_builder()).compile(name="leaky")
    out = graph.invoke(
        {"messages": [("user", TEXT)], "note": TEXT, "profile": SECRET_FIELDS},
        {"configurable": {"thread_id": "t-leak"}},
    )
    assert out["messages"][-1].content.startswith("done for")  # the run itself is untouched
    obs.close()
    texts = everything_recorded(otel, audit)
    joined = "\n".join(texts)
    # Content was recorded (capture on) ...
    assert "[REDACTED:email]" in joined and "[REDACTED:secret]" in joined
    assert any(s.name == "execute_tool charge" for s in otel.spans.get_finished_spans())
    kinds = {r.kind for r in audit.query(limit=None)}
    assert {"input", "node", "tool", "transition", "output"} <= kinds
    assert len(otel.logs.get_finished_logs()) >= 3
    # ... and not one secret or personal datum made it anywhere.
    leaks = [needle for needle in NEEDLES if needle in joined]
    assert leaks == []
    audit.close()


def test_content_off_records_keys_only(otel: OTelCapture) -> None:
    audit = AuditLog("memory:", content=False)
    obs = Observability(**otel.providers(), audit=audit, log_state_changes=True)
    graph = obs.instrument(graph_builder()).compile(name="quiet")
    graph.invoke({"messages": [("user", TEXT)]}, {"configurable": {"thread_id": "t"}})
    obs.close()
    joined = "\n".join(everything_recorded(otel, audit))
    for value in (TEXT, CORPUS["card_spaces"], "charged"):  # no content at all
        assert value not in joined
    for attr in (
        "agentpatterns.node.input",
        "agentpatterns.node.output",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
    ):
        assert attr not in joined
    node_rows = audit.query(kind="node", node="agent")
    assert node_rows and all(set(r.data) == {"keys"} for r in node_rows)
    tool_row = audit.query(kind="tool")[0]
    assert tool_row.data["arguments"] == ["card", "email", "api_key"]
    audit.close()
