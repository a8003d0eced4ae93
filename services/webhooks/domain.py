"""The pure rules of webhook delivery: which events go to which endpoint, what is sent, when to retry,
when to give up and when to disable an endpoint. No I/O here; the adapters call these."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from shared.events import EventBase
from shared.events.conversation import CONVERSATION_EVENTS, NoteAdded
from shared.retry import RetryPolicy

NOTE_TYPE: str = NoteAdded.model_fields["type"].default
# What an endpoint may subscribe to: the conversation events (agents, credentials and the rest never leave).
DELIVERABLE_TYPES: frozenset[str] = frozenset(cls.model_fields["type"].default for cls in CONVERSATION_EVENTS)

# The schedule: 5 s, 30 s, 2 min, 10 min, 1 h, 6 h, then every 6 h, giving up 3 days after the first.
DELIVERY_RETRY_POLICY = RetryPolicy(
    delays_seconds=(5, 30, 120, 600, 3600, 6 * 3600),
    every_seconds=6 * 3600,
    give_up_after_seconds=3 * 24 * 3600,
)
GONE = 410  # Standard Webhooks: a receiver that answers 410 wants no more deliveries


def unknown_event_types(event_types: list[str]) -> list[str]:
    """The subscriptions that name no deliverable event type (wildcards `*` and `conversation.*` are fine)."""
    families = {event_type.split(".")[0] for event_type in DELIVERABLE_TYPES}
    unknown = []
    for event_type in event_types:
        if event_type == "*":
            continue
        family, _, name = event_type.partition(".")
        if name == "*" and family in families:
            continue
        if event_type not in DELIVERABLE_TYPES:
            unknown.append(event_type)
    return unknown


def subscribes(event_types: list[str], event_type: str) -> bool:
    """Whether a subscription list covers an event type. Notes are internal: only an explicit
    `conversation.note_added` subscribes to them, never a wildcard."""
    if event_type not in DELIVERABLE_TYPES:
        return False
    if event_type in event_types:
        return True
    if event_type == NOTE_TYPE:
        return False
    family = event_type.split(".")[0]
    return "*" in event_types or f"{family}.*" in event_types


@dataclass(frozen=True, slots=True)
class Endpoint:
    endpoint_id: str
    tenant: str
    url: str
    event_types: tuple[str, ...]
    enabled: bool
    secret: str
    previous_secret: str | None = None
    previous_secret_valid_until: datetime | None = None

    def wants(self, event: EventBase) -> bool:
        return event.tenant == self.tenant and subscribes(list(self.event_types), event.type)

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, and the previous one while a rotation's overlap lasts."""
        secrets = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_valid_until
            and now < self.previous_secret_valid_until
        ):
            secrets.append(self.previous_secret)
        return secrets


def payload_body(event: dict[str, Any]) -> bytes:
    """The JSON body: Standard Webhooks' `{type, timestamp, data}` with the Parley event as `data`."""
    return json.dumps(
        {"type": event["type"], "timestamp": event["occurred_at"], "data": event},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    latency_ms: float
    response_excerpt: str = ""
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


Outcome = Literal["delivered", "retrying", "dead_lettered"]


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    next_attempt_at: datetime | None = None
    disable_reason: str | None = None
    consecutive_failures: int = 0


def decide(
    *,
    result: AttemptResult,
    attempt: int,
    consecutive_failures: int,
    policy: RetryPolicy,
    disable_after_failures: int,
    now: datetime,
    rng: random.Random,
) -> Decision:
    """What follows an attempt, given the endpoint's consecutive failures before it."""
    if result.succeeded:
        return Decision("delivered", consecutive_failures=0)
    failures = consecutive_failures + 1
    if result.status_code == GONE:
        return Decision(
            "dead_lettered",
            disable_reason="the endpoint answered 410 Gone",
            consecutive_failures=failures,
        )
    next_at = policy.next_attempt_at(attempt, now, rng)
    disable_reason = None
    if failures >= disable_after_failures:
        disable_reason = f"{failures} consecutive failed attempts (last: {describe(result)})"
    if next_at is None:
        return Decision("dead_lettered", disable_reason=disable_reason, consecutive_failures=failures)
    return Decision("retrying", next_at, disable_reason=disable_reason, consecutive_failures=failures)


def describe(result: AttemptResult) -> str:
    if result.status_code is not None:
        return f"HTTP {result.status_code}"
    return result.error or "no answer"
