"""Rebuild views by replaying topics from the earliest offset into fresh collections.

Reads up to the end offsets seen at start (so the rebuild finishes while live traffic goes on), feeds the
same batch handler the live projection uses, and reports progress on stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from pymongo.asynchronous.database import AsyncDatabase

from shared.consumer import BatchHandler, is_retryable
from shared.events import InvalidEvent, RecordedEvent, parse_event
from shared.kafka import create_consumer
from shared.logging import get_logger
from shared.mongo import Document, create_mongo_client, get_database
from shared.settings import ParleySettings
from shared.topics import TopicSpec

log = get_logger(__name__)


class Rebuildable(Protocol):
    """A projection's views, as a rebuild needs them."""

    def collection_names(self) -> list[str]: ...

    async def ensure_indexes(self) -> None: ...

    async def handle_batch(self, events: Sequence[RecordedEvent]) -> None: ...


ViewsT = TypeVar("ViewsT", bound=Rebuildable, covariant=True)


@dataclass(frozen=True)
class ProjectionSpec(Generic[ViewsT]):
    """A projection as its service runs it and as a replay rebuilds it: the same `topics`, folded into the
    views `open_views` opens in a database under a collection prefix ("" for the live views), so a rebuild
    can't drift from what the live projection reads."""

    name: str  # in logs and progress, and the consumer group's suffix
    topics: Sequence[TopicSpec]
    open_views: Callable[[AsyncDatabase[Document], ParleySettings, str], ViewsT]

    def group(self, settings: ParleySettings) -> str:
        return f"{settings.topic_prefix}-{self.name}"

    async def live_views(self, db: AsyncDatabase[Document], settings: ParleySettings) -> ViewsT:
        """The views the projection's service writes (no prefix), their indexes ensured."""
        views = self.open_views(db, settings, "")
        await views.ensure_indexes()
        return views


async def rebuild_views(
    settings: ParleySettings,
    projection: ProjectionSpec[Rebuildable],
    *,
    prefix: str,
    show_progress: bool = True,
) -> int:
    """Replays the projection's topics into freshly dropped `prefix`-ed collections; returns the events
    applied. The live collections are left alone."""
    if not prefix:
        raise ValueError("a rebuild needs a non-empty prefix: it drops and rebuilds the prefixed collections")
    mongo = create_mongo_client(settings)
    try:
        db = get_database(mongo, settings)
        views = projection.open_views(db, settings, prefix)
        # Fresh means fresh: leftovers of an earlier, interrupted rebuild must not leak into this one.
        for name in views.collection_names():
            await db.drop_collection(name)
        await views.ensure_indexes()
        applied = await replay_topics(
            settings=settings,
            topics=projection.topics,
            handle_batch=views.handle_batch,
            label=projection.name,
            show_progress=show_progress,
        )
        log.info("views rebuilt", projection=projection.name, prefix=prefix, events=applied)
        return applied
    finally:
        await mongo.close()


async def replay_topics(
    *,
    settings: ParleySettings,
    topics: Sequence[TopicSpec],
    handle_batch: BatchHandler,
    label: str,
    show_progress: bool = True,
) -> int:
    """Returns the number of events replayed. Events the live consumer dead-lettered (invalid bytes, or
    events the views refuse) are skipped here, so the rebuilt views equal the live ones."""
    names = [t.name(settings.topic_prefix) for t in topics]
    consumer = create_consumer(settings, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = await topic_partitions(settings, names)
        if not partitions:
            return 0  # nothing was ever published: an empty rebuild, not an error
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        total = sum(end.values())
        done = applied = 0
        started = time.monotonic()
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500, max_records=2000)
            events: list[RecordedEvent] = []
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end[tp]:
                        remaining.discard(tp)
                        break
                    done += 1
                    try:
                        event = parse_event(record.value or b"")
                    except InvalidEvent:
                        continue
                    events.append(RecordedEvent(event, record.topic, record.partition, record.offset))
                if records and records[-1].offset >= end[tp] - 1:
                    remaining.discard(tp)
            if events:
                await _apply_skipping_rejected(handle_batch, events)
                applied += len(events)
            if show_progress:
                _progress(label, done, total, started)
        if show_progress:
            _progress(label, done, total, started, final=True)
        return applied
    finally:
        await consumer.stop()


async def _apply_skipping_rejected(handle_batch: BatchHandler, events: list[RecordedEvent]) -> None:
    """The replay counterpart of ProjectionConsumer's dead-lettering: a batch that fails is applied event
    by event, and the events that still fail are skipped (they are on the dead-letter topic already)."""
    try:
        await handle_batch(events)
        return
    except Exception as exc:
        if is_retryable(exc):
            raise
        log.warning("replay batch failed; applying its events one by one", error=repr(exc))
    for recorded in events:
        try:
            await handle_batch([recorded])
        except Exception as exc:
            if is_retryable(exc):
                raise
            log.warning(
                "replay skips an event the live projection dead-lettered",
                error=repr(exc),
                type=recorded.event.type,
                partition=recorded.partition,
                offset=recorded.offset,
            )


async def topic_partitions(settings: ParleySettings, names: Sequence[str]) -> list[TopicPartition]:
    # A consumer without subscriptions has no metadata for these topics (partitions_for_topic -> None).
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(names))
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], p["partition"])
        for topic in described
        if topic["error_code"] == 0
        for p in sorted(topic["partitions"], key=lambda p: p["partition"])
    ]


def _progress(label: str, done: int, total: int, started: float, *, final: bool = False) -> None:
    width = 30
    share = done / total if total else 1.0
    bar = "#" * int(share * width)
    rate = done / max(time.monotonic() - started, 1e-6)
    end = "\n" if final else "\r"
    print(
        f"{label:<14} [{bar:<{width}}] {done}/{total} events, {rate:,.0f}/s",
        end=end,
        file=sys.stderr,
        flush=True,
    )
