"""The publisher stamps the request's id on the events a request appends; the commands never see it."""

from __future__ import annotations

import json
from dataclasses import asdict
from types import SimpleNamespace
from typing import Any, cast

from aiokafka import AIOKafkaProducer

from services.gateway.config import GatewaySettings
from services.gateway.publisher import Appended, EventPublisher
from services.gateway.team_commands import set_status
from shared.events import parse_event

ANN = {"_id": "ann", "tenant": "acme", "name": "Ann"}


class RecordingProducer:
    """Stands in for Kafka: what was sent, to which topic, with which key."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send_and_wait(self, topic: str, *, key: bytes, value: bytes) -> Any:
        self.sent.append((topic, key, value))
        return SimpleNamespace(partition=0, offset=len(self.sent) - 1)


def _publisher() -> tuple[EventPublisher, RecordingProducer]:
    producer = RecordingProducer()
    settings = GatewaySettings(topic_prefix="t")
    return EventPublisher(cast(AIOKafkaProducer, producer), settings), producer


async def test_events_appended_for_a_request_carry_its_id() -> None:
    publisher, producer = _publisher()
    appended = await publisher.for_request("req-7").append(set_status(me=ANN, status="away"))
    [(topic, key, value)] = producer.sent
    event = parse_event(value)
    assert (topic, key, event.correlation_id, event.event_id) == (
        "t.agent-events",
        b"ann",
        "req-7",
        appended.event_id,
    )


async def test_without_a_request_id_an_event_keeps_what_it_has() -> None:
    publisher, producer = _publisher()
    await publisher.for_request(None).append(set_status(me=ANN, status="away"))
    caused = set_status(me=ANN, status="offline").model_copy(update={"correlation_id": "flow-1"})
    await publisher.for_request("req-8").append(caused)
    assert [json.loads(value)["correlation_id"] for _, _, value in producer.sent] == [None, "flow-1"]


def test_an_appended_event_is_answered_with_every_field_of_its_position() -> None:
    """`as_json` spells its fields out (asdict was slow on the hot path): a field added must be added there."""
    appended = Appended("e1", "conversation.message_posted", 3, 42, "c1")
    assert appended.as_json() == asdict(appended)
