"""The router as its own process on the real broker: facts in, assignment decisions out."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.events import Actor, EventBase, parse_event, serialize, topic_of
from shared.events import agent as agent_events
from shared.events import conversation as conversation_events
from shared.kafka import create_consumer, ensure_topics
from shared.settings import ParleySettings
from shared.topics import CONVERSATION_EVENTS_TOPIC, DEAD_LETTERS, ROUTING_FACTS
from tests.integration.routing_worker import RoutingWorker

pytestmark = pytest.mark.integration

TENANT = "acme"
AGENT = Actor(kind="agent", id="alice")
VISITOR = Actor(kind="visitor", id="v-1")
WAIT = 60.0


@pytest.fixture
def router(settings: ParleySettings, tmp_path: Path) -> Iterator[RoutingWorker]:
    process = RoutingWorker("routing", settings, tmp_path)
    try:
        process.start()
        yield process
    finally:
        process.stop()


@pytest.fixture
async def decisions(settings: ParleySettings) -> AsyncIterator[AIOKafkaConsumer]:
    await ensure_topics(settings)
    consumer = create_consumer(settings, CONVERSATION_EVENTS_TOPIC.name(settings.topic_prefix), group_id=None)
    await consumer.start()
    yield consumer
    await consumer.stop()


async def publish(producer: AIOKafkaProducer, settings: ParleySettings, event: EventBase) -> None:
    topic = topic_of(event).name(settings.topic_prefix)
    await producer.send_and_wait(topic, key=event.aggregate_id.encode(), value=serialize(event))


async def read_until(
    consumer: AIOKafkaConsumer, parse: Callable[[bytes], Any], done: Callable[[list[Any]], bool]
) -> list[Any]:
    """Read records (parsed, None dropped) until `done` holds or the bound runs out."""
    seen: list[Any] = []
    deadline = asyncio.get_running_loop().time() + WAIT
    while not done(seen) and asyncio.get_running_loop().time() < deadline:
        for records in (await consumer.getmany(timeout_ms=500)).values():
            seen.extend(item for item in (parse(r.value) for r in records) if item is not None)
    return seen


def decision_of(raw: bytes) -> conversation_events.AssignmentDecided | None:
    try:
        event = parse_event(raw)
    except ValueError:
        return None  # the garbage test's own message
    return event if isinstance(event, conversation_events.AssignmentDecided) else None


async def wait_for_facts(base: str, count: int) -> None:
    """The router has applied `count` facts: the agent is known before any visitor arrives."""
    deadline = asyncio.get_running_loop().time() + WAIT
    async with httpx.AsyncClient() as client:
        while asyncio.get_running_loop().time() < deadline:
            text = (await client.get(f"{base}/metrics")).text
            match = re.search(r"^parley_routing_facts_processed_total (\d+)$", text, re.MULTILINE)
            if match and int(match.group(1)) >= count:
                return
            await asyncio.sleep(0.3)
    raise TimeoutError(f"router did not apply {count} facts within {WAIT}s")


async def agent_available(producer: AIOKafkaProducer, settings: ParleySettings, base: str) -> None:
    payload = agent_events.AgentRegisteredPayload(
        email="alice@example.com", name="Alice", max_concurrent_chats=1
    )
    await publish(
        producer,
        settings,
        agent_events.AgentRegistered(tenant=TENANT, aggregate_id="alice", actor=AGENT, payload=payload),
    )
    status = agent_events.AgentStatusChangedPayload(status="available")
    await publish(
        producer,
        settings,
        agent_events.AgentStatusChanged(tenant=TENANT, aggregate_id="alice", actor=AGENT, payload=status),
    )
    await wait_for_facts(base, 2)


def started(conversation_id: str) -> conversation_events.ConversationStarted:
    payload = conversation_events.ConversationStartedPayload(
        visitor_id="v-1", visitor=conversation_events.VisitorInfo(name="Vera")
    )
    return conversation_events.ConversationStarted(
        tenant=TENANT, aggregate_id=conversation_id, actor=VISITOR, payload=payload
    )


def closed_by_agent(conversation_id: str) -> conversation_events.ConversationClosed:
    return conversation_events.ConversationClosed(
        tenant=TENANT,
        aggregate_id=conversation_id,
        actor=AGENT,
        payload=conversation_events.ConversationClosedPayload(),
    )


async def two_visitors_for_one_seat(
    router: RoutingWorker, settings: ParleySettings, producer: AIOKafkaProducer, decisions: AIOKafkaConsumer
) -> list[conversation_events.AssignmentDecided]:
    """Alice, available for one chat, and two visitors arriving: the router's first two decisions."""
    await agent_available(producer, settings, router.base)
    await publish(producer, settings, started("conv-1"))
    await publish(producer, settings, started("conv-2"))
    return await read_until(decisions, decision_of, lambda seen: len(seen) >= 2)


async def test_a_full_agent_queues_the_next_visitor_until_a_chat_closes(
    router: RoutingWorker, settings: ParleySettings, producer: AIOKafkaProducer, decisions: AIOKafkaConsumer
) -> None:
    first = await two_visitors_for_one_seat(router, settings, producer, decisions)
    by_outcome = {d.payload.outcome: d for d in first}
    assert sorted(by_outcome) == ["assigned", "queued"], first
    assigned, queued = by_outcome["assigned"], by_outcome["queued"]
    assert assigned.payload.agent_id == "alice"
    assert queued.payload.queue_position == 1
    assert queued.payload.reason == "no_agent_available"
    assert assigned.actor == Actor(kind="system", id="router")

    close = closed_by_agent(assigned.aggregate_id)
    await publish(producer, settings, close)
    then = await read_until(decisions, decision_of, lambda seen: len(seen) >= 1)
    assert [(d.aggregate_id, d.payload.outcome, d.payload.agent_id) for d in then] == [
        (queued.aggregate_id, "assigned", "alice")
    ]
    assert then[0].causation_id == close.event_id


async def test_garbage_is_dead_lettered_with_its_reason_and_routing_goes_on(
    router: RoutingWorker, settings: ParleySettings, producer: AIOKafkaProducer, decisions: AIOKafkaConsumer
) -> None:
    source = CONVERSATION_EVENTS_TOPIC.name(settings.topic_prefix)
    await producer.send_and_wait(source, key=b"conv-x", value=b"\x00not an event{")
    await agent_available(producer, settings, router.base)
    await publish(producer, settings, started("conv-after-garbage"))

    after = await read_until(decisions, decision_of, lambda seen: len(seen) >= 1)
    assert [(d.aggregate_id, d.payload.outcome) for d in after] == [("conv-after-garbage", "assigned")]

    dead = create_consumer(settings, DEAD_LETTERS.name(settings.topic_prefix), group_id=None)
    await dead.start()
    try:
        letters = await read_until(dead, json.loads, lambda seen: len(seen) >= 1)
    finally:
        await dead.stop()
    assert len(letters) == 1
    assert letters[0]["source_topic"] == source
    assert letters[0]["key"] == "conv-x"
    assert letters[0]["service"] == "routing"
    assert "not JSON" in letters[0]["reason"]


async def test_a_restarted_router_remembers_its_queue_and_does_not_decide_twice(
    router: RoutingWorker, settings: ParleySettings, producer: AIOKafkaProducer, decisions: AIOKafkaConsumer
) -> None:
    first = await two_visitors_for_one_seat(router, settings, producer, decisions)
    assigned = next(d for d in first if d.payload.outcome == "assigned")

    # The queue and the agent's load exist only in the table, so they must come back from its changelog.
    router.stop()
    router.start()
    close = closed_by_agent(assigned.aggregate_id)
    await publish(producer, settings, close)
    then = await read_until(
        decisions, decision_of, lambda seen: any(d.causation_id == close.event_id for d in seen)
    )
    assert [(d.payload.outcome, d.causation_id) for d in then] == [("assigned", close.event_id)], (
        router.log_tail()
    )


async def test_a_fact_the_router_was_told_to_skip_is_read_back_and_applied_in_order(
    router: RoutingWorker, settings: ParleySettings, producer: AIOKafkaProducer, decisions: AIOKafkaConsumer
) -> None:
    """faust can commit past messages it dropped in a rebalance; the router notices the hole and fills it."""
    await agent_available(producer, settings, router.base)
    router.stop()
    facts_topic = ROUTING_FACTS.name(settings.topic_prefix)
    first = await producer.send_and_wait(facts_topic, key=TENANT.encode(), value=serialize(started("conv-1")))
    second = await producer.send_and_wait(
        facts_topic, key=TENANT.encode(), value=serialize(started("conv-2"))
    )
    assert (second.partition, second.offset) == (first.partition, first.offset + 1)
    # What faust's bug leaves behind: the group's checkpoint already past conv-1, which was never applied.
    group = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{settings.topic_prefix}-routing",
        enable_auto_commit=False,
    )
    await group.start()
    try:
        partition = TopicPartition(facts_topic, first.partition)
        group.assign([partition])
        await group.commit({partition: second.offset})
    finally:
        await group.stop()

    router.start()
    seen = await read_until(decisions, decision_of, lambda seen: len(seen) >= 2)
    # Decisions land on each conversation's own partition, so read order says nothing; the outcome does:
    # Alice takes one chat at a time, so conv-1 got her only if it was applied first.
    outcomes = {d.aggregate_id: d.payload.outcome for d in seen}
    assert outcomes == {"conv-1": "assigned", "conv-2": "queued"}, router.log_tail()
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{router.base}/metrics")).text
    assert re.search(r"^parley_routing_fact_gaps_filled_total 1$", metrics, re.MULTILINE), metrics
