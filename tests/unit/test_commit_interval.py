"""A projection checkpoints what it applied about once a second, not once per batch, and always when it
stops cleanly: at a moderate event rate, one offset commit per event was a large share of the broker's work."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka.structs import ConsumerRecord, TopicPartition

from shared.consumer import ProjectionConsumer
from shared.events import Actor, RecordedEvent, serialize
from shared.events.conversation import ConversationStarted, ConversationStartedPayload, VisitorInfo
from shared.settings import ParleySettings

PARTITION = TopicPartition("conversation", 0)


def _record(offset: int) -> ConsumerRecord[bytes, bytes]:
    event = ConversationStarted(
        tenant="acme",
        aggregate_id=f"c{offset}",
        actor=Actor(kind="visitor", id="v"),
        payload=ConversationStartedPayload(visitor_id="v", visitor=VisitorInfo(name="Vera")),
    )
    return ConsumerRecord("conversation", 0, offset, 0, 0, None, serialize(event), None, 0, 0, [])


class OneEventPerPoll:
    """Hands out one event per poll, as a consumer does when events arrive slower than it reads them."""

    def __init__(self, events: int, stop: asyncio.Event) -> None:
        self.offsets = iter(range(events))
        self.stop = stop
        self.commits = 0

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        offset = next(self.offsets, None)
        if offset is None:
            self.stop.set()
            return {}
        await asyncio.sleep(0.01)
        return {PARTITION: [_record(offset)]}

    def assignment(self) -> set[TopicPartition]:
        return {PARTITION}

    async def commit(self) -> None:
        self.commits += 1


def _run(events: int, interval: float) -> tuple[int, list[str]]:
    applied: list[str] = []

    async def handle(batch: Sequence[RecordedEvent]) -> None:
        applied.extend(recorded.event.aggregate_id for recorded in batch)

    async def main() -> int:
        stop = asyncio.Event()
        consumer = OneEventPerPoll(events, stop)
        settings = ParleySettings(commit_interval_seconds=interval)
        projection = ProjectionConsumer(settings, consumer, None, "group", handle)
        await projection.run(stop)
        return consumer.commits

    return asyncio.run(main()), applied


def test_fifty_events_in_half_a_second_cost_two_commits_not_fifty() -> None:
    commits, applied = _run(50, interval=1.0)
    assert applied == [f"c{n}" for n in range(50)]
    assert commits == 2, "one when the first batch was applied, one when the projection stopped"


def test_an_interval_of_zero_commits_every_batch() -> None:
    commits, _ = _run(5, interval=0)
    assert commits == 5
