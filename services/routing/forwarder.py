"""The re-keyer: copies the facts routing needs onto routing-facts, keyed by tenant.

A plain consumer group, not a faust agent. faust 0.15 acknowledges the messages it drops from its buffers
during a rebalance, so their offsets could be committed without the facts ever being copied: the load test
caught a `conversation.closed` the router never heard of, which kept the agent's seat taken. Here an offset
is committed only after the broker acknowledged every copy before it (at most once a second). A rebalance in between re-delivers
the batch to the partition's next owner, and the router recognises each repeat by the source position the
copy carries in its header.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata, TopicPartition

from services.routing.policy import ROUTING_FACT_TYPES
from shared.deadletter import publish_dead_letter
from shared.events import InvalidEvent, parse_event
from shared.kafka import create_consumer, create_producer
from shared.logging import get_logger
from shared.settings import ParleySettings

log = get_logger(__name__)

SOURCE_HEADER = "parley-source"

Batches = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


def source_position(record: ConsumerRecord[bytes, bytes]) -> bytes:
    return f"{record.topic}:{record.partition}:{record.offset}".encode()


@dataclass
class FactForwarder:
    settings: ParleySettings
    consumer: AIOKafkaConsumer
    producer: AIOKafkaProducer
    facts_topic: str
    group: str
    # Called with how many facts were copied and how many records were dead-lettered.
    on_batch: Callable[[int, int], None]
    _copied: dict[TopicPartition, OffsetAndMetadata] = field(default_factory=dict)
    _checkpointed_at: float = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await self.consumer.getmany(timeout_ms=500, max_records=500)
            if batches:
                await self.forward(batches)
            if (
                self._copied
                and time.monotonic() - self._checkpointed_at >= self.settings.commit_interval_seconds
            ):
                await self.checkpoint()

    async def forward(self, batches: Batches) -> None:
        copies = []
        dead = 0
        for records in batches.values():
            for record in records:
                try:
                    fact = parse_event(record.value or b"")
                except InvalidEvent as exc:
                    dead += 1
                    await publish_dead_letter(
                        self.producer, self.settings, record, reason=str(exc), group=self.group
                    )
                    continue
                if fact.type in ROUTING_FACT_TYPES:
                    # Same bytes, new key: the router sees exactly what was published, and where it came from.
                    sent = await self.producer.send(
                        self.facts_topic,
                        key=fact.tenant.encode(),
                        value=record.value,
                        headers=[(SOURCE_HEADER, source_position(record))],
                    )
                    copies.append(sent)
        await asyncio.gather(*copies)
        self.on_batch(len(copies), dead)
        self._copied.update(
            {tp: OffsetAndMetadata(records[-1].offset + 1, "") for tp, records in batches.items()}
        )

    async def checkpoint(self) -> None:
        """Commits what was copied; `run` calls it at most once per `commit_interval_seconds` (a commit per
        batch meant one per fact at moderate rates). A crash makes the next owner copy again what came
        after the last checkpoint, and the router drops those repeats."""
        offsets, self._copied = self._copied, {}
        self._checkpointed_at = time.monotonic()
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The partitions moved while this batch was copied. Every copy is on the broker; the new owner
            # re-reads from the last commit and the router drops the repeats.
            log.info("forwarded batch not checkpointed: partitions moved", reason=repr(exc))


async def run_forwarder(
    settings: ParleySettings,
    source_topics: list[str],
    facts_topic: str,
    *,
    group: str,
    on_batch: Callable[[int, int], None],
) -> None:
    """Run the re-keyer in its own consumer group until cancelled (the router runs it beside itself)."""
    consumer = create_consumer(settings, *source_topics, group_id=group, gather=True)
    producer = create_producer(settings, client_id=group)
    forwarder = FactForwarder(settings, consumer, producer, facts_topic, group, on_batch=on_batch)
    await producer.start()
    await consumer.start()
    try:
        await forwarder.run(asyncio.Event())
    finally:
        await consumer.stop()  # leaves the group at once: the other workers take its partitions now
        await producer.stop()
