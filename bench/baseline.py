"""The bare-library baseline: plain aiokafka and plain PyMongo bulk upserts, no Parley code, same event size.

The one exception is the producer: built by shared.kafka.create_producer from the same settings as the
services' (the bench puts their environment in its own), so the baseline measures the producer they use."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient, UpdateOne

from shared.kafka import create_producer, delete_topics
from shared.settings import ParleySettings


def sample_event(n: int) -> bytes:
    """The size and shape of a Parley message_posted event (~600 bytes)."""
    return json.dumps(
        {
            "type": "conversation.message_posted",
            "schema_version": 1,
            "event_id": str(uuid.UUID(int=n)),
            "occurred_at": "2026-11-25T10:00:00.000000Z",
            "tenant": "default",
            "aggregate_id": str(uuid.UUID(int=n % 500)),
            "actor": {"kind": "visitor", "id": str(uuid.UUID(int=n % 500 + 1))},
            "correlation_id": None,
            "causation_id": None,
            "payload": {
                "message_id": str(uuid.UUID(int=n + 7)),
                "text": f"m{n} " + "x" * 180,
                "attachments": [],
            },
        }
    ).encode()


async def kafka_baseline(bootstrap: str, count: int) -> dict[str, Any]:
    topic = f"bench-baseline-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    await admin.close()
    events = [sample_event(n) for n in range(count)]
    # The producer the app builds, with the same settings (acks, idempotence, linger, batch, compression).
    producer = create_producer(ParleySettings(kafka_bootstrap=bootstrap, service_name="bench-baseline"))
    await producer.start()
    began = time.perf_counter()
    futures = [await producer.send(topic, key=str(n % 500).encode(), value=events[n]) for n in range(count)]
    for future in futures:
        await future
    produce_s = time.perf_counter() - began
    await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    received = 0
    began = time.perf_counter()
    while received < count:
        for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
            received += len(records)
    consume_s = time.perf_counter() - began
    await consumer.stop()
    await delete_topics(bootstrap, topic)
    return {
        "events": count,
        "event_bytes": len(events[0]),
        "produce_per_s": round(count / produce_s),
        "consume_per_s": round(count / consume_s),
    }


async def mongo_baseline(uri: str, count: int, batch: int = 50) -> dict[str, Any]:
    """Both write paths Parley's projections use: plain bulk inserts (transcript lines) and bulk upserts."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    db = client[f"bench_baseline_{uuid.uuid4().hex[:8]}"]
    docs = [json.loads(sample_event(n)) for n in range(count)]
    began = time.perf_counter()
    for start in range(0, count, batch):
        await db["inserted"].insert_many(
            [
                {**d, "_id": f"{d['aggregate_id']}:{n:012d}"}
                for n, d in enumerate(docs[start : start + batch], start)
            ]
        )
    insert_s = time.perf_counter() - began
    began = time.perf_counter()
    for start in range(0, count, batch):
        ops = [
            UpdateOne({"_id": f"{d['aggregate_id']}:{n:012d}"}, {"$setOnInsert": d}, upsert=True)
            for n, d in enumerate(docs[start : start + batch], start=start)
        ]
        await db["upserted"].bulk_write(ops)
    upsert_s = time.perf_counter() - began
    await client.drop_database(db.name)
    await client.close()
    return {
        "documents": count,
        "batch": batch,
        "inserts_per_s": round(count / insert_s),
        "upserts_per_s": round(count / upsert_s),
    }
