"""Every MongoDB operation kind Parley uses, run against whatever PARLEY_MONGODB_URI names.

It passes on FerretDB (local) and on MongoDB (production); a view that needs an operation missing here
must add it here first.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.mongo import Document

pytestmark = pytest.mark.integration


async def test_upsert_with_every_update_operator_parley_uses(database: AsyncDatabase[Document]) -> None:
    views = database["conversations"]
    when = datetime(2026, 1, 1, tzinfo=UTC)
    for position in (1, 2):
        await views.update_one(
            {"_id": "c1"},
            {
                "$set": {"status": "open"},
                "$inc": {"message_count": 1},
                "$max": {"position": position},
                "$setOnInsert": {"created_at": when},
                "$addToSet": {"tags": "billing"},
            },
            upsert=True,
        )
    doc = await views.find_one({"_id": "c1"})
    assert doc is not None
    assert doc["status"] == "open"
    assert doc["message_count"] == 2
    assert doc["position"] == 2
    assert doc["created_at"] == when
    assert doc["tags"] == ["billing"]

    await views.update_one({"_id": "c1"}, {"$max": {"position": 1}, "$unset": {"status": ""}})
    doc = await views.find_one({"_id": "c1"})
    assert doc is not None and doc["position"] == 2 and "status" not in doc


async def test_guarded_update_applies_only_newer_positions(database: AsyncDatabase[Document]) -> None:
    """Projections skip stale events with a filter on the stored position; a stale one matches nothing."""
    views = database["guarded"]
    await views.insert_one({"_id": "c1", "position": 5, "status": "open"})
    stale = await views.update_one({"_id": "c1", "position": {"$lt": 3}}, {"$set": {"status": "closed"}})
    fresh = await views.update_one(
        {"_id": "c1", "position": {"$lt": 7}}, {"$set": {"status": "closed", "position": 7}}
    )
    assert stale.matched_count == 0
    assert fresh.modified_count == 1


async def test_find_one_and_update_returns_the_new_document(database: AsyncDatabase[Document]) -> None:
    counters = database["counters"]
    first = await counters.find_one_and_update(
        {"_id": "tenant-a"}, {"$inc": {"seq": 1}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    second = await counters.find_one_and_update(
        {"_id": "tenant-a"}, {"$inc": {"seq": 1}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert first is not None and first["seq"] == 1
    assert second is not None and second["seq"] == 2


async def test_bulk_upserts_insert_then_update(database: AsyncDatabase[Document]) -> None:
    messages = database["messages"]
    ops = [UpdateOne({"_id": f"m{n}"}, {"$set": {"n": n}}, upsert=True) for n in range(50)]
    result = await messages.bulk_write(ops)
    assert result.upserted_count == 50
    result = await messages.bulk_write([UpdateOne({"_id": "m1"}, {"$set": {"n": 100}}, upsert=True)])
    assert result.upserted_count == 0 and result.modified_count == 1
    assert await messages.count_documents({}) == 50


async def test_unique_index_violation_raises_duplicate_key_error(database: AsyncDatabase[Document]) -> None:
    agents = database["agents"]
    await agents.create_index([("tenant", ASCENDING), ("email", ASCENDING)], unique=True)
    await agents.insert_one({"_id": "a1", "tenant": "t", "email": "ann@example.com"})
    with pytest.raises(DuplicateKeyError):
        await agents.insert_one({"_id": "a2", "tenant": "t", "email": "ann@example.com"})
    with pytest.raises(DuplicateKeyError):
        await agents.insert_one({"_id": "a1", "tenant": "t", "email": "other@example.com"})
    await agents.insert_one({"_id": "a3", "tenant": "u", "email": "ann@example.com"})


async def test_find_with_filter_sort_skip_limit_and_count(database: AsyncDatabase[Document]) -> None:
    history = database["history"]
    await history.insert_many(
        [
            {
                "_id": f"c{n:02d}",
                "tenant": "t",
                "agent": "ann" if n % 2 else "bob",
                "closed_at": n,
                "tags": ["x"],
            }
            for n in range(20)
        ]
    )
    page = await (
        history.find({"tenant": "t", "agent": "ann", "closed_at": {"$gte": 5}})
        .sort([("closed_at", DESCENDING)])
        .skip(1)
        .limit(3)
        .to_list()
    )
    assert [doc["closed_at"] for doc in page] == [17, 15, 13]
    assert await history.count_documents({"tenant": "t", "agent": "ann", "closed_at": {"$gte": 5}}) == 8
    assert await history.count_documents({"tags": "x", "_id": {"$in": ["c01", "c02", "nope"]}}) == 2
    found = await history.find({"agent": {"$regex": "^an", "$options": "i"}}).to_list()
    assert len(found) == 10


async def test_large_bulk_updates_complete_in_chunks(database: AsyncDatabase[Document]) -> None:
    """FerretDB 1.24 hangs on one bulk write with as many matching replaces as its connection pool holds
    (100 here); Parley chunks its bulks well below that."""
    from pymongo import ReplaceOne

    from shared.mongo import bulk_write_chunked

    views = database["bulk"]
    await views.insert_many([{"_id": f"c{n}", "position": 1} for n in range(250)])
    counts = await bulk_write_chunked(
        views,
        [ReplaceOne({"_id": f"c{n}", "position": 1}, {"_id": f"c{n}", "position": 2}) for n in range(250)],
    )
    assert counts.matched == 250
    assert await views.count_documents({"position": 2}) == 250
