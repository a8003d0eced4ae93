"""What Parley asks of Kafka, checked against the real broker: keyed order, commits, resume after restart."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.kafka import create_consumer, create_producer, ensure_topics, read_range
from shared.settings import ParleySettings
from shared.topics import CATALOGUE, TopicSpec

pytestmark = pytest.mark.integration

SPEC = TopicSpec(suffix="contract", key="conversation id", description="contract test topic", partitions=3)


async def _drain(consumer: AIOKafkaConsumer, expected: int, timeout: float = 30.0) -> list[dict[str, object]]:
    received: list[dict[str, object]] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(received) < expected and asyncio.get_running_loop().time() < deadline:
        batches = await consumer.getmany(timeout_ms=500)
        for records in batches.values():
            received.extend(json.loads(record.value) for record in records)
    return received


async def test_topics_are_created_once_and_creation_is_idempotent(settings: ParleySettings) -> None:
    created = await ensure_topics(settings)
    assert sorted(created) == sorted(spec.name(settings.topic_prefix) for spec in CATALOGUE)
    assert await ensure_topics(settings) == []


async def test_keyed_events_come_back_in_order_and_a_restarted_consumer_resumes_after_its_commit(
    settings: ParleySettings,
) -> None:
    await ensure_topics(settings, [SPEC])
    topic = SPEC.name(settings.topic_prefix)
    group = f"{settings.topic_prefix}-contract-group"

    producer = create_producer(settings)
    await producer.start()
    try:
        sends = [
            await producer.send(
                topic, key=f"conv-{n % 5}".encode(), value=json.dumps({"conv": n % 5, "seq": n}).encode()
            )
            for n in range(100)
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()

    # The first consumer reads part of the stream and commits what it read, then stops.
    first = create_consumer(settings, topic, group_id=group, max_poll_records=20)
    await first.start()
    try:
        read_before_restart = await _drain(first, 60)
        await first.commit()
    finally:
        await first.stop()
    assert 60 <= len(read_before_restart) < 100

    # Restarted, the group resumes right after its commit: nothing read twice, nothing missed.
    second = create_consumer(settings, topic, group_id=group)
    await second.start()
    try:
        read_after_restart = await _drain(second, 100 - len(read_before_restart))
    finally:
        await second.stop()
    seqs_before = {event["seq"] for event in read_before_restart}
    seqs_after = {event["seq"] for event in read_after_restart}
    assert not seqs_before & seqs_after
    assert seqs_before | seqs_after == set(range(100))
    assert len(read_after_restart) == len(seqs_after)

    per_key: dict[object, list[int]] = defaultdict(list)
    for event in read_before_restart + read_after_restart:
        per_key[event["conv"]].append(int(str(event["seq"])))
    assert len(per_key) == 5
    for seqs in per_key.values():
        assert seqs == sorted(seqs), "events of one key must keep their order"


async def test_a_range_of_one_partition_reads_back_exactly_those_records(settings: ParleySettings) -> None:
    # The router fills a gap in its input this way, so the bounds must be exact.
    await ensure_topics(settings, [SPEC])
    topic = SPEC.name(settings.topic_prefix)
    producer = create_producer(settings)
    await producer.start()
    try:
        sends = [await producer.send(topic, value=str(n).encode(), partition=1) for n in range(10)]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()

    middle = await read_range(settings, TopicPartition(topic, 1), 3, 7)
    assert [(r.offset, r.value) for r in middle] == [(n, str(n).encode()) for n in range(3, 7)]
    assert await read_range(settings, TopicPartition(topic, 1), 5, 5) == []
