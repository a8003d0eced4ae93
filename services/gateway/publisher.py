"""Appends events to their topics. A 2xx from the gateway means the broker acknowledged the event (acks=all).

Presence and typing are the exception: they are sent without waiting for the broker, because the next
heartbeat or keystroke supersedes a lost one and a socket must not stall on them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from aiokafka import AIOKafkaProducer

from shared.events import EventBase, serialize, topic_of
from shared.events.agent import AgentHeartbeat
from shared.settings import ParleySettings
from shared.topics import SIGNALS


@dataclass(frozen=True)
class Appended:
    event_id: str
    type: str
    partition: int
    position: int

    def as_json(self) -> dict[str, object]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "partition": self.partition,
            "position": self.position,
        }


class EventPublisher:
    def __init__(self, producer: AIOKafkaProducer, settings: ParleySettings) -> None:
        self._producer = producer
        self._prefix = settings.topic_prefix

    async def append(self, event: EventBase) -> Appended:
        metadata = await self._producer.send_and_wait(
            topic_of(event).name(self._prefix), key=event.aggregate_id.encode(), value=serialize(event)
        )
        return Appended(event.event_id, event.type, metadata.partition, metadata.offset)

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
        *,
        tenant: str,
        conversation_id: str,
        typing: bool,
        mode: Literal["message", "note"],
        sender: dict[str, str],
    ) -> None:
        """A typing indicator onto the signals topic, which every gateway's live hub relays to its sockets
        (`LiveHub._relay_signal` reads this shape); never projected, not awaited."""
        signal = {
            "tenant": tenant,
            "conversation_id": conversation_id,
            "typing": typing,
            "mode": mode,
            "sender": sender,
        }
        await self._producer.send(
            SIGNALS.name(self._prefix), key=conversation_id.encode(), value=json.dumps(signal).encode()
        )
