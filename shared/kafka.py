"""Kafka helpers: producer and consumer factories with Parley's defaults, and topic creation.

The producer is idempotent with acks=all so a retried send never duplicates or reorders an event within
a partition. It compresses because chat traffic is many small events, and batches them without lingering:
aiokafka keeps one request in flight per broker, and what is sent meanwhile goes in the next (settings.py).
Consumers never auto-commit: offsets are committed only after the view write they caused succeeded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import ConsumerRecord

from shared.consumer import TRANSIENT_ERRORS
from shared.logging import get_logger
from shared.settings import ParleySettings
from shared.topics import CATALOGUE, TopicSpec

log = get_logger(__name__)


def create_producer(settings: ParleySettings, *, client_id: str | None = None) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=client_id or f"{settings.kafka_client_id_prefix}-{settings.service_name}",
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.kafka_linger_ms,
        max_batch_size=settings.kafka_max_batch_bytes,
        compression_type=settings.kafka_compression_type,
    )


# Larger than what chat traffic brings within `kafka_gather_ms`, so that wait, not the size, ends a fetch.
GATHER_MIN_BYTES = 1024 * 1024


def create_consumer(
    settings: ParleySettings,
    *topics: str,
    group_id: str | None,
    auto_offset_reset: str = "earliest",
    max_poll_records: int = 500,
    gather: bool = False,
) -> AIOKafkaConsumer:
    """`gather`: for a consumer that writes in batches (a projection, the router's re-keyer), whose batches
    are worth waiting `settings.kafka_gather_ms` for. Not the gateway's hub: it pushes each event to the
    screens as it comes. The re-keyer is on the way to a routing decision, which a waiting visitor sees up
    to that much later."""
    gathering = gather and settings.kafka_gather_ms > 0
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.kafka_client_id_prefix}-{settings.service_name}",
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset=auto_offset_reset,
        max_poll_records=max_poll_records,
        isolation_level="read_committed",
        fetch_max_wait_ms=settings.kafka_gather_ms if gathering else 500,
        fetch_min_bytes=GATHER_MIN_BYTES if gathering else 1,
    )


async def read_range(
    settings: ParleySettings,
    partition: TopicPartition,
    start: int,
    end: int,
    *,
    timeout_seconds: float = 30.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records at offsets [start, end) of one partition, read directly (no group, nothing committed).

    Offsets without a record (transaction markers, compacted or expired records) are simply absent.
    """
    if end <= start:
        return []
    reader = create_consumer(settings, group_id=None)
    await reader.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        reader.assign([partition])
        reader.seek(partition, start)
        async with asyncio.timeout(timeout_seconds):
            while await reader.position(partition) < end:
                batch = await reader.getmany(partition, timeout_ms=500)
                records.extend(r for r in batch.get(partition, []) if start <= r.offset < end)
    finally:
        await reader.stop()
    return records


async def append_until_acknowledged(
    producer: AIOKafkaProducer, topic: str, *, key: str, value: bytes, partition: int | None = None
) -> int:
    """Append one record, retrying while Kafka is unreachable, and return its offset. For records a
    service must not forget (a scheduled retry, the outcome of a call it made): it waits, never drops."""
    delay = 0.1
    while True:
        try:
            metadata = await producer.send_and_wait(topic, key=key.encode(), value=value, partition=partition)
        except TRANSIENT_ERRORS as exc:
            log.warning("cannot append a record yet; retrying", topic=topic, error=repr(exc), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
            continue
        return int(metadata.offset)


async def delete_topics(bootstrap: str, prefix: str) -> list[str]:
    """Delete every topic whose name starts with `prefix`: the isolated topics of a test or bench run. A run
    gets a fresh prefix, and a broker's idle work grows with its partitions, so runs that leave their topics
    behind make every later run slower. Raises what the admin client raises; the caller decides."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


async def ensure_topics(settings: ParleySettings, specs: Iterable[TopicSpec] = CATALOGUE) -> list[str]:
    """Create the catalogue's topics if missing. Safe to call from every service at every start."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=spec.name(settings.topic_prefix),
                num_partitions=spec.partitions or settings.kafka_partitions,
                replication_factor=settings.kafka_replication_factor,
                topic_configs=spec.config(),
            )
            for spec in specs
            if spec.name(settings.topic_prefix) not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass  # another service created them between list and create
        return [topic.name for topic in wanted]
    finally:
        await admin.close()
