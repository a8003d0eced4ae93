"""A history batch redelivered after a crash that wrote part of it leaves the same lines as one clean pass."""

from __future__ import annotations

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.history.views import HistoryViews
from shared.events import RecordedEvent
from shared.events.conversation import ConversationStarted, MessagePosted
from shared.events.envelope import Actor
from shared.mongo import Document

pytestmark = pytest.mark.integration
VISITOR = Actor(kind="visitor", id="v1")


def _batch() -> list[RecordedEvent]:
    started = ConversationStarted(
        tenant="acme",
        aggregate_id="c1",
        actor=VISITOR,
        payload={"visitor_id": "v1", "visitor": {"name": "Vera"}},
    )
    messages = [
        MessagePosted(
            tenant="acme",
            aggregate_id="c1",
            actor=VISITOR,
            payload={"message_id": f"m{n}", "text": f"hi {n}"},
        )
        for n in range(120)
    ]
    return [RecordedEvent(event, "topic", 0, offset) for offset, event in enumerate([started, *messages])]


async def test_a_partly_written_batch_redelivered_equals_a_clean_pass(
    database: AsyncDatabase[Document],
) -> None:
    batch = _batch()
    clean = HistoryViews(database, prefix="clean_")
    await clean.handle_batch(batch)

    crashed = HistoryViews(database, prefix="crashed_")
    await crashed.handle_batch(batch[:40])  # what landed before the crash (offsets not committed)
    await crashed.handle_batch(batch)  # the whole batch again after the restart

    def by_id(docs: list[Document]) -> dict[str, Document]:
        return {doc["_id"]: doc for doc in docs}

    clean_lines = by_id(await clean.messages.find({}).to_list())
    crashed_lines = by_id(await crashed.messages.find({}).to_list())
    assert len(clean_lines) == 120
    assert crashed_lines == clean_lines
    assert all(line["attachments"] == [] for line in crashed_lines.values())
    assert await crashed.conversations.find_one({"_id": "c1"}) == await clean.conversations.find_one(
        {"_id": "c1"}
    )
