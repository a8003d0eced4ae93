"""Appends events to their topics. A 2xx from the gateway means the broker acknowledged the event (acks=all)."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from shared.events import EventBase, serialize, topic_of
from shared.settings import ParleySettings


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
