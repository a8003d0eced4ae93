"""Writing a folded view to MongoDB: load, fold, write back with an optimistic guard.

A view document stores the position (partition offset) of the last event it applied. Events not newer
than that are skipped, so duplicates and restarts change nothing. The write replaces a document only if
its position is still the one loaded; losing that race raises ConcurrentUpdate and the batch is retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from pymongo import InsertOne, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from shared.consumer import ConcurrentUpdate
from shared.events import EventBase, RecordedEvent
from shared.mongo import bulk_write_chunked

View = dict[str, Any]
Fold = Callable[[View | None, EventBase, int], View]
DUPLICATE_KEY = 11000


async def apply_fold(
    collection: AsyncCollection[View],
    fold: Fold,
    events: Sequence[RecordedEvent],
    *,
    key: Callable[[EventBase], str] = lambda event: event.aggregate_id,
) -> int:
    """Apply events to the documents they target in one read and one bulk write; returns documents written."""
    if not events:
        return 0
    ids = list(dict.fromkeys(key(recorded.event) for recorded in events))
    # One `_id` lookup per document, concurrently: FerretDB answers `_id` equality from its primary key but
    # scans the whole collection for `$in`, which would make every batch slower as the view grows.
    found = await asyncio.gather(*(collection.find_one({"_id": doc_id}) for doc_id in ids))
    loaded: dict[str, View] = {doc["_id"]: doc for doc in found if doc is not None}
    current: dict[str, View] = dict(loaded)
    for recorded in events:
        doc_id = key(recorded.event)
        doc = current.get(doc_id)
        if doc is not None and doc["position"] >= recorded.offset:
            continue
        current[doc_id] = fold(doc, recorded.event, recorded.offset)

    writes: list[InsertOne[View] | ReplaceOne[View]] = []
    replaces = 0
    for doc_id, doc in current.items():
        before = loaded.get(doc_id)
        if before is doc:
            continue
        if before is None:
            writes.append(InsertOne(doc))
        else:
            writes.append(ReplaceOne({"_id": doc_id, "position": before["position"]}, doc))
            replaces += 1
    if not writes:
        return 0
    try:
        result = await bulk_write_chunked(collection, writes)
    except (BulkWriteError, DuplicateKeyError) as exc:
        raise ConcurrentUpdate(f"{collection.name}: another writer inserted first") from exc
    except OperationFailure as exc:
        if exc.code == DUPLICATE_KEY:  # FerretDB reports a bulk duplicate this way
            raise ConcurrentUpdate(f"{collection.name}: another writer inserted first") from exc
        raise
    if result.matched != replaces:
        raise ConcurrentUpdate(f"{collection.name}: {replaces - result.matched} documents changed meanwhile")
    return len(writes)
