"""The projections' view writer on the real MongoDB-wire server: a batch costs writes only, a document
someone else changed is re-read instead of overwritten, and a write the server rejects is not mistaken
for a race (which the consumer would retry forever, stalling its partition)."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.consumer import ConcurrentUpdate
from shared.events import EventBase, RecordedEvent
from shared.events.conversation import TagAdded
from shared.events.envelope import Actor
from shared.mongo import Document
from shared.views import View, ViewStore, apply_fold

pytestmark = pytest.mark.integration
AGENT = Actor(kind="agent", id="ann")


def count_tags(view: View | None, event: EventBase, position: int) -> View:
    assert isinstance(event, TagAdded)
    base: View = view or {"_id": event.aggregate_id, "tags": []}
    return {**base, "tags": [*base["tags"], event.payload.tag], "position": position}


def tagged(conversation_id: str, tag: str, offset: int) -> RecordedEvent:
    event = TagAdded(tenant="acme", aggregate_id=conversation_id, actor=AGENT, payload={"tag": tag})
    return RecordedEvent(event, "topic", 0, offset)


async def test_a_projection_reads_a_document_once_then_only_writes_it(
    database: AsyncDatabase[Document],
) -> None:
    store = ViewStore(database["views"])
    await apply_fold(store, count_tags, [tagged("c1", "a", 0), tagged("c2", "a", 1)])
    assert store.counts.read == 2  # both new: looked up once each
    for offset in range(2, 12):
        await apply_fold(store, count_tags, [tagged("c1", f"t{offset}", offset)])
    assert (store.counts.read, store.counts.written) == (2, 12)
    doc = await database["views"].find_one({"_id": "c1"})
    assert doc is not None and doc["position"] == 11 and len(doc["tags"]) == 11
    # A redelivered event is recognised from memory too: nothing is written.
    assert await apply_fold(store, count_tags, [tagged("c1", "t5", 5)]) == 0


async def test_a_document_changed_by_another_writer_is_read_again_not_overwritten(
    database: AsyncDatabase[Document],
) -> None:
    mine, theirs = ViewStore(database["views"]), ViewStore(database["views"])
    await apply_fold(mine, count_tags, [tagged("c1", "a", 0)])
    # A second instance (say, after a rebalance) applies the next event meanwhile.
    await apply_fold(theirs, count_tags, [tagged("c1", "b", 1)])
    with pytest.raises(ConcurrentUpdate):
        await apply_fold(mine, count_tags, [tagged("c1", "b", 1), tagged("c1", "c", 2)])
    # The consumer retries the batch: now from what the database holds, so "b" is applied once.
    await apply_fold(mine, count_tags, [tagged("c1", "b", 1), tagged("c1", "c", 2)])
    doc = await database["views"].find_one({"_id": "c1"})
    assert doc is not None and doc["tags"] == ["a", "b", "c"]


async def test_a_batch_of_many_documents_written_side_by_side_still_loses_no_race(
    database: AsyncDatabase[Document],
) -> None:
    """A batch of 35 documents goes in four chunks, two at a time: one stale document in the last chunk
    still fails the batch, and the retry applies every event exactly once."""
    ids = [f"c{n:02d}" for n in range(35)]
    mine, theirs = ViewStore(database["views"]), ViewStore(database["views"])
    await apply_fold(mine, count_tags, [tagged(doc_id, "a", n) for n, doc_id in enumerate(ids)])
    batch = [tagged(doc_id, "b", 100 + n) for n, doc_id in enumerate(ids)]
    await apply_fold(theirs, count_tags, batch[-1:])  # a second instance applied the last event meanwhile
    with pytest.raises(ConcurrentUpdate):
        await apply_fold(mine, count_tags, batch)
    await apply_fold(mine, count_tags, batch)  # the consumer's retry: what landed is skipped by position
    docs = await database["views"].find().sort("_id", 1).to_list()
    assert [doc["tags"] for doc in docs] == [["a", "b"]] * 35


async def test_a_write_the_server_rejects_is_an_error_of_its_own_not_a_race(
    database: AsyncDatabase[Document],
) -> None:
    store = ViewStore(database["views"])
    await apply_fold(store, count_tags, [tagged("c1", "a", 0)])

    def renaming(view: View | None, event: EventBase, position: int) -> View:
        return {**count_tags(view, event, position), "_id": "c1-renamed"}  # `_id` is immutable

    # MongoDB answers with an ImmutableField write error; FerretDB 1.24 with a reply PyMongo cannot read
    # (KeyError). Either way the consumer must see a failure of the event, not a lost race.
    with pytest.raises(Exception) as raised:
        await apply_fold(store, renaming, [tagged("c1", "b", 1)])
    assert not isinstance(raised.value, ConcurrentUpdate)
    # Nothing half-remembered: the next event applies on top of what the database really holds.
    await apply_fold(store, count_tags, [tagged("c1", "c", 2)])
    doc: dict[str, Any] | None = await database["views"].find_one({"_id": "c1"})
    assert doc is not None and doc["tags"] == ["a", "c"]
