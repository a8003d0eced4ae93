"""The event catalogue: one registry from stable type strings to schemas and topics.

`parse_event` is the only way bytes from Kafka become events; it rejects unknown types and malformed
payloads with `InvalidEvent`, which consumers dead-letter with the message as the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shared.events.agent import AGENT_EVENTS, CREDENTIAL_EVENTS, PRESENCE_EVENTS
from shared.events.canned_response import CANNED_RESPONSE_EVENTS
from shared.events.conversation import CONVERSATION_EVENTS
from shared.events.department import DEPARTMENT_EVENTS
from shared.events.envelope import Actor, EventBase
from shared.events.routing import ROUTING_EVENTS
from shared.events.webhook import WEBHOOK_DELIVERY_EVENTS, WEBHOOK_ENDPOINT_EVENTS
from shared.topics import (
    AGENT_CREDENTIALS,
    AGENT_EVENTS_TOPIC,
    CANNED_RESPONSES,
    CONVERSATION_EVENTS_TOPIC,
    DEPARTMENTS,
    PRESENCE,
    ROUTING_FACTS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_ENDPOINTS,
    TopicSpec,
)

__all__ = [
    "EVENT_TYPES",
    "Actor",
    "EventBase",
    "InvalidEvent",
    "RecordedEvent",
    "parse_event",
    "serialize",
    "topic_of",
    "topic_of_type",
]

_TOPIC_OF_GROUP: tuple[tuple[tuple[type[EventBase], ...], TopicSpec], ...] = (
    (CONVERSATION_EVENTS, CONVERSATION_EVENTS_TOPIC),
    (AGENT_EVENTS, AGENT_EVENTS_TOPIC),
    (CREDENTIAL_EVENTS, AGENT_CREDENTIALS),
    (CANNED_RESPONSE_EVENTS, CANNED_RESPONSES),
    (PRESENCE_EVENTS, PRESENCE),
    (DEPARTMENT_EVENTS, DEPARTMENTS),
    (ROUTING_EVENTS, ROUTING_FACTS),
    (WEBHOOK_ENDPOINT_EVENTS, WEBHOOK_ENDPOINTS),
    (WEBHOOK_DELIVERY_EVENTS, WEBHOOK_DELIVERIES),
)

EVENT_TYPES: dict[str, type[EventBase]] = {
    cls.model_fields["type"].default: cls for group, _ in _TOPIC_OF_GROUP for cls in group
}
_TOPICS: dict[str, TopicSpec] = {
    cls.model_fields["type"].default: topic for group, topic in _TOPIC_OF_GROUP for cls in group
}


class InvalidEvent(ValueError):
    """Bytes that are not a valid Parley event; the message says why."""


def topic_of(event: EventBase) -> TopicSpec:
    return _TOPICS[event.type]


def topic_of_type(event_type: str) -> TopicSpec:
    return _TOPICS[event_type]


def parse_event(raw: bytes | str | dict[str, Any]) -> EventBase:
    try:
        data = raw if isinstance(raw, dict) else json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEvent(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidEvent("an event must be a JSON object")
    event_type = data.get("type")
    cls = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        raise InvalidEvent(f"unknown event type {event_type!r}")
    if data.get("schema_version", 1) != cls.model_fields["schema_version"].default:
        raise InvalidEvent(f"unsupported schema_version {data.get('schema_version')!r} for {event_type}")
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise InvalidEvent(f"invalid {event_type}: {exc.errors(include_url=False)}") from exc


def serialize(event: EventBase) -> bytes:
    return event.model_dump_json().encode()


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as read back from its topic: its partition offset is its position in the aggregate's order."""

    event: EventBase
    topic: str
    partition: int
    offset: int
