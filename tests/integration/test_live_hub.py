"""The gateway's live hub on a real broker: it follows every event appended once it has started."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from services.gateway.live_hub import LiveHub
from shared.events import conversation as conversation_events
from shared.events import serialize
from shared.settings import ParleySettings
from shared.topics import CONVERSATION_EVENTS_TOPIC


async def test_an_event_appended_as_soon_as_the_hub_started_is_followed(
    settings: ParleySettings, producer: AIOKafkaProducer
) -> None:
    """A chat closed the moment a gateway came up: the hub must not begin after it, or a visitor socket
    joining then is neither pushed the close nor told to wait for it."""
    hub = LiveHub(settings)
    await hub.start()
    try:
        closed = conversation_events.ConversationClosed(
            tenant="acme", aggregate_id="c1", actor={"kind": "agent", "id": "ann"}, payload={}
        )
        sent = await producer.send_and_wait(
            CONVERSATION_EVENTS_TOPIC.name(settings.topic_prefix), serialize(closed), key=b"c1"
        )
        async with asyncio.timeout(15):
            while hub.followed.position("c1") != sent.offset:  # noqa: ASYNC110  (the hub signals nothing)
                await asyncio.sleep(0.05)
        assert hub.followed.of("c1") == "closed"
    finally:
        await hub.stop()
