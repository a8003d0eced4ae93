"""Pending deliveries: one at a time per (endpoint, conversation) in event order, commits that never pass
a delivery only memory knows, and a read-back that restores exactly what was pending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.webhooks.endpoints import EndpointDirectory
from services.webhooks.queues import DeliveryQueues, Job
from shared.events import webhook as webhook_events
from shared.events.envelope import SYSTEM, Actor

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def job(offset: int, conversation: str = "c1", endpoint: str = "e1") -> Job:
    event = {"event_id": f"ev-{offset}", "aggregate_id": conversation, "type": "conversation.message_posted"}
    return Job(endpoint_id=endpoint, event=event, source_partition=0, source_offset=offset)


def always(_: str) -> bool:
    return True


def test_only_the_head_of_a_conversation_is_attempted_and_other_conversations_flow_on() -> None:
    queues = DeliveryQueues(0)
    first, second, other = job(1), job(2), job(3, conversation="c2")
    for j in (second, first, other):  # out of order: the queue keeps the event order
        queues.add(j)
    assert queues.ready(NOW, always) == [first, other]
    first.in_flight = True
    assert queues.ready(NOW, always) == [other]
    first.in_flight, first.due_at = False, NOW + timedelta(seconds=5)
    assert queues.ready(NOW, always) == [other]  # the later event waits while the first is retrying
    assert queues.ready(NOW + timedelta(seconds=5), always) == [first, other]
    queues.remove(first)
    assert queues.ready(NOW, always) == [second, other]


def test_an_older_event_queued_again_waits_behind_the_delivery_in_flight() -> None:
    queues = DeliveryQueues(0)
    in_flight, later = queues.add(job(5)), queues.add(job(7))
    in_flight.in_flight = True
    replayed = queues.add(job(3))
    assert queues.queue_of(("e1", "c1")) == [in_flight, replayed, later]


def test_a_redelivered_event_is_not_queued_twice() -> None:
    queues = DeliveryQueues(0)
    original = queues.add(job(1))
    assert queues.add(job(1)) is original
    assert len(queues) == 1


def test_a_disabled_endpoint_waits_and_resumes_from_its_oldest_delivery() -> None:
    queues = DeliveryQueues(0)
    first = queues.add(job(1))
    first.due_at = NOW + timedelta(hours=6)
    queues.add(job(2))
    assert queues.ready(NOW, lambda endpoint: False) == []
    queues.resume("e1")
    assert queues.ready(NOW, always) == [first]


def test_commits_stop_at_the_first_delivery_only_memory_knows() -> None:
    queues = DeliveryQueues(0)
    assert queues.source_commit(10) == 10 and queues.deliveries_commit(4) == 4
    retrying, waiting = queues.add(job(5)), queues.add(job(7))
    retrying.persisted_offset = 40
    assert queues.source_commit(10) == 7  # the waiting one is in memory only
    waiting.persisted_offset = 41
    assert queues.source_commit(10) == 10
    assert queues.deliveries_commit(50) == 40


def test_reading_the_deliveries_back_restores_what_is_pending() -> None:
    queues = DeliveryQueues(0)
    due = NOW + timedelta(seconds=30)

    def scheduled(offset: int, attempt: int, due_at: datetime | None) -> dict[str, object]:
        return {
            "endpoint_id": "e1",
            "event": job(offset).event,
            "source_partition": 0,
            "source_offset": offset,
            "attempt": attempt,
            "due_at": due_at,
        }

    queues.fold_scheduled(scheduled(1, 2, NOW), 100)
    queues.fold_scheduled(scheduled(2, 1, None), 101)
    queues.fold_attempted({"endpoint_id": "e1", "event_id": "ev-1", "outcome": "retrying"}, "c1")
    queues.fold_scheduled(scheduled(1, 3, due), 103)
    restored = queues.queue_of(("e1", "c1"))
    assert [(j.source_offset, j.attempt, j.due_at, j.persisted_offset) for j in restored] == [
        (1, 3, due, 103),
        (2, 1, None, 101),
    ]
    queues.fold_attempted({"endpoint_id": "e1", "event_id": "ev-1", "outcome": "delivered"}, "c1")
    assert [j.source_offset for j in queues.jobs()] == [2]


def test_the_directory_folds_registration_changes_rotation_and_disabling() -> None:
    directory = EndpointDirectory()
    agent = Actor(kind="agent", id="sam")
    common = {"tenant": "t", "aggregate_id": "e1"}
    directory.apply(
        webhook_events.WebhookEndpointRegistered(
            **common, actor=agent, payload={"url": "https://x.test/h", "event_types": ["*"], "secret": SECRET}
        )
    )
    assert directory.is_enabled("e1")
    directory.apply(
        webhook_events.WebhookEndpointDisabled(
            **common, actor=SYSTEM, payload={"reason": "410", "consecutive_failures": 1}
        )
    )
    assert not directory.is_enabled("e1")
    directory.apply(
        webhook_events.WebhookEndpointUpdated(
            **common, actor=agent, payload={"enabled": True, "event_types": ["x.y"]}
        )
    )
    until = NOW + timedelta(days=1)
    rotated = directory.apply(
        webhook_events.WebhookSecretRotated(
            **common,
            actor=agent,
            payload={"secret": "whsec_" + "B" * 32, "previous_secret_valid_until": until},
        )
    )
    assert rotated is not None and rotated.enabled and rotated.event_types == ("x.y",)
    assert rotated.signing_secrets(NOW) == ["whsec_" + "B" * 32, SECRET]
    assert (
        directory.apply(
            webhook_events.WebhookEndpointUpdated(tenant="t", aggregate_id="nope", actor=agent, payload={})
        )
        is None
    )
