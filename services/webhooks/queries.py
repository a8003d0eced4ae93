"""Read side of the webhook views, for the gateway. Secrets never leave these functions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from shared.mongo import Document

SECRET_FIELDS = ("secret", "previous_secret")
MAX_DELIVERIES = 200


def _without_secrets(doc: Document) -> Document:
    return {key: value for key, value in doc.items() if key not in SECRET_FIELDS}


async def list_endpoints(*, endpoints: AsyncCollection[Document], tenant: str) -> list[Document]:
    docs = await endpoints.find({"tenant": tenant}).to_list()
    return sorted((_without_secrets(doc) for doc in docs), key=lambda doc: doc["created_at"])


async def get_endpoint(
    *, endpoints: AsyncCollection[Document], tenant: str, endpoint_id: str
) -> Document | None:
    doc = await endpoints.find_one({"_id": endpoint_id, "tenant": tenant})
    return None if doc is None else _without_secrets(doc)


async def list_deliveries(
    *,
    deliveries: AsyncCollection[Document],
    tenant: str,
    endpoint_id: str,
    outcome: str | None = None,
    before: datetime | None = None,
    limit: int = 50,
) -> list[Document]:
    """The endpoint's delivery log, newest first; `outcome="dead_lettered"` lists the given-up deliveries."""
    query: dict[str, Any] = {"endpoint_id": endpoint_id, "tenant": tenant}
    if outcome is not None:
        query["outcome"] = outcome
    if before is not None:
        query["at"] = {"$lt": before}
    cursor = deliveries.find(query).sort("at", DESCENDING).limit(max(1, min(limit, MAX_DELIVERIES)))
    return await cursor.to_list()
