"""The history projection against the real broker and MongoDB-wire server: events published to Kafka,
consumed by the shared consume loop (in-process, then as `python -m services.history`), read back through
the gateway's query functions, redelivered, and rebuilt by replay."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.history.config import HistorySettings
from services.history.queries import list_messages, report, search_closed
from services.history.views import HistoryViews, rebuild_views
from shared.consumer import ConsumerStats, ProjectionConsumer
from shared.events import Actor, EventBase, RecordedEvent, serialize
from shared.events.conversation import (
    AssignmentDecided,
    AssignmentDecidedPayload,
    ConversationClosed,
    ConversationClosedPayload,
    ConversationStarted,
    ConversationStartedPayload,
    MessagePosted,
    MessagePostedPayload,
    NoteAdded,
    NoteAddedPayload,
    ParticipantJoined,
    ParticipantPayload,
    RatingGiven,
    RatingGivenPayload,
    TagAdded,
    TagPayload,
    TagRemoved,
    TeammateInvited,
    VisitorInfo,
)
from shared.kafka import create_consumer, create_producer, ensure_topics
from shared.mongo import Document, create_mongo_client, get_database
from shared.settings import ParleySettings
from shared.topics import CONVERSATION_EVENTS_TOPIC
from tests.processes import REPO_ROOT, ServiceProcess, free_port

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
VISITOR = Actor(kind="visitor", id="v-vera")
ANN = Actor(kind="agent", id="ann")
BOB = Actor(kind="agent", id="bob")
ROUTER = Actor(kind="system", id="router")


def support_chat(conversation: str, start: datetime, *, visitor: str, closed: bool = True) -> list[EventBase]:
    """A realistic chat: routed to Ann, a note, tags, Bob invited and answering with a canned response."""

    def env(seconds: int, actor: Actor) -> dict[str, Any]:
        return {
            "tenant": "acme",
            "aggregate_id": conversation,
            "actor": actor,
            "occurred_at": start + timedelta(seconds=seconds),
        }

    def msg(seconds: int, actor: Actor, text: str, **extra: Any) -> MessagePosted:
        payload = MessagePostedPayload(message_id=f"{conversation}-{seconds}", text=text, **extra)
        return MessagePosted(payload=payload, **env(seconds, actor))

    events: list[EventBase] = [
        ConversationStarted(
            payload=ConversationStartedPayload(
                visitor_id="v-vera", visitor=VisitorInfo(name=visitor, email=f"{visitor.lower()}@example.com")
            ),
            **env(0, VISITOR),
        ),
        msg(2, VISITOR, "My parcel never arrived"),
        AssignmentDecided(
            payload=AssignmentDecidedPayload(outcome="assigned", agent_id="ann", reason="auto"),
            **env(3, ROUTER),
        ),
        ParticipantJoined(payload=ParticipantPayload(agent_id="ann"), **env(4, ANN)),
        msg(30, ANN, "Sorry to hear that, let me check"),
        NoteAdded(
            payload=NoteAddedPayload(note_id=f"{conversation}-n", text="Courier lost it"), **env(40, ANN)
        ),
        TagAdded(payload=TagPayload(tag="lost-parcel"), **env(41, ANN)),
        TagAdded(payload=TagPayload(tag="vip"), **env(42, ANN)),
        TagRemoved(payload=TagPayload(tag="vip"), **env(43, ANN)),
        TeammateInvited(payload=ParticipantPayload(agent_id="bob"), **env(50, ANN)),
        msg(60, BOB, "A refund is on its way", canned_response_id="refund-sent"),
    ]
    if closed:
        events += [
            ConversationClosed(payload=ConversationClosedPayload(reason="refunded"), **env(120, ANN)),
            RatingGiven(payload=RatingGivenPayload(score=5, comment="Fast"), **env(130, VISITOR)),
        ]
    return events


def scenario() -> list[EventBase]:
    events = support_chat("c-main", T0, visitor="Vera")
    for n in range(1, 5):
        events += support_chat(f"c-{n}", T0 + timedelta(hours=n), visitor=f"Visitor{n}")
    events += support_chat("c-open", T0 + timedelta(hours=6), visitor="Olga", closed=False)
    # An event for a conversation that never started: the live consumer dead-letters it.
    events.append(
        TagAdded(
            payload=TagPayload(tag="orphan"), tenant="acme", aggregate_id="c-ghost", actor=ANN, occurred_at=T0
        )
    )
    return events


async def publish(settings: ParleySettings, events: Sequence[EventBase]) -> None:
    await ensure_topics(settings)
    producer = create_producer(settings)
    await producer.start()
    try:
        topic = CONVERSATION_EVENTS_TOPIC.name(settings.topic_prefix)
        for event in events:
            await producer.send(topic, serialize(event), key=event.aggregate_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def project(
    settings: ParleySettings, views: HistoryViews, group: str, expected: int
) -> tuple[ConsumerStats, list[RecordedEvent]]:
    """Drive the shared consume loop in-process until `expected` events were applied or dead-lettered."""
    seen: list[RecordedEvent] = []

    async def recording(events: Sequence[RecordedEvent]) -> None:
        await views.handle_batch(events)
        seen.extend(events)

    consumer = create_consumer(
        settings, CONVERSATION_EVENTS_TOPIC.name(settings.topic_prefix), group_id=group
    )
    producer = create_producer(settings)
    await consumer.start()
    await producer.start()
    projection = ProjectionConsumer(settings, consumer, producer, group, recording)
    stop = asyncio.Event()
    task = asyncio.create_task(projection.run(stop))
    try:
        deadline = time.monotonic() + 60
        while projection.stats.events_applied + projection.stats.dead_letters < expected:
            assert time.monotonic() < deadline, f"projection stuck at {projection.stats}"
            assert not task.done(), task.exception()
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await task
        await consumer.stop()
        await producer.stop()
    return projection.stats, seen


async def snapshot(db: AsyncDatabase[Document], prefix: str = "") -> dict[str, list[Document]]:
    return {
        name: await db[f"{prefix}{name}"].find().sort("_id", 1).to_list()
        for name in ("history_messages", "history_conversations")
    }


def history_settings(settings: ParleySettings) -> HistorySettings:
    return HistorySettings(**{**settings.model_dump(), "service_name": "history"})


async def test_projection_queries_redelivery_and_replay(
    settings: ParleySettings, database: AsyncDatabase[Document]
) -> None:
    events = scenario()
    await publish(settings, events)
    views = HistoryViews(database)
    await views.ensure_indexes()
    stats, seen = await project(settings, views, f"{settings.topic_prefix}-history", len(events))
    assert stats.dead_letters == 1, "the event of a never-started conversation is dead-lettered"

    everything = await list_messages(
        messages=views.messages,
        conversation_id="c-main",
        include_internal=True,
        after_position=None,
        limit=100,
    )
    assert [(line["kind"], line["event_type"].split(".")[1], line["internal"]) for line in everything] == [
        ("message", "message_posted", False),
        ("activity", "assignment_decided", True),
        ("activity", "participant_joined", False),
        ("message", "message_posted", False),
        ("note", "note_added", True),
        ("activity", "tag_added", True),
        ("activity", "tag_added", True),
        ("activity", "tag_removed", True),
        ("activity", "teammate_invited", False),
        ("message", "message_posted", False),
        ("activity", "closed", False),
        ("activity", "rating_given", False),
    ]
    positions = [line["position"] for line in everything]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert everything[9]["canned_response_id"] == "refund-sent" and everything[9]["author"]["id"] == "bob"
    assert everything[2]["data"] == {"agent_id": "ann"}

    visible = await list_messages(
        messages=views.messages,
        conversation_id="c-main",
        include_internal=False,
        after_position=None,
        limit=100,
    )
    assert [line for line in everything if not line["internal"]] == visible
    assert all(line["kind"] != "note" for line in visible)
    page = await list_messages(
        messages=views.messages,
        conversation_id="c-main",
        include_internal=False,
        after_position=visible[2]["position"],
        limit=2,
    )
    assert page == visible[3:5]

    summary = await views.conversations.find_one({"_id": "c-main"})
    assert summary is not None
    assert summary["status"] == "closed" and summary["tags"] == ["lost-parcel"]
    assert summary["agent_ids"] == ["ann", "bob"] and summary["first_response_seconds"] == 30
    assert summary["resolution_seconds"] == 120 and summary["rating"] == {"score": 5, "comment": "Fast"}
    assert summary["message_count"] == 3 and summary["last_message_preview"] == "A refund is on its way"

    async def search(**filters: Any) -> dict[str, Any]:
        return await search_closed(
            conversations=views.conversations, messages=views.messages, tenant="acme", **filters
        )

    all_closed = await search(page_size=2)
    assert all_closed["total"] == 5 and len(all_closed["items"]) == 2
    assert [c["_id"] for c in all_closed["items"]] == ["c-4", "c-3"], "newest closed first"
    last = await search(page=3, page_size=2)
    assert [c["_id"] for c in last["items"]] == ["c-main"] and last["total"] == 5
    assert (await search(text="VERA@example"))["total"] == 1
    assert (await search(text="parcel never"))["total"] == 5, "message text matches"
    assert (await search(text="courier LOST"))["total"] == 5, "internal notes count for agents"
    assert (await search(text="lost-parcel", tag="lost-parcel", agent_id="bob"))["total"] == 5
    assert (await search(text="a.b*c"))["total"] == 0, "text is escaped, not a pattern"
    assert (await search(tag="vip"))["total"] == 0
    assert (await search(agent_id="carol"))["total"] == 0
    in_window = await search(closed_from=T0 + timedelta(hours=1), closed_to=T0 + timedelta(hours=3))
    assert [c["_id"] for c in in_window["items"]] == ["c-2", "c-1"]
    assert (await search_closed(conversations=views.conversations, messages=views.messages, tenant="other"))[
        "total"
    ] == 0

    figures = await report(
        conversations=views.conversations, tenant="acme", since=T0, until=T0 + timedelta(days=1)
    )
    assert figures["totals"]["conversations"] == 5 and figures["totals"]["csat_average"] == 5
    assert {row["agent_id"]: row["conversations"] for row in figures["by_agent"]} == {"ann": 5, "bob": 5}

    # Redelivery, twice over: the same RecordedEvents again, then a whole new consumer group from earliest.
    before = await snapshot(database)
    await views.handle_batch([r for r in seen if r.event.aggregate_id != "c-ghost"])
    await project(settings, views, f"{settings.topic_prefix}-history-again", len(events))
    assert await snapshot(database) == before

    applied = await rebuild_views(history_settings(settings), prefix="rebuild_", show_progress=False)
    assert applied == len(events)
    assert await snapshot(database, "rebuild_") == before


def test_service_process_and_replay_command(settings: ParleySettings, tmp_path: Path) -> None:
    port = free_port()
    env = {
        "PARLEY_PORT": str(port),
        "PARLEY_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PARLEY_MONGODB_URI": settings.mongodb_uri,
        "PARLEY_MONGODB_DATABASE": settings.mongodb_database,
        "PARLEY_TOPIC_PREFIX": settings.topic_prefix,
        "PARLEY_KAFKA_PARTITIONS": "3",
    }
    events = support_chat("c-proc", T0, visitor="Pat")
    service = ServiceProcess("services.history", env, tmp_path / "history.log")
    try:
        service.wait_http_ready(f"http://127.0.0.1:{port}/readyz")
        asyncio.run(publish(settings, events))
        deadline = time.monotonic() + 60
        while True:
            live = asyncio.run(views_of(settings, ""))
            done = live["history_conversations"]
            if done and done[0]["position"] == len(events) - 1:
                break
            assert time.monotonic() < deadline, service.log_tail()
            time.sleep(0.3)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert f'parley_events_applied_total{{service="history"}} {len(events)}' in metrics
        service.stop()

        result = subprocess.run(
            [sys.executable, "-m", "services.history", "replay", "--prefix", "rebuild_"],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr + result.stdout
        assert f"{len(events)}/{len(events)} events" in result.stderr
        assert asyncio.run(views_of(settings, "rebuild_")) == live
        assert len(live["history_messages"]) == len(events) - 1, "every event but the start is a line"
    finally:
        service.stop()
        asyncio.run(views_of(settings, "", drop=True))


async def views_of(settings: ParleySettings, prefix: str, *, drop: bool = False) -> dict[str, list[Document]]:
    """A snapshot through a client of its own: sync tests own no event loop to share the fixtures'."""
    client = create_mongo_client(settings)
    try:
        if drop:
            await client.drop_database(settings.mongodb_database)
            return {}
        return await snapshot(get_database(client, settings), prefix)
    finally:
        await client.close()
