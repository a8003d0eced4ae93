"""The endpoints as the webhooks service sees them: a fold of the webhook-endpoints topic. Pure."""

from __future__ import annotations

import dataclasses

from services.webhooks.domain import Endpoint
from shared.events import EventBase
from shared.events import webhook as webhook_events


class EndpointDirectory:
    def __init__(self) -> None:
        self._endpoints: dict[str, Endpoint] = {}

    def get(self, endpoint_id: str) -> Endpoint | None:
        return self._endpoints.get(endpoint_id)

    def all(self) -> list[Endpoint]:
        return list(self._endpoints.values())

    def is_enabled(self, endpoint_id: str) -> bool:
        endpoint = self._endpoints.get(endpoint_id)
        return endpoint is not None and endpoint.enabled

    def apply(self, event: EventBase) -> Endpoint | None:
        """Fold one endpoint event; returns the endpoint as it is now (None for an unknown one)."""
        endpoint_id = event.aggregate_id
        current = self._endpoints.get(endpoint_id)
        if isinstance(event, webhook_events.WebhookEndpointRegistered):
            payload = event.payload
            current = Endpoint(
                endpoint_id=endpoint_id,
                tenant=event.tenant,
                url=payload.url,
                event_types=tuple(payload.event_types),
                enabled=True,
                secret=payload.secret,
            )
        elif current is None:
            return None
        elif isinstance(event, webhook_events.WebhookEndpointUpdated):
            changes = event.payload
            current = dataclasses.replace(
                current,
                url=changes.url if changes.url is not None else current.url,
                event_types=tuple(changes.event_types)
                if changes.event_types is not None
                else current.event_types,
                enabled=changes.enabled if changes.enabled is not None else current.enabled,
            )
        elif isinstance(event, webhook_events.WebhookSecretRotated):
            current = dataclasses.replace(
                current,
                secret=event.payload.secret,
                previous_secret=current.secret,
                previous_secret_valid_until=event.payload.previous_secret_valid_until,
            )
        elif isinstance(event, webhook_events.WebhookEndpointDisabled):
            current = dataclasses.replace(current, enabled=False)
        else:
            return current
        self._endpoints[endpoint_id] = current
        return current
