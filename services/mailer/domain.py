"""The pure rules of the mailer's emails (transcripts, password links): what an email says (notes never, user
text escaped), when to try again, and which requests are still pending in a partition. No I/O here;
`mailer.py` is the Kafka side."""

from __future__ import annotations

import html
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from shared.events import EventBase
from shared.events import agent as agent_events
from shared.events import transcript as transcript_events
from shared.retry import RetryPolicy
from shared.topics import AGENT_CREDENTIALS, CONVERSATION_EVENTS_TOPIC, TopicSpec

# A mail server that refuses for a while (greylisting, a full queue) usually accepts within hours.
MAIL_RETRY_POLICY = RetryPolicy(
    delays_seconds=(30, 120, 600, 1800, 3600), every_seconds=2 * 3600, give_up_after_seconds=24 * 3600
)
# Control characters other than tab and newline have no business in a mail body (they can hide text).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# --- the email ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


Transcript = RenderedEmail


def _clean(text: str) -> str:
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _utc(moment: datetime) -> datetime:
    """MongoDB gives back naive UTC datetimes."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _when(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _author(line: Mapping[str, Any], visitor_name: str, agent_names: Mapping[str, str]) -> str:
    author = line.get("author") or {}
    if author.get("kind") == "visitor":
        return visitor_name
    if author.get("kind") == "agent":
        return agent_names.get(str(author.get("id")), "Support")
    return "Support"


def render_transcript(
    *,
    lines: Iterable[Mapping[str, Any]],
    visitor_name: str,
    agent_names: Mapping[str, str],
    started_at: datetime,
) -> Transcript:
    """The email of a conversation's messages, oldest first. Only visitor-visible messages are shown: a line
    marked internal (a note) is dropped here even if a caller passed it. Attachments are listed by name."""
    subject = f"Transcript of your conversation of {_utc(started_at):%Y-%m-%d}"
    text_parts = [f"Transcript of your conversation (started {_when(started_at)})", ""]
    rows = []
    for line in lines:
        if line.get("kind") != "message" or line.get("internal", True):
            continue
        who = _clean(_author(line, visitor_name, agent_names))
        at = line["created_at"]
        body = _clean(line.get("text") or "")
        files = [_clean(str(a.get("filename", ""))) for a in line.get("attachments") or []]
        text_parts.append(f"[{_when(at)}] {who}:")
        text_parts.extend(f"  {row}" for row in body.split("\n") if body)
        text_parts.extend(f"  Attachment: {name}" for name in files)
        text_parts.append("")
        cells = html.escape(body).replace("\n", "<br>")
        cells += "".join(f"<br><i>Attachment: {html.escape(name)}</i>" for name in files)
        rows.append(
            f'<tr><td style="color:#666;white-space:nowrap;vertical-align:top">{html.escape(_when(at))}</td>'
            f'<td style="vertical-align:top"><b>{html.escape(who)}</b></td><td>{cells}</td></tr>'
        )
    if not rows:
        text_parts.extend(["(no messages)", ""])
    page = (
        "<!doctype html><html><body>"
        f"<p>Transcript of your conversation (started {html.escape(_when(started_at))})</p>"
        f'<table cellpadding="4">{"".join(rows) or "<tr><td>(no messages)</td></tr>"}</table>'
        "</body></html>"
    )
    return Transcript(subject=subject, text="\n".join(text_parts), html=page)


def render_password_link(*, name: str, url: str, purpose: str, expires_at: datetime) -> RenderedEmail:
    """The email with a one-time link to set a password: an invitation to the team, or a reset."""
    who = _clean(name)
    if purpose == "invite":
        subject = "You are invited to your team's Parley"
        lead = f"Hello {who}, you are invited to answer your team's chats on Parley. Set your password:"
    else:
        subject = "Set a new Parley password"
        lead = f"Hello {who}, a supervisor of your team sent you this link to set a new password:"
    until = f"The link works once, until {_when(expires_at)}. If you did not expect it, ignore this email."
    text = f"{lead}\n\n{url}\n\n{until}\n"
    page = (
        "<!doctype html><html><body>"
        f"<p>{html.escape(lead)}</p>"
        f'<p><a href="{html.escape(url, quote=True)}">Set your password</a></p>'
        f'<p style="color:#666">{html.escape(until)}</p>'
        "</body></html>"
    )
    return RenderedEmail(subject=subject, text=text, html=page)


class NotYet(Exception):
    """The views have not applied the request's record yet."""


# --- what follows an attempt -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendResult:
    message_id: str | None  # set when the server accepted the email
    reason: str | None = None
    permanent: bool = False  # the server refused for good (5xx): trying again cannot help


Outcome = Literal["sent", "retrying", "failed"]


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    next_attempt_at: datetime | None = None


def decide(
    *, result: SendResult, attempt: int, policy: RetryPolicy, now: datetime, rng: random.Random
) -> Decision:
    if result.message_id is not None:
        return Decision("sent")
    if result.permanent:
        return Decision("failed")
    next_at = policy.next_attempt_at(attempt, now, rng)
    return Decision("retrying", next_at) if next_at is not None else Decision("failed")


# --- the pending requests of one partition -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MailFlow:
    """One kind of email the mailer sends, all on one topic: the event that asks for it and the mailer's own
    outcome events, whose payloads name the email by `id_field` (and carry recipient, attempt, then
    message_id, or reason and next_attempt_at)."""

    name: str  # in logs and metrics
    topic: TopicSpec
    requested: type[EventBase]
    sent: type[EventBase]
    failed: type[EventBase]
    id_field: str
    recipient_field: str
    mark: bytes  # a cheap test on a raw record: only records holding it are parsed

    def email_id(self, event: EventBase) -> str:
        return str(getattr(event.payload, self.id_field))


TRANSCRIPTS = MailFlow(
    name="transcript",
    topic=CONVERSATION_EVENTS_TOPIC,
    requested=transcript_events.TranscriptRequested,
    sent=transcript_events.TranscriptSent,
    failed=transcript_events.TranscriptFailed,
    id_field="request_id",
    recipient_field="recipient",
    mark=b'"type":"conversation.transcript_',
)
PASSWORD_LINKS = MailFlow(
    name="password_link",
    topic=AGENT_CREDENTIALS,
    requested=agent_events.AgentPasswordLinkIssued,
    sent=agent_events.AgentPasswordLinkEmailed,
    failed=agent_events.AgentPasswordLinkEmailFailed,
    id_field="link_id",
    recipient_field="email",
    mark=b'"type":"agent.password_link_',
)


@dataclass(slots=True)
class PendingEmail:
    request_id: str
    tenant: str
    aggregate_id: str  # the conversation of a transcript, the agent of a password link
    recipient: str
    attempt: int  # the number of the next attempt
    offset: int  # the record that holds this state: the request, or the failure that scheduled a retry
    request_event_id: str
    due_at: datetime | None = None  # None: due now
    in_flight: bool = False


class PendingEmails:
    """Requests of one partition not yet sent or given up. Folded from the partition's records in order, so
    reading the partition back from the committed offset after a restart or a rebalance rebuilds it: a later
    outcome supersedes what an earlier record scheduled."""

    def __init__(self, flow: MailFlow = TRANSCRIPTS) -> None:
        self._flow = flow
        self._pending: dict[str, PendingEmail] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def all(self) -> list[PendingEmail]:
        return list(self._pending.values())

    def apply(self, event: EventBase, offset: int) -> None:
        flow = self._flow
        email_id = (
            flow.email_id(event) if isinstance(event, flow.requested | flow.sent | flow.failed) else None
        )
        if email_id is None:
            return
        if isinstance(event, flow.requested):
            if email_id not in self._pending:
                self._pending[email_id] = PendingEmail(
                    request_id=email_id,
                    tenant=event.tenant,
                    aggregate_id=event.aggregate_id,
                    recipient=str(getattr(event.payload, flow.recipient_field)),
                    attempt=1,
                    offset=offset,
                    request_event_id=event.causation_id or event.event_id,
                )
            return
        self._pending.pop(email_id, None)
        next_attempt_at = getattr(event.payload, "next_attempt_at", None)
        if isinstance(event, flow.failed) and next_attempt_at is not None:
            self._pending[email_id] = PendingEmail(
                request_id=email_id,
                tenant=event.tenant,
                aggregate_id=event.aggregate_id,
                recipient=str(getattr(event.payload, "recipient")),  # noqa: B009  (any flow's outcome has one)
                attempt=int(getattr(event.payload, "attempt")) + 1,  # noqa: B009
                offset=offset,
                request_event_id=event.causation_id or event.event_id,
                due_at=next_attempt_at,
            )

    def settle(self, pending: PendingEmail) -> None:
        """The attempt's outcome is on the topic: forget this state (its successor, if any, is read back)."""
        if self._pending.get(pending.request_id) is pending:
            del self._pending[pending.request_id]

    def ready(self, now: datetime) -> list[PendingEmail]:
        return [
            p for p in self._pending.values() if not p.in_flight and (p.due_at is None or p.due_at <= now)
        ]

    def next_due(self) -> datetime | None:
        return min((p.due_at for p in self._pending.values() if not p.in_flight and p.due_at), default=None)

    def commit_offset(self, position: int) -> int:
        """Where the partition may be committed: the first record still holding a pending state."""
        return min((p.offset for p in self._pending.values()), default=position)
