"""Pending deliveries of one partition, in order per (endpoint, conversation). Pure: no I/O.

A conversation's deliveries to one endpoint go one at a time, in the order of the conversation's events:
the head of each queue is the only one attempted, and a later event waits while it is retrying. Other
conversations (other queues) flow on.

A job is *settled* once it no longer depends on memory: its latest state is a `delivery_scheduled` record
on the deliveries topic (`persisted_offset`). The source topic may be committed up to the first unsettled
job; the deliveries topic up to the first settled job still pending. A restart reads the deliveries
partition back from there (`fold_scheduled`, `fold_attempted`) and the source topic from its commit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Key = tuple[str, str]  # (endpoint id, conversation id)


@dataclass(slots=True)
class Job:
    endpoint_id: str
    event: dict[str, Any]
    source_partition: int
    source_offset: int
    attempt: int = 1
    due_at: datetime | None = None  # None: due as soon as it heads its queue
    persisted_offset: int | None = None
    in_flight: bool = False
    first_seen: datetime | None = None

    @property
    def key(self) -> Key:
        return (self.endpoint_id, str(self.event["aggregate_id"]))

    @property
    def event_id(self) -> str:
        return str(self.event["event_id"])


class DeliveryQueues:
    """The pending deliveries of one source partition."""

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self._queues: dict[Key, deque[Job]] = {}

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def jobs(self) -> Iterator[Job]:
        for queue in self._queues.values():
            yield from queue

    def find(self, endpoint_id: str, event_id: str, conversation_id: str) -> Job | None:
        for job in self._queues.get((endpoint_id, conversation_id), ()):
            if job.event_id == event_id:
                return job
        return None

    def add(self, job: Job) -> Job:
        """Queue a job in its source order; a job already queued (a redelivered event) is kept as it is."""
        if (existing := self.find(job.endpoint_id, job.event_id, job.key[1])) is not None:
            return existing
        queue = self._queues.setdefault(job.key, deque())
        index = len(queue)
        # Never ahead of a delivery in flight: a conversation's deliveries go one at a time.
        while (
            index > 0
            and queue[index - 1].source_offset > job.source_offset
            and not queue[index - 1].in_flight
        ):
            index -= 1
        queue.insert(index, job)
        return job

    def is_blocked(self, key: Key) -> bool:
        """An earlier delivery of this conversation to this endpoint is still pending."""
        return bool(self._queues.get(key))

    def queue_of(self, key: Key) -> list[Job]:
        return list(self._queues.get(key, ()))

    def remove(self, job: Job) -> None:
        queue = self._queues.get(job.key)
        if queue is None:
            return
        try:
            queue.remove(job)
        except ValueError:
            return
        if not queue:
            del self._queues[job.key]

    def ready(self, now: datetime, enabled: Callable[[str], bool]) -> list[Job]:
        """Heads of their queue, not in flight, due, and for an enabled endpoint."""
        ready = []
        for queue in self._queues.values():
            head = queue[0]
            if head.in_flight or not enabled(head.endpoint_id):
                continue
            if head.due_at is None or head.due_at <= now:
                ready.append(head)
        return ready

    def next_due(self) -> datetime | None:
        dues = [q[0].due_at for q in self._queues.values() if not q[0].in_flight and q[0].due_at is not None]
        return min(dues, default=None)

    def resume(self, endpoint_id: str) -> None:
        """A re-enabled endpoint: every head waiting for it is due now."""
        for (queued_endpoint, _), queue in self._queues.items():
            if queued_endpoint == endpoint_id:
                queue[0].due_at = None

    def unsettled(self, predicate: Callable[[Job], bool] = lambda job: True) -> list[Job]:
        return [job for job in self.jobs() if job.persisted_offset is None and predicate(job)]

    def source_commit(self, position: int) -> int:
        """Where the source partition may be committed: its first unsettled job, else `position`."""
        return min((job.source_offset for job in self.unsettled()), default=position)

    def deliveries_commit(self, position: int) -> int:
        """Where the deliveries partition may be committed: its first pending record, else `position`."""
        persisted = [job.persisted_offset for job in self.jobs() if job.persisted_offset is not None]
        return min(persisted, default=position)

    # Reading the deliveries partition back after an assignment.

    def fold_scheduled(self, payload: dict[str, Any], offset: int) -> None:
        job = Job(
            endpoint_id=payload["endpoint_id"],
            event=payload["event"],
            source_partition=payload["source_partition"],
            source_offset=payload["source_offset"],
        )
        job = self.add(job)
        job.attempt = payload["attempt"]
        job.due_at = payload["due_at"]
        job.persisted_offset = offset

    def fold_attempted(self, payload: dict[str, Any], conversation_id: str) -> None:
        if payload["outcome"] == "retrying":
            return  # the delivery_scheduled record that follows carries the next attempt
        job = self.find(payload["endpoint_id"], payload["event_id"], conversation_id)
        if job is not None:
            self.remove(job)
