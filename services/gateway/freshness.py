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


class ViewBehind(ApiError):
    """The view has not applied the named positions within the wait: ask again after `retry_after`."""

    status_code = 503
    code = "view_behind"

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


async def applied_positions(
    collection: AsyncCollection[dict[str, Any]], tenant: str, ids: Sequence[str]
) -> dict[str, int]:
    """The position each named document of the tenant has applied: one `_id` lookup each rather than
    `$in`, which FerretDB does not send down to PostgreSQL's index. `$in` scanned the whole view on every
    poll of every waiting read: with a dozen reads waiting, the scans starved the projections they waited
    for (bench at 50 msg/s: views 26 s behind instead of 1 s)."""
    found = await asyncio.gather(
        *(collection.find_one({"_id": doc, "tenant": tenant}, {"position": 1}) for doc in dict.fromkeys(ids))
    )
    return {doc["_id"]: doc["position"] for doc in found if doc is not None}


async def wait_for_view(
    collection: AsyncCollection[dict[str, Any]],
    tenant: str,
    wanted: Mapping[str, int],
    *,
    timeout: float,
    poll: float,
    retry_after: int,
) -> None:
    """Returns once every wanted position is applied; raises ViewBehind after `timeout` seconds."""
    if not wanted:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        missing = unreached(wanted, await applied_positions(collection, tenant, list(wanted)))
        if not missing:
            return
        if loop.time() + poll > deadline:
            raise ViewBehind(missing, retry_after=retry_after)
        await asyncio.sleep(poll)
