"""The history projection against the real broker and MongoDB-wire server: events published to Kafka,
consumed by the shared consume loop (in-process, then as `python -m services.history`), read back through
the gateway's query functions, redelivered, and rebuilt by replay."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.history.config import HistorySettings
from services.history.queries import ClosedSearch, list_messages, report, search_closed
from services.history.views import HISTORY_PROJECTION, HistoryViews
from shared.consumer import ConsumerStats, ProjectionConsumer
from shared.events import Actor, EventBase, RecordedEvent, serialize
from shared.events import conversation as conversation_events
from shared.kafka import create_consumer, create_producer, ensure_topics
from shared.mongo import Document, create_mongo_client, get_database
from shared.replay import rebuild_views
from shared.settings import ParleySettings
from shared.topics import CONVERSATION_EVENTS_TOPIC
from tests.events import ANN, BOB, ROUTER, auto_assigned, build_event, envelope
from tests.processes import ServiceProcess, free_port, run_replay, service_env

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
VISITOR = Actor(kind="visitor", id="v-vera")


def support_chat(conversation: str, start: datetime, *, visitor: str, closed: bool = True) -> list[EventBase]:
    """A realistic chat: routed to Ann, a note, tags, Bob invited and answering with a canned response."""

    def env(seconds: int, actor: Actor) -> dict[str, Any]:
        return envelope(conversation, actor, start + timedelta(seconds=seconds))

    def msg(seconds: int, actor: Actor, text: str, **extra: Any) -> conversation_events.MessagePosted:
        return build_event(
            conversation_events.MessagePosted,
            **env(seconds, actor),
            message_id=f"{conversation}-{seconds}",
            text=text,
            **extra,
        )

    events: list[EventBase] = [
        build_event(
            conversation_events.ConversationStarted,
            **env(0, VISITOR),
            visitor_id="v-vera",
            visitor=conversation_events.VisitorInfo(name=visitor, email=f"{visitor.lower()}@example.com"),
        ),
        msg(2, VISITOR, "My parcel never arrived"),
        auto_assigned("ann", **env(3, ROUTER)),
        build_event(conversation_events.ParticipantJoined, **env(4, ANN), agent_id="ann"),
        msg(30, ANN, "Sorry to hear that, let me check"),
        build_event(
            conversation_events.NoteAdded, **env(40, ANN), note_id=f"{conversation}-n", text="Courier lost it"
        ),
        build_event(conversation_events.TagAdded, **env(41, ANN), tag="lost-parcel"),
        build_event(conversation_events.TagAdded, **env(42, ANN), tag="vip"),
        build_event(conversation_events.TagRemoved, **env(43, ANN), tag="vip"),
        build_event(conversation_events.TeammateInvited, **env(50, ANN), agent_id="bob"),
        msg(60, BOB, "A refund is on its way", canned_response_id="refund-sent"),
    ]
    if closed:
        events += [
            build_event(conversation_events.ConversationClosed, **env(120, ANN), reason="refunded"),
            build_event(conversation_events.RatingGiven, **env(130, VISITOR), score=5, comment="Fast"),
        ]
    return events


def scenario() -> list[EventBase]:
    events = support_chat("c-main", T0, visitor="Vera")
    for n in range(1, 5):
        events += support_chat(f"c-{n}", T0 + timedelta(hours=n), visitor=f"Visitor{n}")
    events += support_chat("c-open", T0 + timedelta(hours=6), visitor="Olga", closed=False)
    # An event for a conversation that never started: the live consumer dead-letters it.
    events.append(
        build_event(
            conversation_events.TagAdded,
            tenant="acme",
            aggregate_id="c-ghost",
            actor=ANN,
            occurred_at=T0,
            tag="orphan",
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

    async def transcript(
        *, internal: bool, after: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        return await list_messages(
            messages=views.messages,
            conversation_id="c-main",
            include_internal=internal,
            after_position=after,
            limit=limit,
        )

    everything = await transcript(internal=True)
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

    visible = await transcript(internal=False)
    assert [line for line in everything if not line["internal"]] == visible
    assert all(line["kind"] != "note" for line in visible)
    page = await transcript(internal=False, after=visible[2]["position"], limit=2)
    assert page == visible[3:5]

    summary = await views.conversations.find_one({"_id": "c-main"})
    assert summary is not None
    assert summary["status"] == "closed" and summary["tags"] == ["lost-parcel"]
    assert summary["agent_ids"] == ["ann", "bob"] and summary["first_response_seconds"] == 30
    assert summary["resolution_seconds"] == 120 and summary["rating"] == {"score": 5, "comment": "Fast"}
    assert summary["message_count"] == 3 and summary["last_message_preview"] == "A refund is on its way"

    async def search(**filters: Any) -> dict[str, Any]:
        return await search_closed(
            conversations=views.conversations, tenant="acme", now=NOW, search=ClosedSearch(**filters)
        )

    async def found(**filters: Any) -> list[str]:
        """Every match, page after page, as an agent clicking "Load more" would see them."""
        ids: list[str] = []
        page = await search(**filters)
        ids += [c["_id"] for c in page["items"]]
        while page["next"]:
            page = await search(before=page["next"], **filters)
            ids += [c["_id"] for c in page["items"]]
        return ids

    first = await search(page_size=2)
    assert [c["_id"] for c in first["items"]] == ["c-4", "c-3"], "newest closed first"
    second = await search(page_size=2, before=first["next"])
    assert [c["_id"] for c in second["items"]] == ["c-2", "c-1"]
    last = await search(page_size=2, before=second["next"])
    assert [c["_id"] for c in last["items"]] == ["c-main"] and last["next"] is None
    assert await found(text="VERA@example") == ["c-main"]
    assert len(await found(text="parcel never")) == 5, "message text matches"
    assert len(await found(text="courier LOST")) == 5, "internal notes count for agents"
    assert len(await found(text="lost-parcel", tag="lost-parcel", agent_id="bob")) == 5
    assert await found(text="a.b*c") == [], "text is escaped, not a pattern"
    assert await found(text="parc") == [], "whole words only"
    assert await found(tag="vip") == []
    assert await found(agent_id="carol") == []
    assert await found(closed_from=T0 + timedelta(hours=1), closed_to=T0 + timedelta(hours=3)) == [
        "c-2",
        "c-1",
    ]
    other = await search_closed(conversations=views.conversations, tenant="other", now=NOW)
    assert other == {"items": [], "next": None, "page_size": 20}

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

    applied = await rebuild_views(
        history_settings(settings), HISTORY_PROJECTION, prefix="rebuild_", show_progress=False
    )
    assert applied == len(events)
    assert await snapshot(database, "rebuild_") == before


def test_service_process_and_replay_command(settings: ParleySettings, tmp_path: Path) -> None:
    port = free_port()
    env = {**service_env(settings, port), "PARLEY_KAFKA_PARTITIONS": "3"}
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

        result = run_replay("services.history", "rebuild_", env, timeout=120)
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


async def test_history_pages_and_reports_read_day_by_day_across_a_long_history(
    database: AsyncDatabase[Document],
) -> None:
    """Three closed chats a day for 40 days, a quarter of them tagged: the newest days are read one by one,
    older ones in a single catch-all query; paging never skips nor repeats a chat, even when several close
    in the same millisecond, and a report counts exactly its window."""
    views = HistoryViews(database)
    await views.ensure_indexes()
    end = datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    recorded: list[RecordedEvent] = []
    for n in range(120):
        closed_at = end - timedelta(days=n // 3, minutes=0 if n % 3 < 2 else 7)
        chat = f"day-{n:03d}"
        env = envelope(chat, ANN, closed_at)
        started = build_event(
            conversation_events.ConversationStarted,
            **{**env, "occurred_at": closed_at - timedelta(minutes=5)},
            visitor_id=f"v-{n}",
            visitor=conversation_events.VisitorInfo(name=f"V{n}"),
        )
        chat_events: list[EventBase] = [started]
        if n % 4 == 0:
            chat_events.append(build_event(conversation_events.TagAdded, **env, tag="refund"))
        chat_events.append(build_event(conversation_events.ConversationClosed, **env))
        recorded += [
            RecordedEvent(event=e, topic="conversation", partition=0, offset=1000 * n + i)
            for i, e in enumerate(chat_events)
        ]
    await views.handle_batch(recorded)

    newest_first = sorted(range(120), key=lambda n: (n // 3, 0 if n % 3 < 2 else 1, n))
    expected = [f"day-{n:03d}" for n in newest_first]

    async def pages(**filters: Any) -> list[list[str]]:
        shown: list[list[str]] = []
        before = None
        while True:
            page = await search_closed(
                conversations=views.conversations,
                tenant="acme",
                now=end + timedelta(minutes=30),
                search=ClosedSearch(before=before, page_size=7, **filters),
            )
            shown.append([c["_id"] for c in page["items"]])
            if not (before := page["next"]):
                return shown

    everything = await pages()
    assert [chat for page in everything for chat in page] == expected
    assert all(len(page) == 7 for page in everything[:-1]), "only the last page is short"
    refunds = [chat for page in await pages(tag="refund") for chat in page]
    assert refunds == [chat for chat in expected if int(chat[4:]) % 4 == 0]

    week = await report(
        conversations=views.conversations,
        tenant="acme",
        since=end - timedelta(days=6, hours=23),
        until=end + timedelta(hours=1),
    )
    assert week["totals"]["conversations"] == 21
    assert [row["conversations"] for row in week["by_day"]] == [3] * 7


async def test_summaries_closed_before_closed_day_existed_gain_it_once_on_start(
    database: AsyncDatabase[Document],
) -> None:
    """A history written by an earlier version still shows up in day-by-day pages after an upgrade."""
    views = HistoryViews(database)
    closed_at = datetime(2026, 5, 4, 23, 59, 59, tzinfo=UTC)
    await views.conversations.insert_one(
        {"_id": "old", "tenant": "acme", "kind": "visitor", "status": "closed", "closed_at": closed_at}
    )
    await views.ensure_indexes()
    page = await search_closed(
        conversations=views.conversations,
        tenant="acme",
        now=closed_at + timedelta(hours=1),
    )
    assert [c["_id"] for c in page["items"]] == ["old"] and page["items"][0]["closed_day"] == "2026-05-04"

    # Once done, a start does not scan the summaries again.
    await views.conversations.insert_one(
        {"_id": "older", "tenant": "acme", "kind": "visitor", "status": "closed", "closed_at": closed_at}
    )
    await views.ensure_indexes()
    assert (await views.conversations.find_one({"_id": "older"}) or {}).get("closed_day") is None
