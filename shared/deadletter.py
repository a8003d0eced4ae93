"""Dead letters: events a consumer could not handle, published with the reason so nothing vanishes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from shared.settings import ParleySettings
from shared.topics import DEAD_LETTERS


def dead_letter_value(
    record: ConsumerRecord[bytes, bytes], *, reason: str, service: str, group: str
) -> bytes:
    raw = record.value or b""
    try:
        value: str = raw.decode()
        encoding = "utf-8"
    except UnicodeDecodeError:
        value = base64.b64encode(raw).decode()
        encoding = "base64"
    return json.dumps(
        {
            "source_topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "key": record.key.decode(errors="replace") if record.key else None,
            "value": value,
            "value_encoding": encoding,
            "reason": reason[:4000],
            "service": service,
            "consumer_group": group,
            "failed_at": datetime.now(UTC).isoformat(),
        }
    ).encode()


async def publish_dead_letter(
    producer: AIOKafkaProducer,
    settings: ParleySettings,
    record: ConsumerRecord[bytes, bytes],
    *,
    reason: str,
    group: str,
) -> None:
    await producer.send_and_wait(
        DEAD_LETTERS.name(settings.topic_prefix),
        key=record.topic.encode(),
        value=dead_letter_value(record, reason=reason, service=settings.service_name, group=group),
    )
