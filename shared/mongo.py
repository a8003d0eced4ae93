"""MongoDB client factory (PyMongo's async API; Motor reached end of life in May 2026).

Parley keeps to the operations FerretDB also supports (see tests/integration/test_mongodb_contract.py),
so the same code runs on FerretDB locally and on MongoDB in production.
"""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.settings import ParleySettings

Document = dict[str, Any]


def create_mongo_client(settings: ParleySettings) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        settings.mongodb_uri,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
        appname=f"parley-{settings.service_name}",
        tz_aware=True,
    )


def get_database(client: AsyncMongoClient[Document], settings: ParleySettings) -> AsyncDatabase[Document]:
    return client[settings.mongodb_database]
