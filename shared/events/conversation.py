"""Events of the conversation aggregate, on the conversation-events topic keyed by conversation id."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl

from shared.events.envelope import EventBase, Strict
from shared.events.transcript import EMAIL_PATTERN, TRANSCRIPT_EVENTS

TEXT_LIMIT = 10_000
TAG_PATTERN = r"^[\w][\w .:/+-]{0,49}$"
# A position is a Kafka offset: a signed 64-bit integer, which is also the widest integer BSON stores.
MAX_POSITION = 2**63 - 1

AssignmentReason = Literal[
    "auto",  # the router picked the least busy available agent
    "joined",  # an agent joined an unassigned or queued conversation
    "manual_reassign",  # an agent or supervisor chose the assignee
    "takeover",  # the assignee left and another participant took over
    "agent_offline",  # the assignee went offline
    "agent_left",  # the assignee left and nobody else participates
    "reopened",  # a closed conversation was reopened and routed again
    "no_agent_available",  # nobody could take it: queued
    "transfer",  # moved to another department on request
]


class VisitorInfo(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=EMAIL_PATTERN)


class AttachmentRef(Strict):
    attachment_id: str
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=120)
    size: int = Field(ge=0)


class ConversationStartedPayload(Strict):
    visitor_id: str
    visitor: VisitorInfo
    page_url: HttpUrl | None = None
    user_agent: str | None = Field(default=None, max_length=500)
    locale: str | None = Field(default=None, max_length=35)
    channel: Literal["web_widget", "api"] = "web_widget"
    department: str | None = Field(default=None, max_length=100)
    offline: bool = Field(
        default=False,
        description="A message left in the widget's leave-a-message form (department closed or nobody "
        "available): the visitor is not waiting in the chat and is answered at `visitor.email`.",
    )


class ConversationStarted(EventBase):
    type: Literal["conversation.started"] = "conversation.started"
    payload: ConversationStartedPayload


class DirectConversationStartedPayload(Strict):
    participant_ids: list[str] = Field(min_length=2, max_length=20)
    subject: str | None = Field(default=None, max_length=200)


class DirectConversationStarted(EventBase):
    """An agent-to-agent conversation with no visitor; never routed, refuses attachments."""

    type: Literal["conversation.direct_started"] = "conversation.direct_started"
    payload: DirectConversationStartedPayload


class MessagePostedPayload(Strict):
    message_id: str
    text: str = Field(default="", max_length=TEXT_LIMIT, description="Emoji travel as text.")
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=10)
    canned_response_id: str | None = None


class MessagePosted(EventBase):
    type: Literal["conversation.message_posted"] = "conversation.message_posted"
    payload: MessagePostedPayload


class AttachmentUploadedPayload(AttachmentRef):
    pass


class AttachmentUploaded(EventBase):
    """A file was stored; the event carries its metadata and reference, never its bytes."""

    type: Literal["conversation.attachment_uploaded"] = "conversation.attachment_uploaded"
    payload: AttachmentUploadedPayload


class NoteAddedPayload(Strict):
    note_id: str
    text: str = Field(min_length=1, max_length=TEXT_LIMIT)


class NoteAdded(EventBase):
    """An internal note: agents only, never shown to the visitor."""

    type: Literal["conversation.note_added"] = "conversation.note_added"
    payload: NoteAddedPayload


class TagPayload(Strict):
    tag: str = Field(pattern=TAG_PATTERN)


class TagAdded(EventBase):
    type: Literal["conversation.tag_added"] = "conversation.tag_added"
    payload: TagPayload


class TagRemoved(EventBase):
    type: Literal["conversation.tag_removed"] = "conversation.tag_removed"
    payload: TagPayload


class ConversationClosedPayload(Strict):
    reason: str | None = Field(default=None, max_length=500)


class ConversationClosed(EventBase):
    type: Literal["conversation.closed"] = "conversation.closed"
    payload: ConversationClosedPayload


class ConversationReopenedPayload(Strict):
    reason: Literal["visitor_message", "agent"] = "visitor_message"


class ConversationReopened(EventBase):
    type: Literal["conversation.reopened"] = "conversation.reopened"
    payload: ConversationReopenedPayload


class ParticipantPayload(Strict):
    agent_id: str


class ParticipantJoined(EventBase):
    type: Literal["conversation.participant_joined"] = "conversation.participant_joined"
    payload: ParticipantPayload


class ParticipantLeft(EventBase):
    type: Literal["conversation.participant_left"] = "conversation.participant_left"
    payload: ParticipantPayload


class TeammateInvited(EventBase):
    """Add Teammate: the chosen agent becomes a participant of the conversation."""

    type: Literal["conversation.teammate_invited"] = "conversation.teammate_invited"
    payload: ParticipantPayload


class ReassignmentRequestedPayload(Strict):
    agent_id: str
    forced: bool = Field(default=False, description="A supervisor forced it past the agent's capacity.")


class ReassignmentRequested(EventBase):
    """Someone asked for a new assignee; the router alone decides and answers with assignment_decided."""

    type: Literal["conversation.reassignment_requested"] = "conversation.reassignment_requested"
    payload: ReassignmentRequestedPayload


class AssignmentDecidedPayload(Strict):
    outcome: Literal["assigned", "queued", "unassigned"]
    agent_id: str | None = None
    previous_agent_id: str | None = None
    reason: AssignmentReason
    queue_position: int | None = Field(default=None, ge=1)
    forced: bool = Field(
        default=False,
        description="A deliberate handover, not auto-routing: a supervisor's forced reassign, or a teammate"
        " taking over when the assignee left. It may exceed the agent's capacity.",
    )
    over_capacity: bool = Field(
        default=False, description="The assignment took the agent past their max concurrent chats."
    )
    department: str | None = Field(
        default=None, description="The department whose queue the conversation is in."
    )


class AssignmentDecided(EventBase):
    """Written only by the routing service."""

    type: Literal["conversation.assignment_decided"] = "conversation.assignment_decided"
    payload: AssignmentDecidedPayload


class ConversationReadPayload(Strict):
    agent_id: str
    up_to_position: int = Field(
        ge=0, le=MAX_POSITION, description="The agent has seen every line up to this position."
    )


class ConversationRead(EventBase):
    """Read receipt: an agent opened the conversation; unread counts restart from here."""

    type: Literal["conversation.read"] = "conversation.read"
    payload: ConversationReadPayload


class RatingGivenPayload(Strict):
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class RatingGiven(EventBase):
    """CSAT: the visitor rated the conversation after it closed."""

    type: Literal["conversation.rating_given"] = "conversation.rating_given"
    payload: RatingGivenPayload


class TransferRequestedPayload(Strict):
    department: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=500)


class TransferRequested(EventBase):
    """An agent asked to move the conversation to another department; the router re-routes it there."""

    type: Literal["conversation.transfer_requested"] = "conversation.transfer_requested"
    payload: TransferRequestedPayload


class QueuePositionChangedPayload(Strict):
    department: str | None = Field(
        default=None, description="The queue's department; None: the default queue."
    )
    position: int = Field(ge=1, description="1 is next in line.")
    queue_length: int = Field(ge=1)


class QueuePositionChanged(EventBase):
    """Written only by the routing service: a queued conversation moved up its department's FIFO queue.

    The first three in line hear of each move as it happens; those further back get their latest position
    on the router's next tick (every few seconds), so one move does not write an event per waiting visitor.
    """

    type: Literal["conversation.queue_position_changed"] = "conversation.queue_position_changed"
    payload: QueuePositionChangedPayload


CONVERSATION_EVENTS = (
    ConversationStarted,
    DirectConversationStarted,
    MessagePosted,
    AttachmentUploaded,
    NoteAdded,
    TagAdded,
    TagRemoved,
    ConversationClosed,
    ConversationReopened,
    ParticipantJoined,
    ParticipantLeft,
    TeammateInvited,
    ReassignmentRequested,
    AssignmentDecided,
    ConversationRead,
    RatingGiven,
    TransferRequested,
    QueuePositionChanged,
    *TRANSCRIPT_EVENTS,
)
