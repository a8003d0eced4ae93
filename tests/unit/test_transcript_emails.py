"""Transcripts by email, the pure rules: what the email says (never a note, user text escaped, files by
name), when the mailer tries again, which requests stay pending, the visitor's cap, and who may ask."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.conversation.domain import apply_conversation
from services.gateway import commands
from services.gateway.auth import VisitorPrincipal
from services.gateway.config import GatewaySettings
from services.gateway.errors import ApiError, Conflict
from services.mailer.domain import (
    MAIL_RETRY_POLICY,
    PendingEmails,
    SendResult,
    decide,
    render_transcript,
)
from services.mailer.smtp import build_message
from shared.events import EventBase
from shared.events.conversation import ConversationStarted
from shared.events.envelope import Actor
from shared.events.transcript import TranscriptFailed, TranscriptRequested, TranscriptSent
from shared.transcripts import VISITOR_REQUESTS_PER_CONVERSATION
from tests.events import ANN, VISITOR
from tests.unit.gateway_fakes import ANN as ANN_AGENT
from tests.unit.gateway_fakes import FakePublisher, conversation_view, fake_views, gateway

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MAILER = Actor(kind="system", id="parley")


def _line(position: int, author: Actor, text: str, **fields: Any) -> dict[str, Any]:
    return {
        "position": position,
        "author": {"kind": author.kind, "id": author.id},
        "kind": "message",
        "internal": False,
        "text": text,
        "attachments": [],
        "created_at": (T0 + timedelta(minutes=position)).replace(tzinfo=None),  # as MongoDB gives it back
        **fields,
    }


def test_the_email_escapes_user_text_drops_notes_and_lists_attachments_by_name() -> None:
    lines = [
        _line(1, VISITOR, "Hi <script>alert('x')</script> & thanks"),
        _line(2, ANN, "Secret: VIP customer", kind="note", internal=True),
        _line(3, ANN, "Here is the label", attachments=[{"filename": "label <1>.png"}]),
        _line(4, VISITOR, "bell\x07 and\r\nnew line"),
    ]
    transcript = render_transcript(
        lines=lines, visitor_name="Vera <v@x>", agent_names={"ann": "Ann Agent"}, started_at=T0
    )
    for part in (transcript.text, transcript.html):
        assert "VIP customer" not in part
    assert "<script>" not in transcript.html
    assert "Hi &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; thanks" in transcript.html
    assert "Attachment: label &lt;1&gt;.png" in transcript.html
    assert "Vera &lt;v@x&gt;" in transcript.html and "Ann Agent" in transcript.html
    assert "Hi <script>alert('x')</script> & thanks" in transcript.text  # plain text is not HTML
    assert "  Attachment: label <1>.png" in transcript.text
    assert "\x07" not in transcript.text and "\r" not in transcript.text
    assert "[2026-11-30 09:04 UTC] Vera <v@x>:\n  bell and\n  new line" in transcript.text
    assert transcript.subject == "Transcript of your conversation of 2026-11-30"


def test_the_message_has_a_plain_text_and_an_html_part_for_the_recipient() -> None:
    transcript = render_transcript(
        lines=[_line(1, VISITOR, "hello")], visitor_name="Vera", agent_names={}, started_at=T0
    )
    message = build_message(transcript, sender="Acme Support <help@acme.test>", recipient="vera@example.com")
    assert message["To"] == "vera@example.com"
    assert message["Message-ID"].endswith("@acme.test>")
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]


def test_the_mail_schedule_is_30s_2min_10min_30min_1h_then_every_2h_for_a_day() -> None:
    policy = replace(MAIL_RETRY_POLICY, jitter=0)
    assert [policy.nominal_delay(n) for n in range(1, 8)] == [30, 120, 600, 1800, 3600, 7200, 7200]
    last = policy.max_attempts()
    assert policy.elapsed_before(last) <= 24 * 3600 < policy.elapsed_before(last + 1)
    rng = random.Random(0)
    assert decide(result=SendResult("<id@x>"), attempt=1, policy=policy, now=T0, rng=rng).outcome == "sent"
    greylisted = decide(result=SendResult(None, "SMTP 451 later"), attempt=1, policy=policy, now=T0, rng=rng)
    assert (greylisted.outcome, greylisted.next_attempt_at) == ("retrying", T0 + timedelta(seconds=30))
    no_mailbox = SendResult(None, "SMTP 550 no such user", permanent=True)
    assert decide(result=no_mailbox, attempt=1, policy=policy, now=T0, rng=rng).outcome == "failed"
    spent = decide(result=SendResult(None, "timed out"), attempt=last, policy=policy, now=T0, rng=rng)
    assert (spent.outcome, spent.next_attempt_at) == ("failed", None)


def _event(cls: type[EventBase], actor: Actor = MAILER, minutes: int = 0, **payload: Any) -> EventBase:
    return cls.model_validate(
        {
            "tenant": "acme",
            "aggregate_id": "c1",
            "actor": actor,
            "occurred_at": T0 + timedelta(minutes=minutes),
            "payload": payload,
        }
    )


def _requested(request_id: str, actor: Actor = VISITOR, recipient: str = "vera@example.com") -> EventBase:
    return _event(TranscriptRequested, actor, request_id=request_id, recipient=recipient)


def _failed(request_id: str, attempt: int, next_at: datetime | None) -> EventBase:
    return _event(
        TranscriptFailed,
        request_id=request_id,
        recipient="vera@example.com",
        attempt=attempt,
        reason="SMTP 451 try later",
        next_attempt_at=next_at,
    )


def _sent(request_id: str, attempt: int) -> EventBase:
    return _event(
        TranscriptSent,
        request_id=request_id,
        recipient="vera@example.com",
        attempt=attempt,
        message_id="<m@x>",
    )


def test_pending_emails_read_back_from_the_topic_are_superseded_by_later_outcomes() -> None:
    pending = PendingEmails()
    pending.apply(_requested("r1"), 10)
    pending.apply(_requested("r2"), 11)
    assert [(p.request_id, p.attempt) for p in pending.ready(T0)] == [("r1", 1), ("r2", 1)]
    assert pending.commit_offset(12) == 10
    retry_at = T0 + timedelta(minutes=1)
    pending.apply(_failed("r1", 1, retry_at), 12)  # the failure is the retry's schedule
    pending.apply(_sent("r2", 1), 13)
    assert [(p.request_id, p.attempt, p.offset) for p in pending.all()] == [("r1", 2, 12)]
    assert pending.ready(T0) == [] and pending.next_due() == retry_at
    assert pending.commit_offset(14) == 12
    pending.apply(_failed("r1", 2, None), 14)  # given up
    assert len(pending) == 0 and pending.commit_offset(15) == 15


def test_settling_an_attempt_keeps_the_retry_that_was_read_back_meanwhile() -> None:
    pending = PendingEmails()
    pending.apply(_requested("r1"), 10)
    (attempted,) = pending.ready(T0)
    pending.apply(_failed("r1", 1, T0), 11)  # the consumer read the outcome before the attempt returned
    pending.settle(attempted)
    assert [(p.attempt, p.offset) for p in pending.all()] == [(2, 11)]


def _view_after(*events: EventBase) -> dict[str, Any]:
    start = _event(
        ConversationStarted, VISITOR, visitor_id="v1", visitor={"name": "Vera", "email": "vera@example.com"}
    )
    view = apply_conversation(None, start, 0)
    for position, event in enumerate(events, start=1):
        view = apply_conversation(view, event, position)
    return view


def test_the_view_refuses_visitor_requests_past_the_cap_however_fast_they_came() -> None:
    visitor_requests = [_requested(f"v{n}") for n in range(VISITOR_REQUESTS_PER_CONVERSATION + 1)]
    view = _view_after(
        *visitor_requests, _requested("a1", ANN, "boss@example.com"), _failed("v0", 1, T0), _sent("v1", 1)
    )
    statuses = {e["request_id"]: (e["status"], e["attempt"]) for e in view["transcript_emails"]}
    assert statuses == {
        "v0": ("retrying", 1),
        "v1": ("sent", 1),
        "v2": ("pending", 0),
        "v3": ("refused", 0),
        "a1": ("pending", 0),  # agents are not capped
    }
    assert view["transcript_emails"][0]["reason"] == "SMTP 451 try later"


def test_who_may_ask_for_the_transcript_and_where_it_goes() -> None:
    closed = conversation_view(status="closed", visitor={"name": "Vera", "email": "vera@example.com"})
    with pytest.raises(Conflict, match="email is not configured"):
        commands.request_transcript(
            conversation=closed, actor=VISITOR, recipient=None, email_configured=False
        )
    with pytest.raises(Conflict, match="once the chat has ended"):
        commands.request_transcript(
            conversation={**closed, "status": "open"}, actor=VISITOR, recipient=None, email_configured=True
        )
    asked = commands.request_transcript(
        conversation=closed, actor=VISITOR, recipient=None, email_configured=True
    )
    assert asked.payload.recipient == "vera@example.com" and asked.actor == VISITOR
    used_up = [{"requested_by": "visitor"}] * VISITOR_REQUESTS_PER_CONVERSATION
    with pytest.raises(Conflict, match="already requested 3 times"):
        commands.request_transcript(
            conversation={**closed, "transcript_emails": used_up},
            actor=VISITOR,
            recipient=None,
            email_configured=True,
        )
    sent_by_agent = commands.request_transcript(
        conversation={**conversation_view(), "transcript_emails": used_up},
        actor=ANN,
        recipient="boss@example.com",
        email_configured=True,
    )
    assert sent_by_agent.payload.recipient == "boss@example.com"
    with pytest.raises(ApiError, match="no email address"):
        commands.request_transcript(
            conversation=conversation_view(), actor=ANN, recipient=None, email_configured=True
        )
    with pytest.raises(Conflict, match="agent-to-agent"):
        commands.request_transcript(
            conversation=conversation_view(kind="direct"),
            actor=ANN,
            recipient="a@b.co",
            email_configured=True,
        )


def test_without_smtp_the_routes_say_email_is_not_configured_and_the_offer_is_off() -> None:
    closed = conversation_view(status="closed", visitor={"name": "Vera", "email": "vera@example.com"})
    views = fake_views(conversations=[closed])
    vera = VisitorPrincipal(conversation_id="c1", visitor_id="v1", tenant="acme")
    unconfigured = GatewaySettings(smtp_host=None, smtp_sender=None)
    publisher = FakePublisher()
    visitor_client = gateway(views, publisher, visitor=vera, settings=unconfigured)
    offer = visitor_client.get("/api/visitor/conversation/transcript-emails").json()
    assert (offer["email_configured"], offer["can_request"]) == (False, False)
    refused = visitor_client.post("/api/visitor/conversation/transcript-emails", json={})
    assert refused.status_code == 409 and "email is not configured" in refused.json()["error"]["message"]
    agent_client = gateway(views, publisher, agent=ANN_AGENT, settings=unconfigured)
    assert (
        agent_client.get("/api/agent/conversations/c1/transcript-emails").json()["email_configured"] is False
    )
    assert agent_client.post("/api/agent/conversations/c1/transcript-emails", json={}).status_code == 409
    assert publisher.appended == []

    configured = GatewaySettings(smtp_host="127.0.0.1", smtp_sender="help@acme.test")
    asked = gateway(views, publisher, visitor=vera, settings=configured).post(
        "/api/visitor/conversation/transcript-emails", json={}
    )
    assert asked.status_code == 202 and asked.json()["recipient"] == "vera@example.com"
    (event,) = publisher.appended
    assert isinstance(event, TranscriptRequested) and event.actor.kind == "visitor"
