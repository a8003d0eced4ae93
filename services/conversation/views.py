"""The conversation service's MongoDB adapter: which fold feeds which collection."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.conversation.domain import (
    apply_agent,
    apply_canned_response,
    apply_conversation,
    apply_credentials,
    apply_department,
)
from shared.consumer import DocumentCounts
from shared.events import RecordedEvent
from shared.mongo import Document
from shared.replay import ProjectionSpec
from shared.settings import ParleySettings
from shared.topics import (
    AGENT_CREDENTIALS,
    AGENT_EVENTS_TOPIC,
    CANNED_RESPONSES,
    CONVERSATION_EVENTS_TOPIC,
    DEPARTMENTS,
)
from shared.views import Fold, ViewStore, apply_fold

TOPICS = (CONVERSATION_EVENTS_TOPIC, AGENT_EVENTS_TOPIC, AGENT_CREDENTIALS, CANNED_RESPONSES, DEPARTMENTS)

# view collection name -> (source topic, fold)
VIEWS: dict[str, tuple[str, Fold]] = {
    "conversations": (CONVERSATION_EVENTS_TOPIC.suffix, apply_conversation),
    "agents": (AGENT_EVENTS_TOPIC.suffix, apply_agent),
    "agent_credentials": (AGENT_CREDENTIALS.suffix, apply_credentials),
    "canned_responses": (CANNED_RESPONSES.suffix, apply_canned_response),
    "departments": (DEPARTMENTS.suffix, apply_department),
}


class ConversationViews:
    """All views of the conversation service; `prefix` lets a replay build them into fresh collections."""

    def __init__(self, db: AsyncDatabase[Document], settings: ParleySettings, prefix: str = "") -> None:
        self.db = db
        self.prefix = prefix
        self._topic_to_view = {
            f"{settings.topic_prefix}.{suffix}": (ViewStore(db[f"{prefix}{name}"]), fold)
            for name, (suffix, fold) in VIEWS.items()
        }

    @property
    def stores(self) -> list[ViewStore]:
        return [store for store, _ in self._topic_to_view.values()]

    def collection_names(self) -> list[str]:
        return [f"{self.prefix}{name}" for name in VIEWS]

    async def ensure_indexes(self) -> None:
        conversations = self.db[f"{self.prefix}conversations"]
        await conversations.create_index(
            [("tenant", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING)]
        )
        await self.db[f"{self.prefix}agents"].create_index([("tenant", ASCENDING), ("email", ASCENDING)])
        await self.db[f"{self.prefix}agent_credentials"].create_index([("email", ASCENDING)])
        await self.db[f"{self.prefix}agent_credentials"].create_index([("tenant", ASCENDING)])
        await self.db[f"{self.prefix}agent_credentials"].create_index([("link_token_hash", ASCENDING)])
        await self.db[f"{self.prefix}canned_responses"].create_index(
            [("tenant", ASCENDING), ("deleted", ASCENDING), ("shortcut", ASCENDING)]
        )
        await self.db[f"{self.prefix}departments"].create_index([("tenant", ASCENDING), ("name", ASCENDING)])

    def document_counts(self) -> DocumentCounts:
        return DocumentCounts(
            read=sum(store.counts.read for store in self.stores),
            written=sum(store.counts.written for store in self.stores),
        )

    def forget_cached(self) -> None:
        for store in self.stores:
            store.forget()

    async def handle_batch(self, events: Sequence[RecordedEvent]) -> None:
        by_topic: dict[str, list[RecordedEvent]] = defaultdict(list)
        for recorded in events:
            by_topic[recorded.topic].append(recorded)
        for topic, topic_events in by_topic.items():
            store, fold = self._topic_to_view[topic]
            await apply_fold(store, fold, topic_events)


CONVERSATION_PROJECTION = ProjectionSpec(
    name="conversation",
    topics=TOPICS,
    open_views=lambda db, settings, prefix: ConversationViews(db, settings, prefix=prefix),
)
