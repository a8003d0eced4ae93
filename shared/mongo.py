"""MongoDB client factory (PyMongo's async API; Motor reached end of life in May 2026).

Parley keeps to the operations FerretDB also supports (see tests/integration/test_mongodb_contract.py),
so the same code runs on FerretDB locally and on MongoDB in production.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
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


# FerretDB 1.24 (SQLite) hangs on a single bulk write that updates about a hundred existing documents;
# smaller bulks are safe and barely slower. MongoDB takes them as they come.
BULK_CHUNK = 50

WriteOp = InsertOne[Document] | ReplaceOne[Document] | UpdateOne


@dataclass
class BulkCounts:
    inserted: int = 0
    matched: int = 0
    modified: int = 0
    upserted: int = 0


async def bulk_write_chunked(
    collection: AsyncCollection[Document], operations: Sequence[WriteOp], *, chunk: int = BULK_CHUNK
) -> BulkCounts:
    """Ordered bulk writes in chunks; a failure stops at its chunk, as one ordered bulk would."""
    counts = BulkCounts()
    for start in range(0, len(operations), chunk):
        result = await collection.bulk_write(list(operations[start : start + chunk]), ordered=True)
        counts.inserted += result.inserted_count
        counts.matched += result.matched_count
        counts.modified += result.modified_count
        counts.upserted += result.upserted_count
    return counts
