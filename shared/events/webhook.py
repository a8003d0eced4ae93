"""Events of webhook endpoints (webhook-endpoints topic, keyed by endpoint id) and of their deliveries
(webhook-deliveries topic, keyed by conversation id, in the partition of the conversation's events).

The endpoint events carry the signing secrets: the topic is restricted like agent-credentials, and the
gateway never returns a secret after the response that created it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from shared.events.envelope import EventBase, Strict

# An event type, or a wildcard over a family ("conversation.*") or everything ("*"). Wildcards never
# include internal notes: an endpoint receives those only when it names `conversation.note_added` itself.
EVENT_TYPE_PATTERN = r"^(\*|[a-z_]+\.(\*|[a-z_]+))$"
SECRET_PATTERN = r"^whsec_[A-Za-z0-9+/=]{20,200}$"


class WebhookEndpointRegisteredPayload(Strict):
    url: str = Field(min_length=8, max_length=2000, description="Where deliveries are POSTed.")
    event_types: list[str] = Field(
        min_length=1, max_length=100, description="Subscribed event types or wildcards (`conversation.*`)."
    )
    description: str = Field(default="", max_length=500)
    secret: str = Field(
        pattern=SECRET_PATTERN, description="Standard Webhooks signing secret (`whsec_` + base64)."
    )


class WebhookEndpointRegistered(EventBase):
    """A supervisor registered a webhook endpoint; it starts enabled with the events from now on."""

    type: Literal["webhook.endpoint_registered"] = "webhook.endpoint_registered"
    payload: WebhookEndpointRegisteredPayload


class WebhookEndpointUpdatedPayload(Strict):
    url: str | None = Field(default=None, min_length=8, max_length=2000)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = Field(
        default=None, description="true re-enables a disabled endpoint: deliveries resume where they stopped."
    )


class WebhookEndpointUpdated(EventBase):
    """A supervisor changed an endpoint; fields left null keep their value."""

    type: Literal["webhook.endpoint_updated"] = "webhook.endpoint_updated"
    payload: WebhookEndpointUpdatedPayload


class WebhookSecretRotatedPayload(Strict):
    secret: str = Field(pattern=SECRET_PATTERN)
    previous_secret_valid_until: datetime = Field(
        description="Until then deliveries carry a signature with the previous secret too."
    )


class WebhookSecretRotated(EventBase):
    """A new signing secret; both are used for signatures for a while, so receivers can switch over."""

    type: Literal["webhook.secret_rotated"] = "webhook.secret_rotated"
    payload: WebhookSecretRotatedPayload


class WebhookEndpointDisabledPayload(Strict):
    reason: str = Field(min_length=1, max_length=500)
    consecutive_failures: int = Field(ge=0)


class WebhookEndpointDisabled(EventBase):
    """Written only by the webhooks service: the endpoint kept failing (or answered 410 Gone).

    Its deliveries wait, in order, until a supervisor enables it again."""

    type: Literal["webhook.endpoint_disabled"] = "webhook.endpoint_disabled"
    payload: WebhookEndpointDisabledPayload


class WebhookRedeliveryRequestedPayload(Strict):
    since: datetime | None = Field(
        default=None, description="Replay: every subscribed event from this time on is delivered again."
    )
    source_partition: int | None = Field(default=None, ge=0, description="Send again: this one event.")
    source_offset: int | None = Field(default=None, ge=0)


class WebhookRedeliveryRequested(EventBase):
    """A supervisor asked to send events again: one (`source_partition` and `source_offset`) or all since a time.

    They go out with the same `webhook-id` (the event id): a receiver that drops duplicates drops them too."""

    type: Literal["webhook.redelivery_requested"] = "webhook.redelivery_requested"
    payload: WebhookRedeliveryRequestedPayload


class WebhookDeliveryScheduledPayload(Strict):
    endpoint_id: str = Field(min_length=1, max_length=100)
    event: dict[str, Any] = Field(description="The Parley event to deliver, as on its topic.")
    source_partition: int = Field(ge=0)
    source_offset: int = Field(ge=0, description="The event's position: deliveries of a key go in its order.")
    attempt: int = Field(ge=1, description="The number of the attempt this schedules.")
    due_at: datetime | None = Field(
        description="When to attempt; null: waits behind an earlier delivery of the same conversation."
    )


class WebhookDeliveryScheduled(EventBase):
    """Written only by the webhooks service: a delivery waits (a retry, or behind an earlier one).

    Pending deliveries live here, not in memory: a restarted service reads them back."""

    type: Literal["webhook.delivery_scheduled"] = "webhook.delivery_scheduled"
    payload: WebhookDeliveryScheduledPayload


DeliveryOutcome = Literal["delivered", "retrying", "dead_lettered"]


class WebhookDeliveryAttemptedPayload(Strict):
    endpoint_id: str = Field(min_length=1, max_length=100)
    event_id: str
    event_type: str
    attempt: int = Field(ge=1)
    source_partition: int | None = Field(
        default=None, ge=0, description="Where the event is: to send it again."
    )
    source_offset: int | None = Field(default=None, ge=0)
    status_code: int | None = Field(default=None, description="null: no HTTP answer (refused, timed out).")
    latency_ms: float = Field(ge=0)
    response_excerpt: str = Field(default="", max_length=1000)
    error: str | None = Field(default=None, max_length=500)
    outcome: DeliveryOutcome
    next_attempt_at: datetime | None = None


class WebhookDeliveryAttempted(EventBase):
    """Written only by the webhooks service: one HTTP attempt and what follows it.

    `dead_lettered`: the last attempt failed (or the endpoint answered 410); the delivery is given up."""

    type: Literal["webhook.delivery_attempted"] = "webhook.delivery_attempted"
    payload: WebhookDeliveryAttemptedPayload


WEBHOOK_ENDPOINT_EVENTS = (
    WebhookEndpointRegistered,
    WebhookEndpointUpdated,
    WebhookSecretRotated,
    WebhookEndpointDisabled,
    WebhookRedeliveryRequested,
)
WEBHOOK_DELIVERY_EVENTS = (WebhookDeliveryScheduled, WebhookDeliveryAttempted)
