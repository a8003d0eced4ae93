"""Composition root of the webhooks service: the endpoint follower, the dispatcher (its own consumer
group), the views projection (another group) and the operations endpoint."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from aiokafka import AIOKafkaConsumer
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from services.webhooks.config import WebhooksSettings
from services.webhooks.dispatcher import Dispatcher
from services.webhooks.endpoints import EndpointDirectory
from services.webhooks.sender import HttpSender
from services.webhooks.views import WEBHOOKS_PROJECTION
from shared.events import InvalidEvent, parse_event
from shared.events.webhook import WebhookRedeliveryRequested
from shared.kafka import create_consumer, create_producer, ensure_topics
from shared.logging import get_logger
from shared.metrics import exposition, sample
from shared.mongo import create_mongo_client, get_database
from shared.replay import topic_partitions
from shared.service import (
    EmbeddedServer,
    projection_consumer,
    projection_operations_app,
    serve_until_stopped,
    stop_on_signals,
)
from shared.topics import CONVERSATION_EVENTS_TOPIC, WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS

log = get_logger(__name__)


def dispatch_group(settings: WebhooksSettings) -> str:
    return f"{settings.topic_prefix}-webhooks"


class EndpointFollower:
    """Reads every endpoint event from the beginning (no group), then follows the topic."""

    def __init__(self, settings: WebhooksSettings, directory: EndpointDirectory) -> None:
        self.settings = settings
        self.directory = directory
        self.topic = WEBHOOK_ENDPOINTS.name(settings.topic_prefix)
        self.consumer = create_consumer(settings, group_id=None)
        self.dispatcher: Dispatcher | None = None

    async def start(self) -> None:
        """Returns once every endpoint event written before the start has been applied."""
        await self.consumer.start()
        partitions = await topic_partitions(self.settings, [self.topic])
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)
        ends = await self.consumer.end_offsets(partitions)
        while [tp for tp, end in ends.items() if await self.consumer.position(tp) < end]:
            await self._apply(await self.consumer.getmany(timeout_ms=500))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._apply(await self.consumer.getmany(timeout_ms=500))

    async def _apply(self, batches: dict[Any, list[Any]]) -> None:
        for records in batches.values():
            for record in records:
                try:
                    event = parse_event(record.value or b"")
                except InvalidEvent as exc:
                    log.error("unreadable endpoint event skipped", error=str(exc), offset=record.offset)
                    continue
                if isinstance(event, WebhookRedeliveryRequested):
                    # Only requests made while running: one read back at start was done (or lost) before.
                    if self.dispatcher is not None:
                        await self.dispatcher.redeliver(event)
                    continue
                was_enabled = self.directory.is_enabled(event.aggregate_id)
                endpoint = self.directory.apply(event)
                if endpoint is not None and endpoint.enabled and not was_enabled and self.dispatcher:
                    self.dispatcher.resume(endpoint.endpoint_id)

    async def stop(self) -> None:
        await self.consumer.stop()


def render_delivery_metrics(dispatcher: Dispatcher) -> str:
    lines = [
        sample("parley_webhook_endpoint_enabled", int(endpoint.enabled), endpoint=endpoint.endpoint_id)
        for endpoint in dispatcher.directory.all()
    ]
    for (endpoint_id, outcome), count in sorted(dispatcher.stats.attempts.items()):
        lines.append(sample("parley_webhook_attempts_total", count, endpoint=endpoint_id, outcome=outcome))
    for endpoint_id, (pending, age) in sorted(dispatcher.backlog().items()):
        lines.append(sample("parley_webhook_pending_deliveries", pending, endpoint=endpoint_id))
        lines.append(sample("parley_webhook_oldest_pending_seconds", f"{age:.3f}", endpoint=endpoint_id))
    lines.append(sample("parley_webhook_dead_letters_total", dispatcher.stats.dead_letters))
    lines.append(sample("parley_webhook_assigned_partitions", len(dispatcher.queues)))
    return exposition(lines)


async def serve(settings: WebhooksSettings) -> None:
    await ensure_topics(settings)
    mongo = create_mongo_client(settings)
    db = get_database(mongo, settings)
    views = await WEBHOOKS_PROJECTION.live_views(db, settings)
    producer = create_producer(settings)
    await producer.start()
    directory = EndpointDirectory()
    follower = EndpointFollower(settings, directory)
    await follower.start()
    sender = HttpSender.create(settings.target_policy(), settings.webhook_timeout_seconds)
    dispatch_consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.kafka_client_id_prefix}-{settings.service_name}",
        group_id=dispatch_group(settings),
        enable_auto_commit=False,
        auto_offset_reset="latest",  # a new deployment delivers events from now on, not the whole history
        isolation_level="read_committed",
        partition_assignment_strategy=(RangePartitionAssignor,),
    )
    dispatcher = Dispatcher(
        settings, dispatch_consumer, producer, directory, sender, group=dispatch_group(settings)
    )
    follower.dispatcher = dispatcher
    dispatch_consumer.subscribe(
        [
            CONVERSATION_EVENTS_TOPIC.name(settings.topic_prefix),
            WEBHOOK_DELIVERIES.name(settings.topic_prefix),
        ],
        listener=dispatcher,
    )
    await dispatch_consumer.start()
    projection = projection_consumer(settings, WEBHOOKS_PROJECTION, views, producer)
    await projection.consumer.start()
    app = projection_operations_app(
        projection, views, db, extra_metrics=lambda: render_delivery_metrics(dispatcher)
    )

    stop = stop_on_signals()
    server = EmbeddedServer(uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None))
    log.info("webhooks started", ops_port=settings.port, endpoints=len(directory.all()))
    workers = {
        "dispatch": dispatcher.run(stop),
        "endpoints": follower.run(stop),
        "views": projection.run(stop),
    }
    try:
        await serve_until_stopped(stop, server, workers)
    finally:
        await dispatch_consumer.stop()
        await projection.consumer.stop()
        await follower.stop()
        await sender.close()
        await producer.stop()
        await mongo.close()
        log.info("webhooks stopped")
