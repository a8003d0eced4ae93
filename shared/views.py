"""Writing folded views to MongoDB: load, fold, write back with an optimistic guard.

A view document stores the position (partition offset) of the last event it applied. Events not newer
than that are skipped, so duplicates and restarts change nothing. The write replaces a document only if
its position is still the one loaded; losing that race raises ConcurrentUpdate and the batch is retried.

A projection owns the documents of its partitions, so what it wrote last is what the database holds: the
store keeps those documents in memory and a batch costs writes only. The guard stays the judge. A document
someone else changed meanwhile (a rebalance, a second instance) fails its guard; the store then forgets
what it held for the batch and the retry reads the database again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC
from typing import Any

import bson
from bson.codec_options import CodecOptions
from pymongo import InsertOne, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from shared.consumer import ConcurrentUpdate, DocumentCounts
from shared.events import EventBase, RecordedEvent
from shared.mongo import bulk_write_chunked, bulk_write_side_by_side

View = dict[str, Any]
Fold = Callable[[View | None, EventBase, int], View]
DUPLICATE_KEY = 11000
# Per collection and process: enough for every open conversation of a busy partition set, flat in memory.
DEFAULT_CACHED_DOCUMENTS = 20_000
# What the database gives back: datetimes to the millisecond, tz-aware, lists for tuples. A cached copy must
# be exactly what a read would return, or a fold could see a value the replay never sees.
_AS_STORED: CodecOptions[View] = CodecOptions(tz_aware=True, tzinfo=UTC)


def as_stored(doc: View) -> View:
    return bson.decode(bson.encode(doc), codec_options=_AS_STORED)


class ViewStore:
    """One view collection with the documents this process last wrote or read, most recent kept."""

    def __init__(self, collection: AsyncCollection[View], *, cached: int = DEFAULT_CACHED_DOCUMENTS) -> None:
        self.collection = collection
        self._cached = cached
        self._docs: OrderedDict[str, View] = OrderedDict()
        self.counts = DocumentCounts()

    def forget(self, ids: Iterable[str] | None = None) -> None:
        """Drop cached documents (all of them when `ids` is None): the next load reads the database."""
        if ids is None:
            self._docs.clear()
            return
        for doc_id in ids:
            self._docs.pop(doc_id, None)

    async def load(self, ids: Sequence[str]) -> dict[str, View]:
        """The current documents of `ids` that exist; one `_id` lookup for each one not cached."""
        missing = [doc_id for doc_id in ids if doc_id not in self._docs]
        # Concurrent `_id` lookups rather than one `$in`: each is an index lookup on every backend.
        found = await asyncio.gather(*(self.collection.find_one({"_id": doc_id}) for doc_id in missing))
        self.counts.read += len(missing)
        for doc in found:
            if doc is not None:
                self._remember(doc["_id"], doc)
        loaded: dict[str, View] = {}
        for doc_id in ids:
            if (doc := self._docs.get(doc_id)) is not None:
                self._docs.move_to_end(doc_id)
                loaded[doc_id] = doc
        return loaded

    async def save(self, loaded: Mapping[str, View], changed: Mapping[str, View]) -> int:
        """Insert or guarded-replace each changed document; returns the documents written.

        Raises ConcurrentUpdate when another writer got there first (a duplicate key, or a guard that no
        longer matches); any other rejection (a document too large, a validation error) propagates as is,
        so the consumer applies the batch event by event and dead-letters the culprit instead of retrying
        forever."""
        writes: list[InsertOne[View] | ReplaceOne[View]] = []
        for doc_id, doc in changed.items():
            before = loaded.get(doc_id)
            if before is None:
                writes.append(InsertOne(doc))
            else:
                writes.append(ReplaceOne({"_id": doc_id, "position": before["position"]}, doc))
        if not writes:
            return 0
        replaces = sum(isinstance(write, ReplaceOne) for write in writes)
        try:
            result = await bulk_write_side_by_side(self.collection, writes)
        except BaseException as exc:
            self.forget(changed)  # some chunks may have landed: what is cached is no longer known
            if _is_duplicate_key(exc):
                raise ConcurrentUpdate(f"{self.collection.name}: another writer inserted first") from exc
            raise
        self.counts.written += len(writes)
        if (changed_meanwhile := replaces - result["matched"]) > 0:
            self.forget(changed)
            raise ConcurrentUpdate(f"{self.collection.name}: {changed_meanwhile} documents changed meanwhile")
        for doc_id, doc in changed.items():
            self._remember(doc_id, as_stored(doc))
        return len(writes)

    def _remember(self, doc_id: str, doc: View) -> None:
        self._docs[doc_id] = doc
        self._docs.move_to_end(doc_id)
        while len(self._docs) > self._cached:
            self._docs.popitem(last=False)


def _is_duplicate_key(exc: BaseException) -> bool:
    if isinstance(exc, DuplicateKeyError):
        return True
    if isinstance(exc, BulkWriteError):
        return any(error.get("code") == DUPLICATE_KEY for error in exc.details.get("writeErrors", []))
    # FerretDB reports a bulk's first error as a plain OperationFailure.
    return isinstance(exc, OperationFailure) and exc.code == DUPLICATE_KEY


async def insert_immutable(collection: AsyncCollection[Any], lines: Sequence[dict[str, Any]]) -> None:
    """Inserts documents that never change under their natural ids (transcript lines, delivery-log
    entries). Plain inserts: on FerretDB some forty times faster than upserts. A redelivered batch hits a
    duplicate key, so it inserts one by one and keeps whatever is already there. (Upserting with
    $setOnInsert would be simpler, but FerretDB stores an empty array given that way as null, and the
    rebuilt view would then differ from the live one.)"""
    try:
        await bulk_write_chunked(collection, [InsertOne(line) for line in lines])
        return
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if not errors or any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
    except OperationFailure as exc:  # FerretDB reports a bulk's first error without BulkWriteError
        if exc.code != DUPLICATE_KEY:
            raise
    for line in lines:
        with contextlib.suppress(DuplicateKeyError):
            await collection.insert_one(line)


async def apply_fold(
    store: ViewStore,
    fold: Fold,
    events: Sequence[RecordedEvent],
    *,
    key: Callable[[EventBase], str] = lambda event: event.aggregate_id,
) -> int:
    """Apply events to the documents they target with one write per touched document; returns the number
    of documents written."""
    if not events:
        return 0
    loaded = await store.load(list(dict.fromkeys(key(recorded.event) for recorded in events)))
    current: dict[str, View] = dict(loaded)
    for recorded in events:
        doc_id = key(recorded.event)
        doc = current.get(doc_id)
        if doc is not None and doc["position"] >= recorded.offset:
            continue
        current[doc_id] = fold(doc, recorded.event, recorded.offset)
    changed = {doc_id: doc for doc_id, doc in current.items() if loaded.get(doc_id) is not doc}
    return await store.save(loaded, changed)
