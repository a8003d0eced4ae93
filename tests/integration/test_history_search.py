"""Closed-history search by text on the real MongoDB-wire server: whole words looked up in each summary's
`search_terms`, which the fold keeps bounded so the server's index accepts them, and which a history written
before they existed gains once on start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.history.queries import ClosedSearch, search_closed
from services.history.views import SEARCH_TERMS_UPGRADE, HistoryViews
from shared.events import Actor, EventBase, RecordedEvent
from shared.events import conversation as conversation_events
from shared.mongo import Document
from tests.events import envelope

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)
VISITOR = Actor(kind="visitor", id="v-kim")
ANN = Actor(kind="agent", id="ann")


def chat(
    conversation: str,
    texts: list[str],
    *,
    note: str = "Courier lost it",
    visitor: str = "Kim Lee",
    tag: str = "lost-parcel",
) -> list[RecordedEvent]:
    def env(seconds: int, actor: Actor) -> dict[str, Any]:
        return envelope(conversation, actor, T0 + timedelta(seconds=seconds))

    events: list[EventBase] = [
        conversation_events.ConversationStarted(
            payload=conversation_events.ConversationStartedPayload(
                visitor_id=VISITOR.id,
                visitor=conversation_events.VisitorInfo(
                    name=visitor, email=f"{visitor.lower().replace(' ', '.')}@example.com"
                ),
            ),
            **env(0, VISITOR),
        ),
        conversation_events.TagAdded(payload=conversation_events.TagPayload(tag=tag), **env(1, ANN)),
        conversation_events.NoteAdded(
            payload=conversation_events.NoteAddedPayload(note_id=f"{conversation}-n", text=note),
            **env(2, ANN),
        ),
    ]
    for n, text in enumerate(texts):
        author = VISITOR if n % 2 == 0 else ANN
        payload = conversation_events.MessagePostedPayload(message_id=f"{conversation}-{n}", text=text)
        events.append(conversation_events.MessagePosted(payload=payload, **env(10 + n, author)))
    events.append(
        conversation_events.ConversationClosed(
            payload=conversation_events.ConversationClosedPayload(reason="done"), **env(5000, ANN)
        )
    )
    return [RecordedEvent(event, "conversation", 0, offset) for offset, event in enumerate(events)]


async def found(views: HistoryViews, text: str) -> list[str]:
    page = await search_closed(
        conversations=views.conversations,
        tenant="acme",
        now=T0 + timedelta(days=1),
        search=ClosedSearch(text=text),
    )
    assert all("search_terms" not in item for item in page["items"]), "the terms never leave the server"
    return [item["_id"] for item in page["items"]]


async def test_search_matches_whole_words_of_names_emails_tags_messages_and_notes(
    database: AsyncDatabase[Document],
) -> None:
    views = HistoryViews(database)
    await views.ensure_indexes()
    await views.handle_batch(chat("c-kim", ["Hello, my parcel never arrived", "Let me check that for you"]))
    await views.handle_batch(
        chat("c-other", ["Where is my invoice?"], note="Sent twice", visitor="Olga Berg", tag="billing")
    )

    assert await found(views, "PARCEL never") == ["c-kim"], "every word, in any case and order"
    assert await found(views, "kim.lee@example.com") == ["c-kim"]
    assert await found(views, "lee") == ["c-kim"] and await found(views, "lost-parcel") == ["c-kim"]
    assert await found(views, "courier") == ["c-kim"], "agents search their own notes"
    assert await found(views, "parc") == [], "whole words only"
    assert await found(views, "parcel invoice") == [], "every word must match"
    assert sorted(await found(views, "my")) == ["c-kim", "c-other"]
    assert await found(views, "?!") == []


async def test_a_very_long_chat_is_projected_and_found_by_the_words_it_used_first(
    database: AsyncDatabase[Document],
) -> None:
    """The terms are indexed whole: on FerretDB-on-PostgreSQL one btree entry, which may not exceed 2,704
    bytes. Unbounded, this chat's summary could not be written at all."""
    views = HistoryViews(database)
    await views.ensure_indexes()
    texts = [f"word{n:04d}longer{n:04d} and more" for n in range(600)]
    await views.handle_batch(chat("c-long", texts))

    summary = await views.conversations.find_one({"_id": "c-long"})
    assert summary is not None and summary["status"] == "closed" and summary["message_count"] == 600
    assert summary["open_search_terms"] == [] and "word0000longer0000" in summary["search_terms"]
    assert await found(views, "word0000longer0000") == ["c-long"]
    assert await found(views, "word0599longer0599") == [], "past the bound"


async def test_summaries_written_before_search_terms_existed_gain_them_once_on_start(
    database: AsyncDatabase[Document],
) -> None:
    """A history written by an earlier version is searchable by text after an upgrade, with exactly the
    terms the fold would have written, so the view still equals a replay."""
    views = HistoryViews(database)
    await views.ensure_indexes()
    await views.handle_batch(chat("c-kim", ["Hello, my parcel never arrived", "Let me check"]))
    folded = await views.conversations.find_one({"_id": "c-kim"})
    assert folded is not None and "parcel" in folded["search_terms"]
    # As an earlier version left it: no terms, and the upgrade not done.
    unset = {"search_terms": "", "open_search_terms": ""}
    await views.conversations.update_one({"_id": "c-kim"}, {"$unset": unset})
    await views.upgrades.delete_one({"_id": SEARCH_TERMS_UPGRADE})
    assert await found(views, "parcel") == []

    restarted = HistoryViews(database)
    await restarted.ensure_indexes()
    assert await restarted.conversations.find_one({"_id": "c-kim"}) == folded
    assert await found(restarted, "parcel") == ["c-kim"]
