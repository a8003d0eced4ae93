"""The events the router publishes: each decision and queue move as a conversation event, and its clock.

Decisions go out as conversation.assignment_decided and queue moves as conversation.queue_position_changed,
on the conversation's own partition. Both derive everything (id, time, correlation) from the fact that
caused them, so the same fact always yields byte-identical events: a decision re-sent after a crash is
recognisably the same event to every consumer.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.routing.config import RoutingSettings
from services.routing.decisions import Output, PositionChanged
from shared.events import Actor, EventBase
from shared.events import conversation as conversation_events
from shared.events import routing as routing_events

ROUTER = Actor(kind="system", id="router")
# Decision ids derive from the fact that caused them, so a decision re-sent after a crash is recognisably
# the same event to every consumer.
DECISION_IDS = uuid.UUID("6f1d5a3c-4b8e-4d2a-9c61-0b7e5f3a2d10")


def output_event(
    fact: EventBase, output: Output, index: int
) -> conversation_events.AssignmentDecided | conversation_events.QueuePositionChanged:
    """The event for the index-th output of a fact."""
    envelope: dict[str, Any] = {
        "event_id": str(uuid.uuid5(DECISION_IDS, f"{fact.event_id}/{index}")),
        # The fact's time, not the clock: replaying the same facts yields byte-identical decisions.
        "occurred_at": fact.occurred_at,
        "tenant": fact.tenant,
        "aggregate_id": output.conversation_id,
        "actor": ROUTER,
        "correlation_id": fact.correlation_id or fact.event_id,
        "causation_id": fact.event_id,
    }
    if isinstance(output, PositionChanged):
        return conversation_events.QueuePositionChanged(
            **envelope,
            payload=conversation_events.QueuePositionChangedPayload(
                department=output.department or None,
                position=output.position,
                queue_length=output.queue_length,
            ),
        )
    return conversation_events.AssignmentDecided(
        **envelope,
        payload=conversation_events.AssignmentDecidedPayload(
            outcome=output.outcome,
            agent_id=output.agent_id,
            previous_agent_id=output.previous_agent_id,
            reason=output.reason,
            queue_position=output.queue_position,
            forced=output.forced,
            over_capacity=output.over_capacity,
            department=output.department or None,
        ),
    )


def tick_fact(tenant: str, at: datetime, settings: RoutingSettings) -> routing_events.RoutingTick:
    """The router's clock for one tenant, carrying the time rules in force: a fact like any other."""
    return routing_events.RoutingTick(
        tenant=tenant,
        aggregate_id=tenant,
        actor=ROUTER,
        occurred_at=at,
        payload=routing_events.RoutingTickPayload(
            offline_grace_seconds=settings.offline_grace_seconds,
            heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds,
        ),
    )
