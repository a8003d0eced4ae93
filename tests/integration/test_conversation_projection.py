"""The conversation projection on the real broker and database: idempotent, and poison goes to dead letters."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pymongo.asynchronous.database import AsyncDatabase

from services.conversation.views import TOPICS, ConversationViews
from shared.consumer import ProjectionConsumer
from shared.events import serialize
from shared.events.conversation import ConversationStarted, MessagePosted, TagAdded
from shared.events.envelope import Actor
from shared.kafka import create_consumer
from shared.mongo import Document
from shared.settings import ParleySettings
from shared.topics import CONVERSATION_EVENTS_TOPIC, DEAD_LETTERS

pytestmark = pytest.mark.integration
VISITOR = Actor(kind="visitor", id="v1")


async def _run_until(projection: ProjectionConsumer, done: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await done():
        assert asyncio.get_running_loop().time() < deadline, "projection did not catch up in time"
        batches = await projection.consumer.getmany(timeout_ms=300)
        if batches:
            await projection.process(batches)


async def test_poison_events_are_dead_lettered_with_the_reason_and_the_projection_goes_on(
    settings: ParleySettings, database: AsyncDatabase[Document], producer: AIOKafkaProducer
) -> None:
    topic = CONVERSATION_EVENTS_TOPIC.name(settings.topic_prefix)
    started = ConversationStarted(
        tenant="acme",
        aggregate_id="c1",
        actor=VISITOR,
        payload={"visitor_id": "v1", "visitor": {"name": "Vera"}},
    )
    orphan_tag = TagAdded(tenant="acme", aggregate_id="c-never", actor=VISITOR, payload={"tag": "x"})
    message = MessagePosted(
        tenant="acme", aggregate_id="c1", actor=VISITOR, payload={"message_id": "m1", "text": "hi"}
    )
    for key, value in [
        (b"c1", serialize(started)),
        (b"c1", b"\xff not json at all"),
        (b"c1", json.dumps({"type": "conversation.exploded", "payload": {}}).encode()),
        (b"c-never", serialize(orphan_tag)),
        (b"c1", serialize(message)),
    ]:
        await producer.send_and_wait(topic, key=key, value=value)

    views = ConversationViews(database, settings)
    group = f"{settings.topic_prefix}-conversation"
    consumer = create_consumer(settings, *(t.name(settings.topic_prefix) for t in TOPICS), group_id=group)
    await consumer.start()
    projection = ProjectionConsumer(settings, consumer, producer, group, views.handle_batch)
    try:

        async def message_applied() -> bool:
            doc = await database["conversations"].find_one({"_id": "c1"})
            return doc is not None and doc["message_count"] == 1

        await _run_until(projection, message_applied)
    finally:
        await consumer.stop()

    dead = await _read_all(settings, DEAD_LETTERS.name(settings.topic_prefix), expected=3)
    reasons = sorted(letter["reason"] for letter in dead)
    assert any("not JSON" in reason for reason in reasons)
    assert any("unknown event type 'conversation.exploded'" in reason for reason in reasons)
    assert any("never started" in reason for reason in reasons)
    assert all(letter["source_topic"] == topic and letter["consumer_group"] == group for letter in dead)
    assert projection.stats.dead_letters == 3


async def test_redelivered_events_change_nothing(
    settings: ParleySettings, database: AsyncDatabase[Document], producer: AIOKafkaProducer
) -> None:
    topic = CONVERSATION_EVENTS_TOPIC.name(settings.topic_prefix)
    events = [
        ConversationStarted(
            tenant="acme",
            aggregate_id="c2",
            actor=VISITOR,
            payload={"visitor_id": "v1", "visitor": {"name": "Vera"}},
        ),
        *(
            MessagePosted(
                tenant="acme", aggregate_id="c2", actor=VISITOR, payload={"message_id": f"m{n}", "text": "hi"}
            )
            for n in range(3)
        ),
    ]
    for event in events:
        await producer.send_and_wait(topic, key=b"c2", value=serialize(event))

    views = ConversationViews(database, settings)

    async def project_everything(group: str) -> dict[str, Any] | None:
        consumer = create_consumer(settings, topic, group_id=group)
        await consumer.start()
        projection = ProjectionConsumer(settings, consumer, producer, group, views.handle_batch)
        try:

            async def caught_up() -> bool:
                doc = await database["conversations"].find_one({"_id": "c2"})
                return doc is not None and doc["position"] >= 3

            await _run_until(projection, caught_up)
        finally:
            await consumer.stop()
        return await database["conversations"].find_one({"_id": "c2"})

    first = await project_everything(f"{settings.topic_prefix}-a")
    # A second consumer group re-delivers every event, as a restart before a commit would.
    second = await project_everything(f"{settings.topic_prefix}-b")
    assert first is not None and first["message_count"] == 3
    assert second == first


async def _read_all(settings: ParleySettings, topic: str, *, expected: int) -> list[dict[str, Any]]:
    consumer = create_consumer(settings, topic, group_id=None)
    await consumer.start()
    letters: list[dict[str, Any]] = []
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while len(letters) < expected and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                letters.extend(json.loads(record.value) for record in records)
    finally:
        await consumer.stop()
    return letters
