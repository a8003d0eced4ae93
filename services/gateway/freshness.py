"""Read your own writes: a read names the event positions its answer must include, and the gateway answers
once its view has applied them.

Every view document stores the position (partition offset) of the last event it applied, and every event
of one document lands in one partition, in order: the document has applied the event at position P
exactly when its stored position is at least P. A client knows such positions from the answers to its own
commands (`events[].position`) and from every pushed event, and asks `?min_position=<document id>:<P>`
(repeatable) of the view it reads; for a list it names the documents whose events it was told of. The
gateway polls the view's positions of those documents for a bounded time, then answers as usual, or with
503 `view_behind` and `Retry-After` so the client asks again instead of showing a stale answer as current.
The model is the eventsourcing library's projection `wait()`: one request per refresh, no client guesses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from services.gateway.errors import ApiError
from shared.events.conversation import MAX_POSITION

# A read names the documents pushed to it since its last answer (static/shared/fresh.js keeps the newest 100).
MAX_WANTED = 100


class ViewBehind(ApiError, status_code=503, code="view_behind"):
    """The view has not applied the named positions within the wait: ask again after `retry_after`."""

    def __init__(self, missing: Mapping[str, int], *, retry_after: int) -> None:
        super().__init__(
            "The view has not caught up with the events you named yet; ask again shortly.",
            details={"waiting_for": [f"{doc}:{position}" for doc, position in missing.items()]},
        )
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def parse_min_positions(values: Sequence[str]) -> dict[str, int]:
    """`<document id>:<position>` values -> the highest position wanted per document.

    Raises ValueError, saying which value is wrong, for anything else."""
    if len(values) > MAX_WANTED:
        raise ValueError(f"min_position names at most {MAX_WANTED} documents")
    wanted: dict[str, int] = {}
    for value in values:
        doc, sep, number = value.rpartition(":")
        if not sep or not doc or not number.isascii() or not number.isdigit() or len(doc) > 100:
            raise ValueError(f"min_position must be <document id>:<position>, not {value[:120]!r}")
        position = int(number)
        if position > MAX_POSITION:
            raise ValueError(f"min_position {value[:120]!r}: the position is out of range")
        wanted[doc] = max(position, wanted.get(doc, -1))
    return wanted


def unreached(wanted: Mapping[str, int], applied: Mapping[str, int]) -> dict[str, int]:
    """The wanted positions the view has not applied yet (a document it does not have yet has applied none)."""
    return {doc: position for doc, position in wanted.items() if applied.get(doc, -1) < position}


def foreign(wanted: Iterable[str], allowed: str) -> list[str]:
    """Documents a visitor may not wait for: any but their own conversation."""
    return [doc for doc in wanted if doc != allowed]


# Lookups one waiting read sends at once. Each holds one of the MongoDB client's connections (100 by default),
# which the chat routes' own reads need too: a read naming 100 documents must not take them all.
LOOKUPS_AT_ONCE = 8


async def applied_positions(
    collection: AsyncCollection[dict[str, Any]], tenant: str, ids: Sequence[str]
) -> dict[str, int]:
    """The position each named document of the tenant has applied: one lookup by `_id` alone per document,
    at most LOOKUPS_AT_ONCE at a time, the tenant checked on the answer.

    Measured with FerretDB 1.24's explain (tests/integration/test_query_plans.py) on one tenant's view of
    thousands of documents: `$in` and `$or` of `_id`s use only the tenant's index, then filter every document
    of the tenant in FerretDB (100 ids among 20,000: 7 s a poll); `_id` and `tenant` together AND the
    tenant's whole index entry into each lookup (100 lookups: ~350 ms); `_id` alone reads one index entry
    (~200 ms; a plan that does not grow with the tenant). `$in` used to starve the projections the reads waited for (bench at
    50 msg/s: views 26 s behind instead of 1 s)."""
    gate = asyncio.Semaphore(LOOKUPS_AT_ONCE)

    async def lookup(doc: str) -> dict[str, Any] | None:
        async with gate:
            return await collection.find_one({"_id": doc}, {"position": 1, "tenant": 1})

    found = await asyncio.gather(*(lookup(doc) for doc in dict.fromkeys(ids)))
    # Another team's document of that id never counts: it is not this tenant's view.
    return {doc["_id"]: doc["position"] for doc in found if doc is not None and doc.get("tenant") == tenant}


async def wait_for_view(
    collection: AsyncCollection[dict[str, Any]],
    tenant: str,
    wanted: Mapping[str, int],
    *,
    timeout: float,
    poll: float,
    retry_after: int,
) -> None:
    """Returns once every wanted position is applied; raises ViewBehind after `timeout` seconds.

    Each poll asks only for the documents still behind: a position a document has applied stays applied."""
    if not wanted:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    missing = dict(wanted)
    while True:
        missing = unreached(missing, await applied_positions(collection, tenant, list(missing)))
        if not missing:
            return
        if loop.time() + poll > deadline:
            raise ViewBehind(missing, retry_after=retry_after)
        await asyncio.sleep(poll)
