"""What Parley's storage adapters rely on from the MongoDB-wire server PARLEY_MONGODB_URI names: FerretDB
on PostgreSQL locally, MongoDB in production. Every write under test goes through Parley's own adapters.

Views are written by `shared.views.ViewStore` alone: it loads documents by `_id`, inserts the new ones and
replaces the others guarded by the position it loaded, in ordered chunks (`shared.mongo.bulk_write_chunked`).
The consumer retries a batch that raised ConcurrentUpdate, retries one the storage was unavailable for,
and dead-letters the event behind any other error. So the server must let the store tell those apart:
another writer first (a duplicate key, a guard that no longer matches) from a write it rejects.
A new way of writing to the server gets its case here first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import InsertOne, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared.consumer import ConcurrentUpdate
from shared.mongo import (
    MATCHING_WRITES_PER_BULK,
    WRITES_PER_BULK,
    Document,
    WriteOp,
    bulk_chunks,
    bulk_write_chunked,
    storage_unavailable,
)
from shared.views import View, ViewStore

pytestmark = pytest.mark.integration
WHEN = datetime(2026, 3, 4, 5, 6, 7, 891_234, tzinfo=UTC)


def view(doc_id: str, position: int, **fields: Any) -> View:
    return {"_id": doc_id, "tenant": "acme", "position": position, **fields}


async def stored(collection: AsyncCollection[Document]) -> dict[str, int]:
    """Each document's position, as the server holds it."""
    return {doc["_id"]: doc["position"] async for doc in collection.find({})}


async def test_a_view_reads_back_exactly_as_the_store_keeps_it_in_memory(
    database: AsyncDatabase[Document],
) -> None:
    """The store caches what it wrote instead of reading it back, so the server must return the same
    value: datetimes to the millisecond and tz-aware, tuples as lists, empty containers and None kept."""
    writer = ViewStore(database["views"])
    doc = view(
        "c1",
        7,
        created_at=WHEN,
        participants=("ann", "bob"),
        tags=[],
        assignee_id=None,
        visitor={"name": "Vera 👋", "email": "vera@example.org", "extra": {}},
        lines=[{"kind": "message", "at": WHEN + timedelta(seconds=1)}],
        rating=4.5,
        open=True,
        offset=2**62,
    )
    assert await writer.save({}, {"c1": doc}) == 1
    cached = await writer.load(["c1"])
    assert writer.counts.read == 0  # from memory

    from_server = await ViewStore(database["views"]).load(["c1", "never-written"])
    assert from_server == cached
    assert from_server["c1"]["created_at"] == WHEN.replace(microsecond=891_000)
    assert from_server["c1"]["created_at"].utcoffset() == timedelta(0)
    assert from_server["c1"]["participants"] == ["ann", "bob"]


async def test_a_guarded_replace_lands_only_on_the_position_it_loaded(
    database: AsyncDatabase[Document],
) -> None:
    mine, theirs = ViewStore(database["views"]), ViewStore(database["views"])
    await mine.save({}, {"c1": view("c1", 1), "c2": view("c2", 1)})
    loaded = await mine.load(["c1", "c2"])

    # A replace that changes nothing still matched its guard: it is no lost race.
    assert await mine.save(loaded, {"c1": view("c1", 1), "c2": view("c2", 2)}) == 2
    loaded = await mine.load(["c1", "c2"])
    # Another writer moves c1 on meanwhile.
    theirs_loaded = await theirs.load(["c1"])
    await theirs.save(theirs_loaded, {"c1": view("c1", 5, by="theirs")})

    with pytest.raises(ConcurrentUpdate):
        await mine.save(loaded, {"c1": view("c1", 3), "c2": view("c2", 3)})
    # c1 keeps the other writer's document; c2, whose guard held, may have landed (its event is skipped
    # by position on the retry). The retry reads the server again, not the store's memory.
    assert (await stored(database["views"]))["c1"] == 5
    reloaded = await mine.load(["c1", "c2"])
    assert mine.counts.read == 2 and reloaded["c1"]["by"] == "theirs"


async def test_an_insert_another_writer_beat_is_a_concurrent_update(
    database: AsyncDatabase[Document],
) -> None:
    mine, theirs = ViewStore(database["views"]), ViewStore(database["views"])
    assert await mine.load(["c1"]) == {}  # new to me
    await theirs.save({}, {"c1": view("c1", 4, by="theirs")})
    with pytest.raises(ConcurrentUpdate):
        await mine.save({}, {"c1": view("c1", 3)})
    assert (await mine.load(["c1"]))["c1"]["by"] == "theirs"


async def test_a_duplicate_key_after_the_first_chunk_is_still_a_concurrent_update(
    database: AsyncDatabase[Document],
) -> None:
    """A batch spans several bulks; the server reports a duplicate key in a later one in its own way
    (MongoDB a write error, FerretDB a write error or a plain failure), and the store must still see a race."""
    mine, theirs = ViewStore(database["views"]), ViewStore(database["views"])
    ids = [f"c{n:02d}" for n in range(MATCHING_WRITES_PER_BULK + 5)]
    await mine.save({}, {doc_id: view(doc_id, 1) for doc_id in ids})
    loaded = await mine.load(ids)
    await theirs.save({}, {"late": view("late", 9)})
    # More guarded replaces than one chunk takes, then the insert: it falls in the second chunk.
    changed = {doc_id: view(doc_id, 2) for doc_id in ids} | {"late": view("late", 2)}
    with pytest.raises(ConcurrentUpdate):
        await mine.save(loaded, changed)
    assert (await stored(database["views"]))["late"] == 9


async def test_a_write_the_server_rejects_is_neither_a_race_nor_an_outage(
    database: AsyncDatabase[Document],
) -> None:
    """Mistaken for a race or for storage being away, the consumer would retry the batch forever and
    stall its partition; it must dead-letter the event instead."""
    store = ViewStore(database["views"])
    await store.save({}, {"c1": view("c1", 1)})
    loaded = await store.load(["c1"])
    # `_id` is immutable: MongoDB answers with an ImmutableField write error, FerretDB 1.24 with a reply
    # PyMongo cannot read (KeyError). Either is an error of its own.
    with pytest.raises(Exception) as raised:
        await store.save(loaded, {"c1": {**view("c1", 2), "_id": "c1-renamed"}})
    assert not isinstance(raised.value, ConcurrentUpdate)
    assert not storage_unavailable(raised.value)
    assert await stored(database["views"]) == {"c1": 1}
    # The store forgot what it held, so the next batch starts from what the server has.
    assert (await store.load(["c1"]))["c1"]["position"] == 1 and store.counts.read == 1


async def test_bulks_far_larger_than_the_servers_pool_complete_in_chunks_with_exact_counts(
    database: AsyncDatabase[Document],
) -> None:
    """FerretDB 1.24 hangs on one bulk with as many matching replaces as its connection pool holds (100
    locally); the chunks keep well below that, and their counts add up to the whole bulk's."""
    views = database["bulk"]
    await bulk_write_chunked(views, [InsertOne(view(f"c{n}", 1)) for n in range(450)])
    writes: list[WriteOp] = [
        ReplaceOne({"_id": f"c{n}", "position": 1}, view(f"c{n}", 2)) for n in range(250)
    ]
    writes += [ReplaceOne({"_id": "c0", "position": 1}, view("c0", 3))]  # its guard no longer holds
    writes += [InsertOne(view(f"new{n}", 1)) for n in range(50)]
    counts = await bulk_write_chunked(views, writes)
    assert counts == {"inserted": 50, "matched": 250, "modified": 250, "upserted": 0}
    positions = await stored(views)
    assert len(positions) == 500 and sum(p == 2 for p in positions.values()) == 250


async def test_a_failing_chunk_is_the_last_one_sent(database: AsyncDatabase[Document]) -> None:
    """The chunks before the failing one landed whole, the failing write did not, and no later chunk was
    sent. Within the failing chunk the servers differ: MongoDB stops at the failing write, FerretDB 1.24
    goes on with its next internal batch of 100 inserts. So after any failure the store assumes nothing
    about what landed and reads the server again (see the cases above)."""
    views = database["bulk"]
    await views.insert_one(view("taken", 7))
    first: list[WriteOp] = [InsertOne(view(f"a{n}", 1)) for n in range(WRITES_PER_BULK)]
    second: list[WriteOp] = [InsertOne(view("b0", 1)), InsertOne(view("taken", 1))]
    second += [InsertOne(view(f"b{n}", 1)) for n in range(1, WRITES_PER_BULK - 1)]
    third: list[WriteOp] = [InsertOne(view("c0", 1))]
    assert bulk_chunks(first + second + third) == [first, second, third]
    with pytest.raises(Exception) as raised:
        await bulk_write_chunked(views, first + second + third)
    assert not storage_unavailable(raised.value)
    positions = await stored(views)
    assert {f"a{n}" for n in range(WRITES_PER_BULK)} | {"b0"} <= set(positions)
    assert positions["taken"] == 7 and "c0" not in positions
