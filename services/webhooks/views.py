"""MongoDB views of the webhooks service: the endpoints (with their secrets, which the gateway never
returns) and the delivery log. Both are replays of their topics: endpoint documents carry the position of
the last event applied, log lines are keyed by the attempt's event id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared.consumer import DocumentCounts
from shared.events import EventBase, RecordedEvent
from shared.events import webhook as webhook_events
from shared.mongo import Document
from shared.replay import ProjectionSpec
from shared.topics import WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS
from shared.views import View, ViewStore, apply_fold, insert_immutable

ENDPOINT_EVENTS = (
    webhook_events.WebhookEndpointRegistered,
    webhook_events.WebhookEndpointUpdated,
    webhook_events.WebhookSecretRotated,
    webhook_events.WebhookEndpointDisabled,
)


def fold_endpoint(doc: View | None, event: EventBase, position: int) -> View:
    """An endpoint document after one event. Raises for an event about an endpoint never registered."""
    at = event.occurred_at
    if isinstance(event, webhook_events.WebhookEndpointRegistered):
        payload = event.payload
        return {
            "_id": event.aggregate_id,
            "tenant": event.tenant,
            "url": payload.url,
            "event_types": list(payload.event_types),
            "description": payload.description,
            "enabled": True,
            "disabled_reason": None,
            "disabled_at": None,
            "secret": payload.secret,
            "previous_secret": None,
            "previous_secret_valid_until": None,
            "created_at": at,
            "updated_at": at,
            "position": position,
        }
    if doc is None:
        raise ValueError(f"{event.type} for endpoint {event.aggregate_id}, which was never registered")
    doc = {**doc, "updated_at": at, "position": position}
    if isinstance(event, webhook_events.WebhookEndpointUpdated):
        changes = event.payload.model_dump(exclude_none=True)
        doc.update(changes)
        if changes.get("enabled"):
            doc.update(disabled_reason=None, disabled_at=None)
    elif isinstance(event, webhook_events.WebhookSecretRotated):
        doc.update(
            previous_secret=doc["secret"],
            previous_secret_valid_until=event.payload.previous_secret_valid_until,
            secret=event.payload.secret,
        )
    elif isinstance(event, webhook_events.WebhookEndpointDisabled):
        doc.update(enabled=False, disabled_reason=event.payload.reason, disabled_at=at)
    return doc


def delivery_line(event: webhook_events.WebhookDeliveryAttempted) -> dict[str, Any]:
    payload = event.payload
    return {
        "_id": event.event_id,
        "tenant": event.tenant,
        "endpoint_id": payload.endpoint_id,
        "at": event.occurred_at,
        "conversation_id": event.aggregate_id,
        "event_id": payload.event_id,
        "event_type": payload.event_type,
        "attempt": payload.attempt,
        "source_partition": payload.source_partition,
        "source_offset": payload.source_offset,
        "status_code": payload.status_code,
        "latency_ms": payload.latency_ms,
        "response_excerpt": payload.response_excerpt,
        "error": payload.error,
        "outcome": payload.outcome,
        "next_attempt_at": payload.next_attempt_at,
    }


class WebhookViews:
    def __init__(self, db: AsyncDatabase[Document], *, prefix: str = "") -> None:
        self.endpoints: AsyncCollection[Document] = db[f"{prefix}webhook_endpoints"]
        self.deliveries: AsyncCollection[Document] = db[f"{prefix}webhook_deliveries"]
        self.store = ViewStore(self.endpoints)
        self.lines_written = 0

    def collection_names(self) -> list[str]:
        return [self.endpoints.name, self.deliveries.name]

    async def ensure_indexes(self) -> None:
        await self.endpoints.create_index([("tenant", ASCENDING)])
        await self.deliveries.create_index([("endpoint_id", ASCENDING), ("at", DESCENDING)])

    def document_counts(self) -> DocumentCounts:
        return DocumentCounts(
            read=self.store.counts.read, written=self.store.counts.written + self.lines_written
        )

    def forget_cached(self) -> None:
        self.store.forget()

    async def handle_batch(self, events: Sequence[RecordedEvent]) -> None:
        endpoint_events = [r for r in events if isinstance(r.event, ENDPOINT_EVENTS)]
        lines = [
            delivery_line(r.event)
            for r in events
            if isinstance(r.event, webhook_events.WebhookDeliveryAttempted)
        ]
        if endpoint_events:
            await apply_fold(self.store, fold_endpoint, endpoint_events)
        if lines:
            await self._insert_lines(lines)

    async def _insert_lines(self, lines: list[dict[str, Any]]) -> None:
        self.lines_written += len(lines)
        await insert_immutable(self.deliveries, lines)


# Its consumer group is `<prefix>-webhooks-views`: `<prefix>-webhooks` is the dispatcher's.
WEBHOOKS_PROJECTION = ProjectionSpec(
    name="webhooks-views",
    topics=[WEBHOOK_ENDPOINTS, WEBHOOK_DELIVERIES],
    open_views=lambda db, _settings, prefix: WebhookViews(db, prefix=prefix),
)
