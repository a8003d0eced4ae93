"""Kafka adapter of webhook delivery: reads the conversation events in the webhooks consumer group, attempts
deliveries, and writes every pending delivery and every attempt to the webhook-deliveries topic.

The group reads two topics with the range assignor, so partition p of the conversation events and
partition p of the deliveries go to the same instance; a delivery record is written to the partition of
its event. On an assignment, the instance reads the deliveries partition back from its committed offset
(the first delivery still pending) before it reads any new event of that partition: a later event cannot
overtake an earlier one that is retrying, even across a crash. The deliveries partitions stay paused in
the group: they are read only then, and committed to mark what is pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from services.webhooks.config import WebhooksSettings
from services.webhooks.domain import Endpoint, decide, payload_body
from services.webhooks.endpoints import EndpointDirectory
from services.webhooks.queues import DeliveryQueues, Job
from services.webhooks.sender import HttpSender
from shared.attempts import until_done
from shared.deadletter import publish_dead_letter
from shared.events import EventBase, InvalidEvent, parse_event, serialize
from shared.events import webhook as webhook_events
from shared.events.envelope import SYSTEM
from shared.kafka import append_until_acknowledged, read_range
from shared.logging import get_logger
from shared.outbound import OutboundConsumer
from shared.topics import CONVERSATION_EVENTS_TOPIC, WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS

log = get_logger(__name__)
D = TypeVar("D", webhook_events.WebhookDeliveryScheduled, webhook_events.WebhookDeliveryAttempted)


@dataclass
class DeliveryStats:
    attempts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (endpoint, outcome) -> count
    dead_letters: int = 0


def _delivery_record(cls: type[D], job: Job, tenant: str, **details: Any) -> D:
    """A record of the delivery log: in the conversation of the event delivered, caused by that event."""
    return cls(
        tenant=tenant,
        aggregate_id=job.key[1],
        actor=SYSTEM,
        causation_id=job.event_id,
        payload={
            "endpoint_id": job.endpoint_id,
            "source_partition": job.source_partition,
            "source_offset": job.source_offset,
            "attempt": job.attempt,
            **details,
        },
    )


class Dispatcher(OutboundConsumer[WebhooksSettings, Job]):
    scheduler_name = "webhook-scheduler"

    def __init__(
        self,
        settings: WebhooksSettings,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        directory: EndpointDirectory,
        sender: HttpSender,
        *,
        group: str,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(settings, consumer, producer, group=group, policy=settings.retry_policy(), rng=rng)
        self.directory = directory
        self.sender = sender
        self.source_topic = CONVERSATION_EVENTS_TOPIC.name(settings.topic_prefix)
        self.deliveries_topic = WEBHOOK_DELIVERIES.name(settings.topic_prefix)
        self.endpoints_topic = WEBHOOK_ENDPOINTS.name(settings.topic_prefix)
        self.queues: dict[int, DeliveryQueues] = {}
        self.source_positions: dict[int, int] = {}
        self.deliveries_positions: dict[int, int] = {}
        self.failures: Counter[str] = Counter()  # consecutive failed attempts per endpoint
        self.stats = DeliveryStats()
        self._requests = asyncio.Semaphore(settings.webhook_concurrent_requests)

    # The consumer group.

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        with contextlib.suppress(Exception):  # the next owner reads back whatever was not committed
            await self.commit()
        for tp in revoked:
            if tp.topic != self.source_topic:
                continue
            self.attempts.cancel(tp.partition)
            self.queues.pop(tp.partition, None)
            self.source_positions.pop(tp.partition, None)
            self.deliveries_positions.pop(tp.partition, None)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        deliveries = [tp for tp in assigned if tp.topic == self.deliveries_topic]
        sources = [tp for tp in assigned if tp.topic == self.source_topic]
        # The fetcher may already fetch while this runs: no new event before its partition's pending
        # deliveries are read back (see also `run`).
        self.consumer.pause(*deliveries, *sources)
        for tp in assigned:
            if tp.topic == self.source_topic and tp.partition not in self.source_positions:
                # Committed at the next commit even if no event comes: a restart then starts here, not at
                # the end of the topic (a new group starts at the end).
                self.source_positions[tp.partition] = await self.consumer.position(tp)
        for tp in deliveries:
            # Kafka trouble: the partition's events must wait, not be skipped.
            await until_done(
                functools.partial(self._read_back, tp),
                failure="cannot read back pending deliveries; retrying",
            )
        self.consumer.resume(*sources)
        self.attempts.wake()

    async def _read_back(self, tp: TopicPartition) -> None:
        committed = await self.consumer.committed(tp) or 0
        end = (await self.consumer.end_offsets([tp]))[tp]
        queues = DeliveryQueues(tp.partition)
        for record in await read_range(self.settings, tp, committed, end):
            try:
                event = parse_event(record.value or b"")
            except InvalidEvent as exc:
                await self._dead_letter(record, f"invalid event: {exc}")
                continue
            if isinstance(event, webhook_events.WebhookDeliveryScheduled):
                queues.fold_scheduled(event.payload.model_dump(), record.offset)
            elif isinstance(event, webhook_events.WebhookDeliveryAttempted):
                queues.fold_attempted(event.payload.model_dump(), event.aggregate_id)
        self.queues[tp.partition] = queues
        self.deliveries_positions[tp.partition] = end
        log.info("pending deliveries read back", partition=tp.partition, pending=len(queues), start=committed)

    # The loops.

    async def _take(self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        if tp.topic != self.source_topic:
            return
        if tp.partition not in self.queues:  # fetched before its deliveries were read back
            self.consumer.seek(tp, records[0].offset)
            return
        for record in records:
            await self._accept(record)
        self.source_positions[tp.partition] = records[-1].offset + 1

    def _commit_offsets(self) -> dict[TopicPartition, OffsetAndMetadata]:
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for partition, queues in self.queues.items():
            if partition in self.source_positions:
                source = queues.source_commit(self.source_positions[partition])
                offsets[TopicPartition(self.source_topic, partition)] = OffsetAndMetadata(source, "")
            deliveries = queues.deliveries_commit(self.deliveries_positions.get(partition, 0))
            offsets[TopicPartition(self.deliveries_topic, partition)] = OffsetAndMetadata(deliveries, "")
        return offsets

    async def _accept(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            event = parse_event(record.value or b"")
        except InvalidEvent as exc:
            await self._dead_letter(record, f"invalid event: {exc}")
            return
        queues = self.queues[record.partition]
        for endpoint in self.directory.all():
            if not endpoint.wants(event):
                continue
            job = Job(
                endpoint_id=endpoint.endpoint_id,
                event=json.loads(serialize(event)),
                source_partition=record.partition,
                source_offset=record.offset,
                first_seen=datetime.now(UTC),
            )
            ahead = queues.queue_of(job.key)
            if queues.add(job) is not job:
                continue  # a redelivered event whose delivery is already pending
            if not endpoint.enabled or any(j.persisted_offset is not None for j in ahead):
                await self._persist(job)  # it may wait long: Kafka must know, not memory alone
        self.attempts.wake()

    def _ready(self, now: datetime) -> Iterator[tuple[int, Job]]:
        for partition, queues in list(self.queues.items()):
            for job in queues.ready(now, self.directory.is_enabled):
                yield partition, job

    def _next_due(self) -> datetime | None:
        return min(filter(None, (queues.next_due() for queues in self.queues.values())), default=None)

    async def _attempt(self, partition: int, job: Job) -> None:
        try:
            endpoint = self.directory.get(job.endpoint_id)
            if endpoint is None:
                return
            async with self._requests:
                result = await self.sender.send(endpoint, job.event_id, payload_body(job.event))
            decision = decide(
                result=result,
                attempt=job.attempt,
                consecutive_failures=self.failures[endpoint.endpoint_id],
                policy=self.policy,
                disable_after_failures=self.settings.webhook_disable_after_failures,
                now=datetime.now(UTC),
                rng=self.rng,
            )
            self.failures[endpoint.endpoint_id] = decision.consecutive_failures
            self.stats.attempts[(endpoint.endpoint_id, decision.outcome)] += 1
            attempted = _delivery_record(
                webhook_events.WebhookDeliveryAttempted,
                job,
                endpoint.tenant,
                event_id=job.event_id,
                event_type=job.event["type"],
                **asdict(result),  # what the receiver answered, as it came
                outcome=decision.outcome,
                next_attempt_at=decision.next_attempt_at,
            )
            await self._publish(attempted, partition)
            queues = self.queues.get(partition)
            if queues is None:
                return
            if decision.outcome == "retrying":
                job.attempt += 1
                job.due_at = decision.next_attempt_at
                job.persisted_offset = None
                for waiting in queues.queue_of(job.key):
                    if waiting.persisted_offset is None:
                        await self._persist(waiting)
            else:
                queues.remove(job)
                if decision.outcome == "dead_lettered":
                    self.stats.dead_letters += 1
            if decision.disable_reason and endpoint.enabled:
                await self._disable(endpoint, decision.disable_reason, decision.consecutive_failures)
        except Exception:
            # A bug, not the receiver's fault: say so; the delivery stays pending and is tried again.
            log.exception(
                "delivery attempt failed unexpectedly", endpoint_id=job.endpoint_id, event_id=job.event_id
            )
            await asyncio.sleep(1)
        finally:
            job.in_flight = False
            self.attempts.wake()

    async def _disable(self, endpoint: Endpoint, reason: str, failures: int) -> None:
        event = webhook_events.WebhookEndpointDisabled(
            tenant=endpoint.tenant,
            aggregate_id=endpoint.endpoint_id,
            actor=SYSTEM,
            payload={"reason": reason, "consecutive_failures": failures},
        )
        await self._publish(event, None)
        self.directory.apply(event)  # at once: the follower reads it back later
        log.warning("webhook endpoint disabled", endpoint_id=endpoint.endpoint_id, reason=reason)
        for queues in self.queues.values():
            for job in queues.unsettled(lambda j: j.endpoint_id == endpoint.endpoint_id and not j.in_flight):
                await self._persist(job)

    async def redeliver(self, request: webhook_events.WebhookRedeliveryRequested) -> None:
        """Queue again, in order, the endpoint's events a supervisor asked for, in the partitions this
        instance owns (every instance hears the request). Events already pending are not queued twice."""
        endpoint = self.directory.get(request.aggregate_id)
        if endpoint is None:
            return
        wanted = request.payload
        for partition, queues in list(self.queues.items()):
            tp = TopicPartition(self.source_topic, partition)
            end = self.source_positions.get(partition, 0)
            if wanted.since is not None:
                found = await self.consumer.offsets_for_times({tp: int(wanted.since.timestamp() * 1000)})
                start = found[tp].offset if found.get(tp) is not None else end
            elif wanted.source_partition == partition and wanted.source_offset is not None:
                start, end = wanted.source_offset, min(end, wanted.source_offset + 1)
            else:
                continue
            for record in await read_range(self.settings, tp, start, end):
                try:
                    event = parse_event(record.value or b"")
                except InvalidEvent:
                    continue  # dead-lettered when it was first read
                if not endpoint.wants(event) or partition not in self.queues:
                    continue
                job = Job(endpoint.endpoint_id, json.loads(serialize(event)), partition, record.offset)
                if queues.add(job) is job:
                    await self._persist(job)
        log.info("redelivery queued", endpoint_id=endpoint.endpoint_id, since=str(wanted.since))
        self.attempts.wake()

    def resume(self, endpoint_id: str) -> None:
        """The endpoint was enabled again: its waiting deliveries go on, oldest first."""
        self.failures[endpoint_id] = 0
        for queues in self.queues.values():
            queues.resume(endpoint_id)
        self.attempts.wake()

    async def _persist(self, job: Job) -> None:
        endpoint = self.directory.get(job.endpoint_id)
        tenant = endpoint.tenant if endpoint else str(job.event["tenant"])
        scheduled = _delivery_record(
            webhook_events.WebhookDeliveryScheduled, job, tenant, event=job.event, due_at=job.due_at
        )
        job.persisted_offset = await self._publish(scheduled, job.source_partition)

    async def _publish(self, event: EventBase, partition: int | None) -> int:
        """Append one event, retrying while Kafka is unreachable (the delivery must not be forgotten)."""
        topic = self.deliveries_topic if partition is not None else self.endpoints_topic
        offset = await append_until_acknowledged(
            self.producer, topic, key=event.aggregate_id, value=serialize(event), partition=partition
        )
        if partition is not None:
            position = self.deliveries_positions.get(partition, 0)
            self.deliveries_positions[partition] = max(position, offset + 1)
        return offset

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        self.stats.dead_letters += 1
        await publish_dead_letter(self.producer, self.settings, record, reason=reason, group=self.group)

    def backlog(self) -> dict[str, tuple[int, float]]:
        """Pending deliveries per endpoint and the age in seconds of the oldest one."""
        now = datetime.now(UTC)
        found: dict[str, tuple[int, float]] = {}
        for queues in self.queues.values():
            for job in queues.jobs():
                occurred = datetime.fromisoformat(str(job.event["occurred_at"]))
                count, age = found.get(job.endpoint_id, (0, 0.0))
                found[job.endpoint_id] = (count + 1, max(age, (now - occurred).total_seconds()))
        return found
