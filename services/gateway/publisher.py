"""Appends events to their topics. A 2xx from the gateway means the broker acknowledged the event (acks=all).

Presence and typing are the exception: they are sent without waiting for the broker, because the next
heartbeat or keystroke supersedes a lost one and a socket must not stall on them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from aiokafka import AIOKafkaProducer

from shared.events import Actor, EventBase, serialize, topic_of
from shared.events.agent import AgentHeartbeat
from shared.settings import ParleySettings
from shared.topics import SIGNALS

TypingMode = Literal["message", "note"]  # an agent typing a note is shown to teammates, never to the visitor


@dataclass(frozen=True)
class Appended:
    event_id: str
    type: str
    partition: int
    position: int
    aggregate_id: str  # the view document the event changes: a client reads it back with min_position

    def as_json(self) -> dict[str, object]:
        # Spelled out: dataclasses.asdict deep-copies field by field, and every command answer calls this.
        return {
            "event_id": self.event_id,
            "type": self.type,
            "partition": self.partition,
            "position": self.position,
            "aggregate_id": self.aggregate_id,
        }


class EventPublisher:
    def __init__(
        self, producer: AIOKafkaProducer, settings: ParleySettings, *, correlation_id: str | None = None
    ) -> None:
        self._producer = producer
        self._settings = settings
        self._prefix = settings.topic_prefix
        self._correlation_id = correlation_id

    def for_request(self, correlation_id: str | None) -> EventPublisher:
        """The same producer, stamping the request's id (`X-Request-ID`) on every event appended without
        one: the commands that build events need not carry transport details."""
        if correlation_id is None:
            return self
        return EventPublisher(self._producer, self._settings, correlation_id=correlation_id)

    async def append(self, event: EventBase) -> Appended:
        if self._correlation_id is not None and event.correlation_id is None:
            event = event.model_copy(update={"correlation_id": self._correlation_id})
        metadata = await self._producer.send_and_wait(
            topic_of(event).name(self._prefix), key=event.aggregate_id.encode(), value=serialize(event)
        )
        return Appended(event.event_id, event.type, metadata.partition, metadata.offset, event.aggregate_id)

    async def append_all(self, *events: EventBase) -> list[Appended]:
        """Events of one aggregate land in one partition, in this order."""
        return [await self.append(event) for event in events]

    async def heartbeat(self, beat: AgentHeartbeat) -> None:
        """Onto the presence topic, not awaited: the router derives availability timeouts from the stream."""
        await self._producer.send(
            topic_of(beat).name(self._prefix), key=beat.aggregate_id.encode(), value=serialize(beat)
        )

    async def typing(
        self,
        tenant: str,
        conversation_id: str,
        *,
        sender: Actor,
        typing: bool,
        mode: Literal["message", "note"],
    ) -> None:
        """A typing indicator onto the signals topic, which every gateway's live hub relays to its sockets
        (`LiveHub._relay_signal` reads this shape); never projected, not awaited."""
        signal = {
            "tenant": tenant,
            "conversation_id": conversation_id,
            "typing": typing,
            "mode": mode,
            "sender": sender.model_dump(),
        }
        await self._producer.send(
            SIGNALS.name(self._prefix), key=conversation_id.encode(), value=json.dumps(signal).encode()
        )
