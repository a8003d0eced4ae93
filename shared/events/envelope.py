"""The envelope every Parley event travels in.

The `type` string is stable and never derived from a class path; `schema_version` lets consumers evolve.
The aggregate id is also the Kafka key, so one aggregate's events share a partition and the partition
offset is their total order (consumers call it `position`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def new_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> datetime:
    return datetime.now(UTC)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Actor(Strict):
    """Who caused the event."""

    kind: Literal["visitor", "agent", "system"]
    id: str = Field(min_length=1, max_length=200)


SYSTEM = Actor(kind="system", id="parley")


class EventBase(Strict):
    """Fields common to every event; subclasses pin `type`, `schema_version` and `payload`."""

    type: str
    schema_version: int = 1
    event_id: str = Field(default_factory=new_id)
    occurred_at: datetime = Field(default_factory=utc_now)
    tenant: str = Field(min_length=1, max_length=100)
    aggregate_id: str = Field(
        min_length=1, max_length=100, description="Conversation or agent id; the Kafka key."
    )
    actor: Actor
    correlation_id: str | None = Field(default=None, description="The request or flow this event belongs to.")
    causation_id: str | None = Field(default=None, description="The event that caused this one, if any.")
    payload: Any

    def caused(self, **fields: Any) -> dict[str, Any]:
        """Envelope fields for an event this one causes: same tenant and correlation, causation = this event."""
        return {
            "tenant": self.tenant,
            "correlation_id": self.correlation_id or self.event_id,
            "causation_id": self.event_id,
            **fields,
        }
