"""MongoDB adapter of the history views: transcript lines and conversation summaries.

Both are keyed by natural ids (conversation id and Kafka offset), so applying an event twice is a no-op
and a replay into fresh collections (a `prefix`) builds the same documents as the live projection.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.history.domain import (
    Doc,
    apply_summary,
    day_of,
    message_line,
    place_search_terms,
    search_terms_of,
)
from shared.consumer import DocumentCounts
from shared.events import RecordedEvent
from shared.events.conversation import CONVERSATION_EVENTS
from shared.logging import get_logger
from shared.mongo import Document
from shared.replay import ProjectionSpec
from shared.topics import CONVERSATION_EVENTS_TOPIC
from shared.views import ViewStore, insert_immutable

log = get_logger(__name__)
CLOSED_DAY_UPGRADE = "summaries have closed_day"
SEARCH_TERMS_UPGRADE = "summaries have search_terms"


class HistoryViews:
    def __init__(self, db: AsyncDatabase[Document], *, prefix: str = "") -> None:
        self.messages: AsyncCollection[Document] = db[f"{prefix}history_messages"]
        self.conversations: AsyncCollection[Document] = db[f"{prefix}history_conversations"]
        self.upgrades: AsyncCollection[Document] = db[f"{prefix}history_upgrades"]
        self.summaries = ViewStore(self.conversations)
        self.lines_written = 0

    def collection_names(self) -> list[str]:
        return [c.name for c in (self.messages, self.conversations, self.upgrades)]

    async def ensure_indexes(self) -> None:
        # Served by MongoDB's indexes, and locally by the GIN twins of FerretDB's btrees (deploy/local/postgres).
        await self.messages.create_index([("conversation_id", ASCENDING), ("position", ASCENDING)])
        await self.conversations.create_index(
            [("tenant", ASCENDING), ("status", ASCENDING), ("closed_at", DESCENDING)]
        )
        # History pages and reports read one closed day at a time (services/history/queries.py).
        await self.conversations.create_index(
            [("tenant", ASCENDING), ("closed_day", ASCENDING), ("closed_at", DESCENDING)]
        )
        # Search by text: one word of the query served by the index, the others checked on what it found.
        await self.conversations.create_index([("tenant", ASCENDING), ("search_terms", ASCENDING)])
        await self._add_closed_days()
        await self._add_search_terms()

    async def _add_closed_days(self) -> None:
        """Summaries closed before `closed_day` existed get it, once, from their `closed_at`: exactly what
        the fold writes, so the view still equals a replay. Runs before the consumer starts (nothing is
        cached yet); the marker spares later starts a scan of every summary."""
        if await self.upgrades.find_one({"_id": CLOSED_DAY_UPGRADE}):
            return
        stale = self.conversations.find({"status": "closed", "closed_day": None}, {"closed_at": 1})
        async for summary in stale:
            await self.conversations.update_one(
                {"_id": summary["_id"]}, {"$set": {"closed_day": day_of(summary["closed_at"])}}
            )
        await self.upgrades.update_one({"_id": CLOSED_DAY_UPGRADE}, {"$set": {"done": True}}, upsert=True)

    async def _add_search_terms(self) -> None:
        """Summaries written before `search_terms` existed get them, once, from the transcript lines they
        applied: exactly what the fold writes (domain.search_terms_of), so the view still equals a replay."""
        if await self.upgrades.find_one({"_id": SEARCH_TERMS_UPGRADE}):
            return
        stale = self.conversations.find(
            {"open_search_terms": None}, {"visitor": 1, "status": 1, "position": 1}
        )
        async for summary in stale:
            lines = self.messages.find({"conversation_id": summary["_id"]}).sort("position", ASCENDING)
            # A line newer than its summary (a crash between the two writes) comes with its event again.
            applied = [
                line async for line in lines if line["position"] <= summary.get("position", line["position"])
            ]
            place_search_terms(summary, search_terms_of(summary, applied))
            fields = {field: summary[field] for field in ("search_terms", "open_search_terms")}
            await self.conversations.update_one({"_id": summary["_id"]}, {"$set": fields})
        await self.upgrades.update_one({"_id": SEARCH_TERMS_UPGRADE}, {"$set": {"done": True}}, upsert=True)

    def document_counts(self) -> DocumentCounts:
        counts = self.summaries.counts
        return DocumentCounts(read=counts.read, written=counts.written + self.lines_written)

    def forget_cached(self) -> None:
        self.summaries.forget()

    async def handle_batch(self, events: Sequence[RecordedEvent]) -> None:
        relevant = [r for r in events if isinstance(r.event, CONVERSATION_EVENTS)]
        if not relevant:
            return
        by_conversation: dict[str, list[RecordedEvent]] = {}
        for recorded in relevant:
            by_conversation.setdefault(recorded.event.aggregate_id, []).append(recorded)
        loaded = await self.summaries.load(list(by_conversation))

        # Fold before writing anything, so an event that cannot be applied leaves no transcript line.
        folded: dict[str, Doc] = {}
        lines: list[Doc] = []
        for conversation_id, recorded_events in by_conversation.items():
            summary = loaded.get(conversation_id)
            for recorded in sorted(recorded_events, key=lambda r: r.offset):
                summary = apply_summary(summary, recorded.event, recorded.offset)
                line = message_line(recorded.event, recorded.offset)
                if line is not None:
                    lines.append(line)
            assert summary is not None  # apply_summary raises rather than return None
            if summary is not loaded.get(conversation_id):
                folded[conversation_id] = summary

        if lines:
            await self._write_lines(lines)
        # Writes that landed before a lost race are harmless on retry: their events are skipped by position.
        await self.summaries.save(loaded, folded)

    async def _write_lines(self, lines: list[Doc]) -> None:
        self.lines_written += len(lines)
        await insert_immutable(self.messages, lines)


HISTORY_PROJECTION = ProjectionSpec(
    name="history",
    topics=[CONVERSATION_EVENTS_TOPIC],
    open_views=lambda db, _settings, prefix: HistoryViews(db, prefix=prefix),
)
