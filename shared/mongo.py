"""MongoDB client factory (PyMongo's async API; Motor reached end of life in May 2026).

Parley keeps to the operations FerretDB also supports (see tests/integration/test_mongodb_contract.py),
so the same code runs on FerretDB locally and on MongoDB in production.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure
from pymongo.operations import InsertOne, ReplaceOne, UpdateOne

from shared.settings import ParleySettings

Document = dict[str, Any]


def create_mongo_client(settings: ParleySettings) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        settings.mongodb_uri,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
        appname=f"parley-{settings.service_name}",
        tz_aware=True,
        # A stuck server must surface as a retryable error, never as a consumer waiting forever.
        socketTimeoutMS=settings.mongodb_socket_timeout_ms,
    )


def get_database(client: AsyncMongoClient[Document], settings: ParleySettings) -> AsyncDatabase[Document]:
    return client[settings.mongodb_database]


# FerretDB stays up when the PostgreSQL under it goes away, and reports that as a plain OperationFailure
# (InternalError) carrying the PostgreSQL driver's message; MongoDB labels a write it may retry. Either way the
# store is at fault, never the event: the projections retry these instead of dead-lettering the event.
_STORAGE_UNAVAILABLE = (
    "failed to connect to",
    "unexpected EOF",
    "connection reset by peer",
    "broken pipe",
    "conn closed",
    "SQLSTATE 57P",  # shutting down, crashed, or not yet accepting connections
    "SQLSTATE 08",  # connection exceptions
    "SQLSTATE 53300",  # too many connections
)


def storage_unavailable(exc: BaseException) -> bool:
    """An OperationFailure that says the database behind the server is unreachable, not that the write is wrong."""
    if not isinstance(exc, OperationFailure):
        return False
    if exc.has_error_label("RetryableWriteError"):
        return True
    message = str(exc)
    return any(marker in message for marker in _STORAGE_UNAVAILABLE)


# Bulk writes go in ordered chunks, because of FerretDB (the local stand-in; MongoDB takes bulks as they come).
# FerretDB 1.24 on PostgreSQL keeps one pooled database connection for every update or replace of a bulk that
# matched a document, until the whole bulk ends, and needs one more for each write: a bulk with as many matching
# writes as its pool has connections waits forever, and takes the whole server with it. infra.sh sizes that pool
# (100) for ten such writers at once. Chunks of 10 are no slower for replaces (measured: 1 to 90 per bulk, same
# rate); inserts hold nothing and gain from larger bulks (about twice the rate at 50 per bulk as at 10).
MATCHING_WRITES_PER_BULK = 10
WRITES_PER_BULK = 200

WriteOp = InsertOne[Document] | ReplaceOne[Document] | UpdateOne

# What a chunked bulk write did: the counts of PyMongo's BulkWriteResult ("inserted", "matched", "modified",
# "upserted"), added up over its chunks.
BulkCounts = Counter[str]


def bulk_chunks(
    operations: Sequence[WriteOp],
    *,
    matching: int = MATCHING_WRITES_PER_BULK,
    total: int = WRITES_PER_BULK,
) -> list[list[WriteOp]]:
    """Consecutive chunks, each with at most `matching` updates or replaces and at most `total` writes."""
    chunks: list[list[WriteOp]] = []
    current: list[WriteOp] = []
    matching_in_current = 0
    for operation in operations:
        may_match = not isinstance(operation, InsertOne)
        if current and (len(current) == total or (may_match and matching_in_current == matching)):
            chunks.append(current)
            current, matching_in_current = [], 0
        current.append(operation)
        matching_in_current += may_match
    if current:
        chunks.append(current)
    return chunks


# A projection's batch of replaces goes in chunks (above), up to this many chunks at a time. On FerretDB-on-
# PostgreSQL each replace is a transaction of its own, committed one after the other within a bulk (5 ms each
# here, a WAL flush of 1.7 ms included); a batch being written holds back every record that arrives
# meanwhile, so under a backlog the batch's write time is the projection's lag. Two chunks side by side hold
# at most 22 of FerretDB's pooled connections per writer. Side by side per chunk, not per document: a
# command costs the client about 1.2 ms of CPU, a write more in a bulk about 0.1 ms.
BULKS_SIDE_BY_SIDE = 2


async def bulk_write_side_by_side(
    collection: AsyncCollection[Document], operations: Sequence[WriteOp], *, lanes: int = BULKS_SIDE_BY_SIDE
) -> BulkCounts:
    """Writes to distinct documents, in ordered chunks, `lanes` chunks at a time. Raises the first failure once
    every chunk has ended (some may have landed), so a caller never moves on while writes are in flight."""
    side_by_side = asyncio.Semaphore(lanes)

    async def write(chunk: list[WriteOp]) -> BulkCounts:
        async with side_by_side:
            return await bulk_write_chunked(collection, chunk)

    outcomes = await asyncio.gather(
        *(write(chunk) for chunk in bulk_chunks(operations)), return_exceptions=True
    )
    counts = BulkCounts()
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        counts.update(outcome)
    return counts


async def bulk_write_chunked(
    collection: AsyncCollection[Document], operations: Sequence[WriteOp]
) -> BulkCounts:
    """Ordered bulk writes in chunks; a failure stops at its chunk, as one ordered bulk would."""
    counts = BulkCounts()
    for chunk in bulk_chunks(operations):
        result = await collection.bulk_write(chunk, ordered=True)
        counts.update(
            inserted=result.inserted_count,
            matched=result.matched_count,
            modified=result.modified_count,
            upserted=result.upserted_count,
        )
    return counts
