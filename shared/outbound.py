"""The Kafka side every service that calls out with retries shares (transcript emails, webhook deliveries):
a consumer-group member that folds what it reads into per-partition pending calls, runs them when they
fall due (`shared.attempts.DueAttempts`), and commits each partition only up to the first call still
pending, so whoever owns the partition next reads the pending calls back from the topic.

What is pending, how a record is folded and what an attempt does stay with the service."""

from __future__ import annotations

import abc
import asyncio
import random
from collections.abc import Iterator
from datetime import datetime
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from shared.attempts import Attemptable, DueAttempts
from shared.retry import RetryPolicy
from shared.settings import ParleySettings

COMMIT_EVERY_SECONDS = 1.0
S = TypeVar("S", bound=ParleySettings)
J = TypeVar("J", bound=Attemptable)


class OutboundConsumer(ConsumerRebalanceListener, abc.ABC, Generic[S, J]):  # type: ignore[misc]
    scheduler_name = "scheduler"  # the name of the task that runs due attempts

    def __init__(
        self,
        settings: S,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        *,
        group: str,
        policy: RetryPolicy,
        rng: random.Random | None,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.producer = producer
        self.group = group
        self.rng = rng or random.Random()
        self.policy = policy
        self.attempts: DueAttempts[J] = DueAttempts(self._attempt)
        self._last_commit = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        scheduler = asyncio.create_task(
            self.attempts.run(stop, self._ready, self._next_due), name=self.scheduler_name
        )
        try:
            while not stop.is_set():
                if scheduler.done():
                    scheduler.result()  # a scheduler that died must take the service down, not go silent
                batches = await self.consumer.getmany(timeout_ms=500, max_records=500)
                for tp, records in batches.items():
                    await self._take(tp, records)
                if asyncio.get_running_loop().time() - self._last_commit >= COMMIT_EVERY_SECONDS:
                    await self.commit()
        finally:
            scheduler.cancel()
            await asyncio.gather(scheduler, return_exceptions=True)
            await self.attempts.cancel_all()

    async def commit(self) -> None:
        self._last_commit = asyncio.get_running_loop().time()
        offsets = self._commit_offsets()
        if offsets:
            await self.consumer.commit(offsets)

    @abc.abstractmethod
    async def _take(self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Fold a fetched batch of one partition into its pending calls."""

    @abc.abstractmethod
    def _commit_offsets(self) -> dict[TopicPartition, OffsetAndMetadata]:
        """Per partition, the first offset still needed to read the pending calls back."""

    @abc.abstractmethod
    def _ready(self, now: datetime) -> Iterator[tuple[int, J]]:
        """The calls due now, with the partition that owns each."""

    @abc.abstractmethod
    def _next_due(self) -> datetime | None:
        """When the next call falls due; None when nothing waits."""

    @abc.abstractmethod
    async def _attempt(self, partition: int, job: J) -> None:
        """One attempt of a call, and the record of its outcome."""
