"""Events of canned responses (canned-responses topic, keyed by response id): the team's saved replies."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.events.envelope import EventBase, Strict


class CannedResponsePayload(Strict):
    shortcut: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="Typed after '/' in the composer."
    )
    text: str = Field(min_length=1, max_length=5000, description="May use {visitor.name} and {agent.name}.")


class CannedResponseCreated(EventBase):
    type: Literal["canned_response.created"] = "canned_response.created"
    payload: CannedResponsePayload


class CannedResponseUpdated(EventBase):
    type: Literal["canned_response.updated"] = "canned_response.updated"
    payload: CannedResponsePayload


class CannedResponseDeletedPayload(Strict):
    pass


class CannedResponseDeleted(EventBase):
    type: Literal["canned_response.deleted"] = "canned_response.deleted"
    payload: CannedResponseDeletedPayload


CANNED_RESPONSE_EVENTS = (CannedResponseCreated, CannedResponseUpdated, CannedResponseDeleted)
