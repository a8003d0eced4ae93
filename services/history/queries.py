"""Read side of the history views, for the gateway (which reads views but never writes them).

Every function takes its collections, so the gateway decides which database and prefix it reads.
Visibility and tenancy are filters in the queries themselves, never post-filtering in the caller.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from services.history.domain import Doc, build_report
from shared.mongo import Document

MAX_MESSAGES = 500
MAX_PAGE_SIZE = 100


async def list_messages(
    *,
    messages: AsyncCollection[Document],
    conversation_id: str,
    include_internal: bool,
    after_position: int | None = None,
    limit: int = 100,
    tenant: str | None = None,
) -> list[Doc]:
    """Transcript lines in order. Visitor-facing callers pass include_internal=False; pass `tenant` to
    make a conversation id from another tenant return nothing."""
    query: dict[str, Any] = {"conversation_id": conversation_id}
    if tenant is not None:
        query["tenant"] = tenant
    if not include_internal:
        query["internal"] = False
    if after_position is not None:
        query["position"] = {"$gt": after_position}
    cursor = messages.find(query).sort("position", ASCENDING).limit(max(1, min(limit, MAX_MESSAGES)))
    return await cursor.to_list()


def _contains(text: str) -> dict[str, str]:
    return {"$regex": re.escape(text), "$options": "i"}


async def search_closed(
    *,
    conversations: AsyncCollection[Document],
    messages: AsyncCollection[Document],
    tenant: str,
    text: str | None = None,
    tag: str | None = None,
    agent_id: str | None = None,
    closed_from: datetime | None = None,
    closed_to: datetime | None = None,
    page: int = 1,
    page_size: int = 20,
) -> Doc:
    """Closed conversations, newest closed first. `text` matches visitor name or email, a tag, or any
    transcript text including internal notes (agents search their own notes); closed_from is inclusive,
    closed_to exclusive."""
    page = max(page, 1)
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    query: dict[str, Any] = {"tenant": tenant, "status": "closed"}
    if tag:
        query["tags"] = tag
    if agent_id:
        query["agent_ids"] = agent_id
    closed_at: dict[str, datetime] = {}
    if closed_from is not None:
        closed_at["$gte"] = closed_from
    if closed_to is not None:
        closed_at["$lt"] = closed_to
    if closed_at:
        query["closed_at"] = closed_at
    if text and text.strip():
        pattern = _contains(text.strip())
        # No $lookup on FerretDB: find the conversations whose transcript matches first, then filter by id.
        hits = messages.find({"tenant": tenant, "text": pattern}, {"conversation_id": 1})
        matching_ids = sorted({line["conversation_id"] async for line in hits})
        query["$or"] = [
            {"visitor.name": pattern},
            {"visitor.email": pattern},
            {"tags": pattern},
            {"_id": {"$in": matching_ids}},
        ]
    total = await conversations.count_documents(query)
    cursor = (
        conversations.find(query)
        .sort([("closed_at", DESCENDING), ("_id", ASCENDING)])
        .skip((page - 1) * page_size)
        .limit(page_size)
    )
    return {"items": await cursor.to_list(), "total": total, "page": page, "page_size": page_size}


async def report(
    *, conversations: AsyncCollection[Document], tenant: str, since: datetime, until: datetime
) -> Doc:
    """Figures for visitor conversations closed in [since, until): totals, per UTC day, agent and tag.
    Agent-to-agent (direct) conversations are not support work and are left out."""
    query = {
        "tenant": tenant,
        "kind": "visitor",
        "status": "closed",
        "closed_at": {"$gte": since, "$lt": until},
    }
    summaries = await conversations.find(query).to_list()
    return build_report(summaries, since=since, until=until)
