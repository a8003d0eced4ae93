"""The consume loop every projection shares: parse, apply in batches, retry, dead-letter, then commit.

Offsets are committed only after the batch's view writes succeeded (at-least-once; views are idempotent),
and at most once per `commit_interval_seconds`.
- Bytes that are not a valid event are dead-lettered with the parse error.
- A batch whose handler raises a transient infrastructure error (including a database that FerretDB cannot
  reach) is retried with backoff, forever: the event is not at fault, and skipping it would lose it.
- A batch whose handler raises anything else is re-applied one event at a time; the event that still fails
  is dead-lettered with the exception as the reason, and the rest go on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, TopicPartition
from pymongo.errors import AutoReconnect, ConnectionFailure, ExecutionTimeout, NetworkTimeout

from shared.deadletter import publish_dead_letter
from shared.events import InvalidEvent, RecordedEvent, parse_event
from shared.logging import bind_event_context, get_logger
from shared.mongo import storage_unavailable
from shared.settings import ParleySettings

log = get_logger(__name__)

BatchHandler = Callable[[Sequence[RecordedEvent]], Awaitable[None]]


class Projection(Protocol):
    """A projection's view writer: applies batches, and can drop what it cached of the views."""

    async def handle_batch(self, events: Sequence[RecordedEvent]) -> None: ...

    def forget_cached(self) -> None: ...

    def document_counts(self) -> DocumentCounts: ...


@dataclass
class DocumentCounts:
    """View documents a projection read from and wrote to the database: its database cost per event."""

    read: int = 0
    written: int = 0


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    ExecutionTimeout,
    ConnectionError,
    TimeoutError,
)


class ConcurrentUpdate(Exception):
    """A view changed between read and write (e.g. two consumers during a rebalance); retry the batch."""


RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (*TRANSIENT_ERRORS, ConcurrentUpdate)


def is_retryable(exc: BaseException) -> bool:
    """Infrastructure trouble or a lost race: the batch is retried, never dead-lettered."""
    return isinstance(exc, RETRYABLE_ERRORS) or storage_unavailable(exc)


@dataclass
class ConsumerStats:
    events_applied: int = 0
    dead_letters: int = 0
    batches: int = 0
    retries: int = 0
    last_offsets: dict[str, int] = field(default_factory=dict)


@dataclass
class ProjectionConsumer:
    settings: ParleySettings
    consumer: AIOKafkaConsumer
    producer: AIOKafkaProducer
    group: str
    handle_batch: BatchHandler
    # Called when this consumer's partitions change: cached view documents may have been written by the
    # instance that held them meanwhile. (A partition lost and regained within one poll goes unnoticed here;
    # the write guard catches that case.)
    on_reassigned: Callable[[], None] = lambda: None
    stats: ConsumerStats = field(default_factory=ConsumerStats)
    max_backoff_seconds: float = 10.0
    _assignment: frozenset[TopicPartition] = frozenset()
    _applied_since_commit: bool = False
    _committed_at: float = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await self.consumer.getmany(timeout_ms=500, max_records=1000)
            self._notice_reassignment()
            if batches:
                await self.process(batches)
            await self._commit_when_due()
        if self._applied_since_commit:
            await self.consumer.commit()  # a clean stop leaves nothing to apply again

    async def _commit_when_due(self) -> None:
        """Commits what was applied at most once per `commit_interval_seconds`. Committing after every
        batch meant one offset commit per event at a moderate rate, a large share of the broker's work;
        what a crash leaves uncommitted is applied again, which the views' position guard makes harmless."""
        now = time.monotonic()
        if self._applied_since_commit and now - self._committed_at >= self.settings.commit_interval_seconds:
            await self.consumer.commit()
            self._committed_at = now
            self._applied_since_commit = False

    def _notice_reassignment(self) -> None:
        assignment = frozenset(self.consumer.assignment())
        if assignment != self._assignment:
            self._assignment = assignment
            self.on_reassigned()

    async def process(self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        events: list[tuple[ConsumerRecord[bytes, bytes], RecordedEvent]] = []
        for records in batches.values():
            for record in records:
                try:
                    event = parse_event(record.value or b"")
                except InvalidEvent as exc:
                    await self._dead_letter(record, f"invalid event: {exc}")
                    continue
                events.append((record, RecordedEvent(event, record.topic, record.partition, record.offset)))
        await self._apply(events)
        self._applied_since_commit = True
        self.stats.batches += 1
        for tp, records in batches.items():
            self.stats.last_offsets[f"{tp.topic}/{tp.partition}"] = records[-1].offset

    async def _apply(self, events: list[tuple[ConsumerRecord[bytes, bytes], RecordedEvent]]) -> None:
        if not events:
            return
        try:
            await self._with_retries([recorded for _, recorded in events])
            self.stats.events_applied += len(events)
            return
        except TRANSIENT_ERRORS:
            raise  # _with_retries only gives up on them when asked to stop
        except Exception as exc:
            log.warning("batch failed; applying its events one by one", error=repr(exc), size=len(events))
        for record, recorded in events:
            with bind_event_context(
                tenant=recorded.event.tenant,
                conversation_id=recorded.event.aggregate_id,
                partition=record.partition,
                offset=record.offset,
            ):
                try:
                    await self._with_retries([recorded])
                    self.stats.events_applied += 1
                except TRANSIENT_ERRORS:
                    raise
                except Exception as exc:
                    log.error(
                        "event cannot be applied; dead-lettering it",
                        error=repr(exc),
                        type=recorded.event.type,
                    )
                    await self._dead_letter(record, f"{type(exc).__name__}: {exc}")

    async def _with_retries(self, events: Sequence[RecordedEvent]) -> None:
        delay = 0.1
        while True:
            try:
                await self.handle_batch(events)
                return
            except Exception as exc:
                if not is_retryable(exc):
                    raise
                self.stats.retries += 1
                log.warning("view write failed; retrying", error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff_seconds)

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        self.stats.dead_letters += 1
        await publish_dead_letter(self.producer, self.settings, record, reason=reason, group=self.group)
