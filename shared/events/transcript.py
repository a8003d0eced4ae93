"""Transcripts by email: a request, and the mailer's outcome of each attempt. On the conversation-events
topic (keyed by conversation id), so the conversation view shows each request's state and the mailer's
pending retries are records in the partition it reads."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.events.envelope import EventBase, Strict

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class TranscriptRequestedPayload(Strict):
    request_id: str = Field(min_length=1, max_length=100)
    recipient: str = Field(max_length=320, pattern=EMAIL_PATTERN)


class TranscriptRequested(EventBase):
    """The visitor (from the widget) or an agent asked for the transcript by email; `actor.kind` says who.
    The conversation view refuses a visitor's request past the per-conversation cap (`shared/transcripts.py`)."""

    type: Literal["conversation.transcript_requested"] = "conversation.transcript_requested"
    payload: TranscriptRequestedPayload


class EmailSentFields(Strict):
    """What the mailer records of an accepted email (a transcript's, a password link's)."""

    recipient: str = Field(max_length=320)
    attempt: int = Field(ge=1)
    message_id: str = Field(max_length=300, description="The email's Message-ID header.")


class EmailFailedFields(Strict):
    """What the mailer records of a failed attempt; with `next_attempt_at`, the retry's schedule."""

    recipient: str = Field(max_length=320)
    attempt: int = Field(ge=1)
    reason: str = Field(max_length=500)
    next_attempt_at: datetime | None = Field(
        default=None, description="When the mailer tries again; None: it gave up."
    )


class TranscriptSentPayload(EmailSentFields):
    request_id: str = Field(min_length=1, max_length=100)


class TranscriptSent(EventBase):
    """Written only by the mailer: the SMTP server accepted the transcript email."""

    type: Literal["conversation.transcript_sent"] = "conversation.transcript_sent"
    payload: TranscriptSentPayload


class TranscriptFailedPayload(EmailFailedFields):
    request_id: str = Field(min_length=1, max_length=100)


class TranscriptFailed(EventBase):
    """Written only by the mailer: an attempt failed. With `next_attempt_at` it is also the retry's schedule,
    read back by whichever mailer instance owns the partition."""

    type: Literal["conversation.transcript_failed"] = "conversation.transcript_failed"
    payload: TranscriptFailedPayload


TRANSCRIPT_EVENTS = (TranscriptRequested, TranscriptSent, TranscriptFailed)
