"""Running calls to the outside world when they fall due, for services whose pending calls live in Kafka
(webhook deliveries, transcript emails): one task per due job, grouped by the partition that owns it, and a
sleep until the next job is due or something wakes the scheduler. Which jobs are due, and what an attempt
does, stay with the caller."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from shared.logging import get_logger

log = get_logger(__name__)
MAX_WAIT_SECONDS = 1.0


class Attemptable(Protocol):
    in_flight: bool


J = TypeVar("J", bound=Attemptable)


class DueAttempts(Generic[J]):
    def __init__(self, attempt: Callable[[int, J], Coroutine[Any, Any, None]]) -> None:
        self._attempt = attempt
        self.in_flight: dict[int, set[asyncio.Task[None]]] = {}  # attempts running, per partition
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(
        self,
        stop: asyncio.Event,
        ready: Callable[[datetime], Iterable[tuple[int, J]]],
        next_due: Callable[[], datetime | None],
    ) -> None:
        """Until `stop`: start every ready job (marked in flight until its attempt returns), then wait."""
        while not stop.is_set():
            for partition, job in list(ready(datetime.now(UTC))):
                job.in_flight = True
                task = asyncio.create_task(self._attempt(partition, job))
                tasks = self.in_flight.setdefault(partition, set())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            wait = MAX_WAIT_SECONDS
            due = next_due()
            if due is not None:
                wait = min(wait, max((due - datetime.now(UTC)).total_seconds(), 0.001))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def cancel(self, partition: int) -> None:
        for task in self.in_flight.pop(partition, set()):
            task.cancel()

    async def finish(self, partitions: Iterable[int], timeout: float) -> None:
        """Waits (up to `timeout`) for the attempts running for these partitions."""
        running = [task for partition in partitions for task in self.in_flight.get(partition, ())]
        if running:
            await asyncio.wait(running, timeout=timeout)

    async def cancel_all(self) -> None:
        running = [task for tasks in self.in_flight.values() for task in tasks]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def until_done(work: Callable[[], Awaitable[None]], *, failure: str, **context: object) -> None:
    """Runs `work` until it succeeds, backing off while Kafka is in trouble: what it reads back must wait,
    never be skipped."""
    delay = 0.5
    while True:
        try:
            await work()
            return
        except Exception as exc:
            log.warning(failure, error=repr(exc), retry_in=delay, **context)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
