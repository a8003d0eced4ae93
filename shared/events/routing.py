"""The router's own events (routing-facts topic, keyed by tenant)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.events.envelope import EventBase, Strict


class RoutingTickPayload(Strict):
    offline_grace_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long an offline agent keeps their chats before they are re-routed.",
    )
    heartbeat_timeout_seconds: float = Field(
        default=60.0, gt=0, description="Presence silence after which an agent counts as offline."
    )


class RoutingTick(EventBase):
    """The router's clock (routing-facts topic, keyed by tenant): time-based rules run on it, so replay repeats them."""

    type: Literal["routing.tick"] = "routing.tick"
    payload: RoutingTickPayload


ROUTING_EVENTS = (RoutingTick,)
