"""Events as tests write them: `build_event(ConversationClosed, **envelope, reason="resolved")`, the payload's
fields as keywords, validated by the event's own schema (a misspelt field fails the test that wrote it).

The people most tests need are here too, so every test names them the same way."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from shared.events import Actor, EventBase
from shared.events import conversation as conversation_events

E = TypeVar("E", bound=EventBase)

VISITOR = Actor(kind="visitor", id="v1")
ANN = Actor(kind="agent", id="ann")
BOB = Actor(kind="agent", id="bob")
ROUTER = Actor(kind="system", id="router")


def envelope(
    aggregate_id: str, actor: Actor, occurred_at: datetime, *, tenant: str = "acme"
) -> dict[str, Any]:
    """The envelope fields of an event (tenant acme unless told), as `build_event` and the event classes take them."""
    return {"tenant": tenant, "aggregate_id": aggregate_id, "actor": actor, "occurred_at": occurred_at}


def build_event(
    cls: type[E],
    *,
    tenant: str,
    aggregate_id: str,
    actor: Actor,
    occurred_at: datetime | None = None,
    **payload: Any,
) -> E:
    """An event of type `cls` in the given envelope (occurring now unless told), with these payload fields."""
    envelope = {"tenant": tenant, "aggregate_id": aggregate_id, "actor": actor, "payload": payload}
    return cls.model_validate(envelope if occurred_at is None else {**envelope, "occurred_at": occurred_at})


def auto_assigned(agent_id: str, **envelope_fields: Any) -> conversation_events.AssignmentDecided:
    """The router's decision that `agent_id` takes the conversation, as most chats in tests begin."""
    return build_event(
        conversation_events.AssignmentDecided,
        **envelope_fields,
        outcome="assigned",
        agent_id=agent_id,
        reason="auto",
    )
