"""Request bodies and the shaping of view documents into responses.

Visitor-facing responses are built field by field from an allow-list, so a field added to a view later
(or an internal note) can never leak to a visitor by accident.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from services.gateway.commands import MAX_DIRECT_PARTICIPANTS
from services.gateway.errors import refuse_nul
from shared.capacity import ChatLimit
from shared.events.agent import AgentRole, AgentStatus
from shared.events.conversation import MAX_POSITION, TAG_PATTERN, TEXT_LIMIT
from shared.events.department import BusinessHours, RoutingStrategy
from shared.events.transcript import EMAIL_PATTERN


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        return refuse_nul(data)


class StartConversation(Body):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    message: str | None = Field(
        default=None, max_length=TEXT_LIMIT, description="The visitor's first message."
    )
    page_url: HttpUrl | None = None
    locale: str | None = Field(default=None, max_length=35)
    department: str | None = Field(default=None, max_length=100)
    offline: bool = Field(
        default=False,
        description="Leave a message (the department is closed or nobody is available): needs an email and a message.",
    )

    @model_validator(mode="after")
    def _a_left_message_can_be_answered(self) -> StartConversation:
        if self.offline and not (self.email and self.message and self.message.strip()):
            raise ValueError("a left message needs an email to reply to and a message")
        return self


class PostMessage(Body):
    text: str = Field(default="", max_length=TEXT_LIMIT)
    attachment_ids: list[str] = Field(default_factory=list, max_length=10)
    canned_response_id: str | None = None


class PostNote(Body):
    text: str = Field(min_length=1, max_length=TEXT_LIMIT)


class AddTag(Body):
    tag: str = Field(
        pattern=TAG_PATTERN, description="Letters, digits, spaces and . : / + - ; up to 50 characters."
    )


class CloseConversation(Body):
    reason: str | None = Field(default=None, max_length=500)


class ChooseAgent(Body):
    agent_id: str = Field(min_length=1, max_length=100)


class MarkRead(Body):
    up_to_position: int = Field(ge=0, le=MAX_POSITION)


class Transfer(Body):
    department: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=500)


class ConfigureDepartment(Body):
    name: str = Field(min_length=1, max_length=200)
    members: list[str] = Field(default_factory=list, max_length=1000)
    strategy: RoutingStrategy = "least_busy"
    fallback: str | None = Field(default=None, max_length=100)
    default_max_chats: int | None = Field(default=None, ge=1, le=100)
    hours: BusinessHours | None = Field(
        default=None,
        description="Opening hours in a named time zone; null: the `default` department's, else always open.",
    )


class Rate(Body):
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class EmailTranscript(Body):
    email: str | None = Field(
        default=None,
        max_length=320,
        pattern=EMAIL_PATTERN,
        description="Where to send it; by default the email the visitor gave in the pre-chat form.",
    )


def transcript_email(doc: dict[str, Any]) -> dict[str, Any]:
    """One transcript email request as a response shows it (field by field: the view may grow)."""
    fields = ("request_id", "recipient", "requested_by", "requested_at", "status", "attempt", "reason")
    return {**{field: doc.get(field) for field in fields}, "next_attempt_at": doc.get("next_attempt_at")}


class Login(Body):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1000)


class UpdateProfile(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    avatar_url: HttpUrl | None = None
    max_concurrent_chats: int | None = Field(default=None, ge=1, le=100)


class InviteAgent(Body):
    name: str = Field(min_length=1, max_length=200, pattern=r"\S", description="Not blank.")
    email: str = Field(max_length=320, pattern=EMAIL_PATTERN)
    role: AgentRole = "agent"
    max_concurrent_chats: int | None = Field(
        default=None, ge=1, le=100, description="null: their department's default applies, else the team's"
    )
    departments: list[str] = Field(default_factory=list, max_length=50, description="Department ids")


class ChangeRole(Body):
    role: AgentRole


class SetChatLimit(Body):
    max_concurrent_chats: int | None = Field(
        ge=1, le=100, description="null: their department's default applies, else the team's"
    )


class SetPassword(Body):
    token: str = Field(min_length=20, max_length=200)
    password: str = Field(min_length=8, max_length=1000)


class SetStatus(Body):
    status: AgentStatus


class StartDirect(Body):
    agent_ids: list[str] = Field(min_length=1, max_length=MAX_DIRECT_PARTICIPANTS - 1)
    subject: str | None = Field(default=None, max_length=200)


class CannedResponseBody(Body):
    shortcut: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    text: str = Field(min_length=1, max_length=5000)


def public(doc: dict[str, Any], *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A view document as an agent-facing response: `_id` becomes `id`, bookkeeping fields go."""
    out = {("id" if key == "_id" else key): value for key, value in doc.items() if key not in drop}
    out.pop("position", None)
    return out


def agent_card(
    doc: dict[str, Any], open_conversations: int | None = None, limit: ChatLimit | None = None
) -> dict[str, Any]:
    card = {
        "id": doc["_id"],
        "name": doc["name"],
        "email": doc["email"],
        "role": doc["role"],
        "avatar_url": doc.get("avatar_url"),
        "status": doc["status"],
        "status_since": doc.get("status_since"),
        "max_concurrent_chats": doc["max_concurrent_chats"],
    }
    if open_conversations is not None:
        card["open_conversations"] = open_conversations
    if limit is not None:
        card["chat_limit"] = {"chats": limit.chats, "source": limit.source}
    return card


def visitor_conversation(doc: dict[str, Any], assignee: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "status": doc["status"],
        "assignment": doc["assignment"],
        "queue_position": doc.get("queue_position"),
        "offline": doc.get("offline", False),  # a left message: answered by email, not in a waiting chat
        "agent": {"name": assignee["name"], "avatar_url": assignee.get("avatar_url")} if assignee else None,
        "created_at": doc["created_at"],
        "closed_at": doc.get("closed_at"),
        "rating": doc.get("rating"),
        # How far the view has caught up (the last event position applied); see `min_position`.
        "position": doc.get("position"),
    }


def visitor_message(doc: dict[str, Any], agent_names: dict[str, str]) -> dict[str, Any] | None:
    """A transcript line as its visitor may see it; an agent is named by display name only, never id or email."""
    if doc.get("internal", True):  # default to hidden: only lines marked visitor-visible pass
        return None
    author = doc.get("author") or {}
    name = agent_names.get(author.get("id", "")) if author.get("kind") == "agent" else None
    return {
        "id": doc["_id"],
        "position": doc["position"],
        "kind": doc["kind"],
        "author": {"kind": author.get("kind"), "name": name},
        "text": doc.get("text", ""),
        "attachments": doc.get("attachments", []),
        "event_type": doc.get("event_type"),
        "created_at": doc.get("created_at"),
    }


class Appended(BaseModel):
    event_id: str
    type: str
    aggregate_id: str
    partition: int
    position: int


Page = Literal["unassigned", "assigned", "mine", "offline", "all"]


def waiting_seconds(doc: dict[str, Any], now: datetime) -> float | None:
    """How long the visitor has waited for a first answer (so far, or in total once answered)."""
    if doc.get("kind") != "visitor":
        return None
    end = doc.get("first_response_at") or doc.get("closed_at") or now
    waited: float = (end - doc["created_at"]).total_seconds()
    return max(waited, 0.0)
