"""Read side of the history views, for the gateway (which reads views but never writes them).

Every function takes its collections, so the gateway decides which database and prefix it reads.
Visibility and tenancy are filters in the queries themselves, never post-filtering in the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from services.history.domain import Doc, build_report, days_between, search_words
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


# Newest pages are read one UTC day at a time: an equality on `closed_day` is served by an index on
# every backend, where a range on `closed_at` or a sort is not (FerretDB fetches and sorts every match in
# Go). Days beyond this many are read in one query: a search that found too little in the recent days.
RECENT_DAYS = 14
REPORT_DAYS_AT_ONCE = 8
NEWEST_FIRST = [("closed_at", DESCENDING), ("_id", ASCENDING)]
# The lookup words stay on the server: they hold the words of internal notes.
WITHOUT_TERMS = {"search_terms": 0, "open_search_terms": 0}


def encode_cursor(summary: Doc) -> str:
    """Where the next page starts: after this summary, in newest-first order."""
    closed_at: datetime = summary["closed_at"]
    return f"{int(closed_at.timestamp() * 1000)}.{summary['_id']}"


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ValueError on anything `encode_cursor` could not have written."""
    millis, _, conversation_id = cursor.partition(".")
    if not millis.isdigit() or not conversation_id:
        raise ValueError("not a history cursor")
    try:
        return datetime.fromtimestamp(int(millis) / 1000, tz=UTC), conversation_id
    except (OverflowError, OSError):  # past the years a datetime holds
        raise ValueError("not a history cursor") from None


class ClosedSearch(BaseModel):
    """What the closed history is searched by; the gateway reads it from the query string as it is.

    `text` (`q` in the query string) matches conversations that have every word of it, whole and in any
    case: the visitor's name and email, the tags, the messages and the internal notes. `closed_from` is
    inclusive, `closed_to` exclusive; `before` is the previous page's `next`."""

    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True)

    text: str | None = Field(
        default=None,
        alias="q",
        max_length=200,
        description="Whole words of the visitor's name or email, a tag, the messages or notes",
    )
    tag: str | None = Field(default=None, max_length=50)
    agent_id: str | None = Field(default=None, max_length=100)
    # With a timezone: a naive time could be compared with neither the stored times nor the other bound.
    closed_from: AwareDatetime | None = None
    closed_to: AwareDatetime | None = None
    before: str | None = Field(
        default=None, max_length=200, description="The previous page's `next`: the page after it"
    )
    page_size: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)

    @model_validator(mode="after")
    def _answerable(self) -> ClosedSearch:
        if self.closed_from and self.closed_to and self.closed_from > self.closed_to:
            raise ValueError("closed_from must be before closed_to")
        if self.before is not None:
            try:
                decode_cursor(self.before)
            except ValueError:
                raise ValueError("before must be the `next` of a previous page") from None
        return self


EVERYTHING_CLOSED = ClosedSearch()


async def search_closed(
    *,
    conversations: AsyncCollection[Document],
    tenant: str,
    now: datetime,
    search: ClosedSearch = EVERYTHING_CLOSED,
) -> Doc:
    """Closed conversations, newest closed first, a page at a time (see `ClosedSearch`). Internal notes
    are searched too (agents search their own notes), bounded, so a very long chat by the words it used
    first.

    There is no total: counting every match is the one cost that grows with the history."""
    query: dict[str, Any] = {"tenant": tenant, "status": "closed"}
    if search.tag:
        query["tags"] = search.tag
    if search.agent_id:
        query["agent_ids"] = search.agent_id
    conditions: list[dict[str, Any]] = []
    closed_at: dict[str, datetime] = {}
    if search.closed_from is not None:
        closed_at["$gte"] = search.closed_from
    if search.closed_to is not None:
        closed_at["$lt"] = search.closed_to
    newest = min(search.closed_to, now) if search.closed_to is not None else now
    if search.before:
        after_at, after_id = decode_cursor(search.before)
        newest = min(newest, after_at + timedelta(milliseconds=1))
        conditions.append(
            {"$or": [{"closed_at": {"$lt": after_at}}, {"closed_at": after_at, "_id": {"$gt": after_id}}]}
        )
    if closed_at:
        query["closed_at"] = closed_at
    if search.text is not None and search.text.strip():
        words = search_words(search.text)
        if not words:  # only punctuation: no word can match
            return {"items": [], "next": None, "page_size": search.page_size}
        # The longest word (likely the rarest) as an equality every backend's index serves (FerretDB sends
        # only top-level equalities down to PostgreSQL); the others are checked on what it found.
        indexed = max(words, key=len)
        query["search_terms"] = indexed
        if others := [word for word in words if word != indexed]:
            conditions.append({"search_terms": {"$all": others}})
    if conditions:
        query["$and"] = conditions

    wanted = search.page_size + 1  # one more tells whether there is a next page
    found: list[Doc] = []
    day = newest.astimezone(UTC).date()
    oldest = search.closed_from.astimezone(UTC).date() if search.closed_from is not None else None
    for _ in range(RECENT_DAYS):
        if oldest is not None and day < oldest:
            break
        cursor = conversations.find({**query, "closed_day": day.isoformat()}, WITHOUT_TERMS).sort(
            NEWEST_FIRST
        )
        found += await cursor.limit(wanted - len(found)).to_list()
        if len(found) >= wanted:
            break
        day -= timedelta(days=1)
    else:
        if oldest is None or day >= oldest:
            earlier = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
            older = {**query, "closed_at": {**closed_at, "$lt": min(earlier, closed_at.get("$lt", earlier))}}
            older_pages = conversations.find(older, WITHOUT_TERMS).sort(NEWEST_FIRST)
            found += await older_pages.limit(wanted - len(found)).to_list()
    items = found[: search.page_size]
    more = len(found) > search.page_size
    return {"items": items, "next": encode_cursor(items[-1]) if more else None, "page_size": search.page_size}


async def report(
    *,
    conversations: AsyncCollection[Document],
    tenant: str,
    since: datetime,
    until: datetime,
    departments: Mapping[str, Any] | None = None,
) -> Doc:
    """Figures for visitor conversations closed in [since, until): totals, per UTC day, agent and tag.
    Agent-to-agent (direct) conversations are not support work and are left out.

    Read one UTC day at a time (see RECENT_DAYS), so a report costs what its window holds, not what the
    whole history holds."""
    query = {"tenant": tenant, "kind": "visitor", "status": "closed"}
    days = [day.isoformat() for day in days_between(since, until)]
    summaries: list[Doc] = []
    # A few days at a time, side by side: a month's report waits for about four round trips, not 31.
    for start in range(0, len(days), REPORT_DAYS_AT_ONCE):
        found = await asyncio.gather(
            *(
                conversations.find({**query, "closed_day": day}, WITHOUT_TERMS).to_list()
                for day in days[start : start + REPORT_DAYS_AT_ONCE]
            )
        )
        summaries += [summary for day_summaries in found for summary in day_summaries]
    return build_report(summaries, since=since, until=until, departments=departments)
