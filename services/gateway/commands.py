"""What each conversation command means: pure functions from the current views and a request to the
events to append. The team's own commands (profile, status, canned responses, departments) are in
`team_commands.py`, on the same terms.

They raise the ApiError a client should see when a rule forbids the command. No I/O here: the routes
load the views, call these, and append what they return.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from services.conversation import domain as conversation_domain
from services.gateway.auth import AgentPrincipal, VisitorPrincipal
from services.gateway.errors import ApiError, Conflict, Forbidden, NotFound, UnsupportedMediaType
from shared.capacity import limit_of_agent
from shared.events import Actor, EventBase
from shared.events import conversation as conversation_events
from shared.events import transcript as transcript_events
from shared.events.envelope import new_id
from shared.transcripts import VISITOR_REQUESTS_PER_CONVERSATION, visitor_requests_left

View = Mapping[str, Any]
# The starter and up to 19 teammates, as conversation.direct_started allows.
MAX_DIRECT_PARTICIPANTS = 20


def agent_actor(agent: AgentPrincipal) -> Actor:
    return Actor(kind="agent", id=agent.agent_id)


def visitor_actor(visitor: VisitorPrincipal) -> Actor:
    return Actor(kind="visitor", id=visitor.visitor_id)


def _envelope(conversation: View, actor: Actor) -> dict[str, Any]:
    return {
        "tenant": conversation["tenant"],
        "aggregate_id": conversation["_id"],
        "actor": actor,
    }


def _require_open(conversation: View, action: str) -> None:
    if conversation["status"] == "closed":
        raise Conflict(f"conversation {conversation['_id']} is closed; it cannot be {action}")


def _is_participant(conversation: View, agent: AgentPrincipal) -> bool:
    return agent.agent_id in conversation["participants"] or conversation.get("assignee_id") == agent.agent_id


def _require_participant(conversation: View, agent: AgentPrincipal) -> None:
    if not _is_participant(conversation, agent):
        raise Forbidden("join the conversation first")


def _refuse_files_in_direct(conversation: View) -> None:
    if conversation["kind"] == "direct":
        raise UnsupportedMediaType("files cannot be shared in agent-to-agent conversations")


def pending_visitor_conversation(visitor: VisitorPrincipal) -> dict[str, Any]:
    """What a visitor's conversation is known to be before its view exists: just started, open, waiting."""
    return {
        "_id": visitor.conversation_id,
        "tenant": visitor.tenant,
        **conversation_domain.just_started(),
        "created_at": None,
    }


def visitor_message(
    *,
    conversation: View,
    visitor: VisitorPrincipal,
    text: str,
    attachments: list[conversation_events.AttachmentRef],
) -> list[EventBase]:
    """A visitor writing to a closed conversation reopens it, as Chatwoot and Tiledesk do."""
    envelope = _envelope(conversation, visitor_actor(visitor))
    events: list[EventBase] = []
    if conversation["status"] == "closed":
        events.append(
            conversation_events.ConversationReopened(**envelope, payload={"reason": "visitor_message"})
        )
    events.append(
        conversation_events.MessagePosted(
            **envelope, payload={"message_id": new_id(), "text": text, "attachments": attachments}
        )
    )
    return events


def agent_message(
    *,
    conversation: View,
    agent: AgentPrincipal,
    text: str,
    attachments: list[conversation_events.AttachmentRef],
    canned_response_id: str | None,
) -> conversation_events.MessagePosted:
    _require_open(conversation, "answered")
    _require_participant(conversation, agent)
    if attachments:
        _refuse_files_in_direct(conversation)
    payload = {
        "message_id": new_id(),
        "text": text,
        "attachments": attachments,
        "canned_response_id": canned_response_id,
    }
    return conversation_events.MessagePosted(**_envelope(conversation, agent_actor(agent)), payload=payload)


def check_attachment_allowed(*, conversation: View) -> None:
    _require_open(conversation, "given files")
    _refuse_files_in_direct(conversation)


def note(*, conversation: View, agent: AgentPrincipal, text: str) -> conversation_events.NoteAdded:
    return conversation_events.NoteAdded(
        **_envelope(conversation, agent_actor(agent)), payload={"note_id": new_id(), "text": text}
    )


def add_tag(*, conversation: View, agent: AgentPrincipal, tag: str) -> conversation_events.TagAdded | None:
    _require_open(conversation, "tagged")
    if tag in conversation["tags"]:
        return None
    return conversation_events.TagAdded(**_envelope(conversation, agent_actor(agent)), payload={"tag": tag})


def remove_tag(*, conversation: View, agent: AgentPrincipal, tag: str) -> conversation_events.TagRemoved:
    _require_open(conversation, "tagged")
    if tag not in conversation["tags"]:
        raise NotFound(f"conversation has no tag {tag!r}")
    return conversation_events.TagRemoved(**_envelope(conversation, agent_actor(agent)), payload={"tag": tag})


def mark_read(
    *, conversation: View, agent: AgentPrincipal, up_to_position: int
) -> conversation_events.ConversationRead | None:
    if not (conversation.get("unread") or {}).get(agent.agent_id):
        return None
    payload = {"agent_id": agent.agent_id, "up_to_position": up_to_position}
    return conversation_events.ConversationRead(
        **_envelope(conversation, agent_actor(agent)), payload=payload
    )


def join(*, conversation: View, agent: AgentPrincipal) -> conversation_events.ParticipantJoined | None:
    _require_open(conversation, "joined")
    if agent.agent_id in conversation["participants"]:
        return None
    return conversation_events.ParticipantJoined(
        **_envelope(conversation, agent_actor(agent)), payload={"agent_id": agent.agent_id}
    )


def invite_teammate(
    *, conversation: View, agent: AgentPrincipal, teammate: View
) -> conversation_events.TeammateInvited | None:
    _require_open(conversation, "given a teammate")
    if conversation["kind"] == "visitor" and not (
        _is_participant(conversation, agent) or agent.is_supervisor
    ):
        raise Forbidden("only participants or supervisors can add a teammate")
    if conversation["kind"] == "direct":
        _require_participant(conversation, agent)
    if teammate["_id"] in conversation["participants"]:
        return None
    return conversation_events.TeammateInvited(
        **_envelope(conversation, agent_actor(agent)), payload={"agent_id": teammate["_id"]}
    )


def leave(*, conversation: View, agent: AgentPrincipal) -> conversation_events.ParticipantLeft:
    _require_open(conversation, "left")
    if not _is_participant(conversation, agent):
        raise Conflict("you are not a participant of this conversation")
    return conversation_events.ParticipantLeft(
        **_envelope(conversation, agent_actor(agent)), payload={"agent_id": agent.agent_id}
    )


def reassign(
    *,
    conversation: View,
    agent: AgentPrincipal,
    target: View,
    open_chats: Mapping[str, int],
    departments: Iterable[View],
) -> conversation_events.ReassignmentRequested | None:
    """None when the target already has the conversation. `open_chats` counts each agent's open assigned
    chats as the view sees them; whether the target is at their limit follows `shared/capacity.py`, the
    rule the router enforces, so only a supervisor can push them past it (recorded as forced)."""
    if conversation.get("assignee_id") == target["_id"]:
        return None
    _require_open(conversation, "assigned")
    if conversation["kind"] == "direct":
        raise Conflict("agent-to-agent conversations are not assigned")
    mine = conversation.get("assignee_id") == agent.agent_id
    unassigned = conversation["assignment"] != "assigned"
    if not (agent.is_supervisor or mine or unassigned):
        raise Forbidden("only a supervisor can reassign a conversation assigned to someone else")
    limit = limit_of_agent(target, departments, conversation.get("department"))
    at_capacity = open_chats.get(target["_id"], 0) >= limit.chats
    if at_capacity and not agent.is_supervisor:
        raise Conflict(f"{target['name']} is at their chat limit; only a supervisor can force it")
    payload = {"agent_id": target["_id"], "forced": at_capacity}
    return conversation_events.ReassignmentRequested(
        **_envelope(conversation, agent_actor(agent)), payload=payload
    )


def start_direct(
    *, agent: AgentPrincipal, agent_ids: Sequence[str], found: Mapping[str, View], subject: str | None
) -> conversation_events.DirectConversationStarted:
    """An agent-to-agent chat with the teammates named in `agent_ids` (the starter is always in it, once);
    `found` is the agent views of those ids the starter's team has."""
    teammates = [a for a in dict.fromkeys(agent_ids) if a != agent.agent_id]
    if not teammates:
        raise ApiError("choose at least one teammate other than yourself")
    if missing := [a for a in teammates if a not in found]:
        raise NotFound(f"agents not found: {', '.join(missing)}")
    if len(teammates) + 1 > MAX_DIRECT_PARTICIPANTS:
        raise Conflict(f"a direct conversation holds at most {MAX_DIRECT_PARTICIPANTS} agents")
    return conversation_events.DirectConversationStarted(
        tenant=agent.tenant,
        aggregate_id=new_id(),
        actor=agent_actor(agent),
        payload={"participant_ids": [agent.agent_id, *teammates], "subject": subject},
    )


def transfer(
    *, conversation: View, agent: AgentPrincipal, department: View, reason: str | None
) -> conversation_events.TransferRequested:
    _require_open(conversation, "transferred")
    if conversation["kind"] == "direct":
        raise Conflict("agent-to-agent conversations are not routed")
    if not (
        agent.is_supervisor
        or _is_participant(conversation, agent)
        or conversation["assignment"] != "assigned"
    ):
        raise Forbidden("only participants or supervisors can transfer a conversation")
    if conversation.get("department") == department["_id"]:
        raise Conflict(f"the conversation is already in {department['name']}")
    payload = {"department": department["_id"], "reason": reason}
    return conversation_events.TransferRequested(
        **_envelope(conversation, agent_actor(agent)), payload=payload
    )


def close(*, conversation: View, actor: Actor, reason: str | None) -> conversation_events.ConversationClosed:
    if conversation["status"] == "closed":
        raise Conflict("conversation is already closed")
    return conversation_events.ConversationClosed(
        **_envelope(conversation, actor), payload={"reason": reason}
    )


def rate(
    *, conversation: View, visitor: VisitorPrincipal, score: int, comment: str | None
) -> conversation_events.RatingGiven:
    if conversation["status"] != "closed":
        raise Conflict("a conversation can be rated once it is closed")
    if conversation.get("rating") is not None:
        raise Conflict("this conversation was already rated")
    return conversation_events.RatingGiven(
        **_envelope(conversation, visitor_actor(visitor)), payload={"score": score, "comment": comment}
    )


def request_transcript(
    *, conversation: View, actor: Actor, recipient: str | None, email_configured: bool
) -> transcript_events.TranscriptRequested:
    """Email the transcript to `recipient`, else to the email the visitor gave. A visitor may ask only once
    their chat has ended, and only a few times per conversation (the widget must not be a way to email
    anybody); an agent may send it at any time, to any address."""
    if not email_configured:
        raise Conflict("email is not configured on this Parley: ask your administrator to set up SMTP")
    if conversation["kind"] == "direct":
        raise Conflict("agent-to-agent conversations have no transcript to email")
    if actor.kind == "visitor":
        if conversation["status"] != "closed":
            raise Conflict("the transcript can be emailed once the chat has ended")
        if visitor_requests_left(conversation.get("transcript_emails") or []) == 0:
            raise Conflict(
                f"the transcript was already requested {VISITOR_REQUESTS_PER_CONVERSATION} times for this chat"
            )
    recipient = recipient or (conversation.get("visitor") or {}).get("email")
    if not recipient:
        raise ApiError("no email address: give the address to send the transcript to")
    return transcript_events.TranscriptRequested(
        **_envelope(conversation, actor), payload={"request_id": new_id(), "recipient": recipient}
    )


_VARIABLE = re.compile(r"\{(visitor|agent|conversation)\.(\w+)\}")


def render_canned_response(text: str, *, conversation: View, agent: View) -> str:
    """Fills {visitor.name}, {visitor.email}, {agent.name}, {conversation.id}; unknown values become empty,
    never the raw placeholder, so a visitor never reads template syntax."""
    visitor = conversation.get("visitor") or {}
    values = {
        ("visitor", "name"): visitor.get("name") or "there",
        ("visitor", "email"): visitor.get("email") or "",
        ("agent", "name"): agent.get("name") or "",
        ("agent", "email"): agent.get("email") or "",
        ("conversation", "id"): conversation["_id"],
    }
    return _VARIABLE.sub(lambda m: str(values.get((m.group(1), m.group(2)), "")), text)
