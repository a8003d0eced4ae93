"""Pure folds from events to the conversation service's views. No I/O, no wall clock.

Each `apply_*` takes the current view document (or None) and one event with its position and returns the
next document. The adapter skips events whose position is not newer than the stored one, so applying a
duplicate is impossible and a replay reproduces the live views exactly.
"""

from __future__ import annotations

from typing import Any

from services.conversation.sign_ins import (
    SessionsState,
    SignInState,
    apply_session,
    apply_sign_in,
)
from shared.emails import normalized_email
from shared.events import EventBase
from shared.events import agent as agent_events
from shared.events import canned_response as canned_response_events
from shared.events import conversation as conversation_events
from shared.events import department as department_events
from shared.events import transcript as transcript_events
from shared.transcripts import visitor_requests_left

View = dict[str, Any]
PREVIEW_LENGTH = 140


class EventOutOfPlace(ValueError):
    """An event that cannot apply to the view it targets, e.g. a message for a conversation never started."""


def _base(event: EventBase, position: int) -> View:
    return {
        "_id": event.aggregate_id,
        "tenant": event.tenant,
        "position": position,
        "updated_at": event.occurred_at,
    }


def apply_conversation(view: View | None, event: EventBase, position: int) -> View:
    if isinstance(event, conversation_events.ConversationStarted):
        if view is not None:
            return {**view, "position": position}
        started = event.payload
        return _new_conversation(
            event,
            position,
            kind="visitor",
            visitor={"id": started.visitor_id, "name": started.visitor.name, "email": started.visitor.email},
            page_url=str(started.page_url) if started.page_url else None,
            user_agent=started.user_agent,
            locale=started.locale,
            channel=started.channel,
            department=started.department,
            offline=started.offline,
        )
    if isinstance(event, conversation_events.DirectConversationStarted):
        if view is not None:
            return {**view, "position": position}
        return _new_conversation(
            event,
            position,
            kind="direct",
            channel="internal",
            participants=list(dict.fromkeys(event.payload.participant_ids)),
            subject=event.payload.subject,
        )
    if view is None:
        raise EventOutOfPlace(f"{event.type} for conversation {event.aggregate_id}, which was never started")

    nxt: View = {**view, "position": position, "updated_at": event.occurred_at}
    if isinstance(event, conversation_events.MessagePosted):
        author_is_agent = event.actor.kind == "agent"
        nxt["message_count"] = view["message_count"] + 1
        nxt["attachment_count"] = view["attachment_count"] + len(event.payload.attachments)
        nxt["last_activity_at"] = event.occurred_at
        nxt["last_message"] = {
            "text": event.payload.text[:PREVIEW_LENGTH],
            "author_kind": event.actor.kind,
            "author_id": event.actor.id,
            "has_attachments": bool(event.payload.attachments),
            "at": event.occurred_at,
        }
        if author_is_agent and view["kind"] == "visitor" and view["first_response_at"] is None:
            nxt["first_response_at"] = event.occurred_at
        if author_is_agent:
            nxt["participants"] = _with(view["participants"], event.actor.id)
        # Everyone taking part except the author has one more line to read.
        unread = dict(view.get("unread") or {})
        for agent_id in nxt["participants"]:
            if agent_id != event.actor.id:
                unread[agent_id] = unread.get(agent_id, 0) + 1
        nxt["unread"] = unread
    elif isinstance(event, conversation_events.NoteAdded):
        nxt["note_count"] = view["note_count"] + 1
    elif isinstance(event, conversation_events.AttachmentUploaded):
        pass  # counted when a message carries it
    elif isinstance(event, conversation_events.TagAdded):
        nxt["tags"] = _with(view["tags"], event.payload.tag)
    elif isinstance(event, conversation_events.TagRemoved):
        nxt["tags"] = [tag for tag in view["tags"] if tag != event.payload.tag]
    elif isinstance(event, conversation_events.ConversationClosed):
        nxt.update(
            status="closed",
            closed_at=event.occurred_at,
            closed_by={"kind": event.actor.kind, "id": event.actor.id},
            close_reason=event.payload.reason,
            queue_position=None,
        )
        if view["assignment"] == "queued":
            nxt["assignment"] = "unassigned"
    elif isinstance(event, conversation_events.ConversationReopened):
        nxt.update(
            status="open",
            closed_at=None,
            closed_by=None,
            close_reason=None,
            last_activity_at=event.occurred_at,
        )
    elif isinstance(event, conversation_events.ParticipantJoined | conversation_events.TeammateInvited):
        nxt["participants"] = _with(view["participants"], event.payload.agent_id)
    elif isinstance(event, conversation_events.ParticipantLeft):
        nxt["participants"] = [a for a in view["participants"] if a != event.payload.agent_id]
    elif isinstance(event, conversation_events.ReassignmentRequested):
        pass  # only the router's decision changes the assignee
    elif isinstance(event, conversation_events.AssignmentDecided):
        decision = event.payload
        assigned = decision.outcome == "assigned"
        nxt.update(assignment=decision.outcome, assignee_id=decision.agent_id if assigned else None)
        nxt["queue_position"] = decision.queue_position if decision.outcome == "queued" else None
        if decision.department is not None:
            nxt["department"] = decision.department
        if assigned and decision.agent_id:
            nxt["participants"] = _with(view["participants"], decision.agent_id)
    elif isinstance(event, conversation_events.QueuePositionChanged):
        if view["assignment"] == "queued":
            nxt["queue_position"] = event.payload.position
            nxt["queue_length"] = event.payload.queue_length
    elif isinstance(event, conversation_events.TransferRequested):
        nxt["department"] = event.payload.department
    elif isinstance(event, conversation_events.ConversationRead):
        nxt["unread"] = {**(view.get("unread") or {}), event.payload.agent_id: 0}
    elif isinstance(event, conversation_events.RatingGiven):
        nxt["rating"] = {"score": event.payload.score, "comment": event.payload.comment}
    elif isinstance(
        event,
        transcript_events.TranscriptRequested
        | transcript_events.TranscriptSent
        | transcript_events.TranscriptFailed,
    ):
        nxt["transcript_emails"] = apply_transcript_email(view.get("transcript_emails") or [], event)
    else:
        raise EventOutOfPlace(f"{event.type} does not belong to a conversation view")
    return nxt


def apply_transcript_email(emails: list[View], event: EventBase) -> list[View]:
    """Each transcript request and its latest outcome, oldest first. A visitor's request past the cap is
    `refused` here, in the fold, so every reader (the mailer too) agrees however fast the requests came."""
    if isinstance(event, transcript_events.TranscriptRequested):
        if any(e["request_id"] == event.payload.request_id for e in emails):
            return emails
        requested_by = event.actor.kind
        refused = requested_by == "visitor" and visitor_requests_left(emails) == 0
        email: View = {
            "request_id": event.payload.request_id,
            "recipient": event.payload.recipient,
            "requested_by": requested_by,
            "requested_by_id": event.actor.id,
            "requested_at": event.occurred_at,
            "status": "refused" if refused else "pending",
            "attempt": 0,
            "reason": "too many requests for this conversation" if refused else None,
            "next_attempt_at": None,
            "updated_at": event.occurred_at,
        }
        return [*emails, email]
    outcome: View = {"attempt": event.payload.attempt, "updated_at": event.occurred_at}
    if isinstance(event, transcript_events.TranscriptSent):
        outcome.update(status="sent", reason=None, next_attempt_at=None)
    elif isinstance(event, transcript_events.TranscriptFailed):
        retrying = event.payload.next_attempt_at is not None
        outcome.update(
            status="retrying" if retrying else "failed",
            reason=event.payload.reason,
            next_attempt_at=event.payload.next_attempt_at,
        )
    return [{**e, **outcome} if e["request_id"] == event.payload.request_id else e for e in emails]


def just_started() -> View:
    """A visitor's conversation from its start until someone acts on it: open, unassigned, nobody in it. Every
    conversation view starts from it, and the gateway shows it to a visitor whose view is not written yet."""
    return {
        "kind": "visitor",
        "status": "open",
        "assignment": "unassigned",
        "assignee_id": None,
        "queue_position": None,
        "participants": [],
        "tags": [],
        "closed_at": None,
        "rating": None,
    }


def _new_conversation(event: EventBase, position: int, **fields: Any) -> View:
    return {
        **_base(event, position),
        **just_started(),
        "visitor": None,
        "page_url": None,
        "user_agent": None,
        "locale": None,
        "channel": None,
        "department": None,
        "offline": False,  # a message left in the widget's form: the visitor waits for an email reply
        "subject": None,
        "created_at": event.occurred_at,
        "first_response_at": None,
        "last_activity_at": event.occurred_at,
        "last_message": None,
        "message_count": 0,
        "attachment_count": 0,
        "note_count": 0,
        "closed_by": None,
        "close_reason": None,
        "unread": {},
        "transcript_emails": [],
        **fields,
    }


def apply_agent(view: View | None, event: EventBase, position: int) -> View:
    if isinstance(event, agent_events.AgentRegistered | agent_events.AgentInvited):
        p = event.payload
        registered = {
            **_base(event, position),
            "email": normalized_email(p.email),
            "name": p.name,
            "role": p.role,
            "max_concurrent_chats": p.max_concurrent_chats,
            "avatar_url": None,
            "status": "offline",
            "status_since": event.occurred_at,
            # Until the agent picks a status, their first sign-in makes them available (Chatwoot's default).
            "status_chosen": False,
            "registered_at": event.occurred_at,
            # The limit the team set (the operator's or a supervisor's): the agent may lower theirs, not
            # raise it past this.
            "max_chats_set_by_team": p.max_concurrent_chats,
            "invited_by": event.actor.id if isinstance(event, agent_events.AgentInvited) else None,
            "deactivated": False,
            "deactivated_at": None,
            "reactivated_at": None,
        }
        # Registering again (e.g. the demo seed run twice) refreshes the account but keeps live state.
        if view is not None:
            registered.update(
                status=view["status"],
                status_since=view["status_since"],
                status_chosen=view.get("status_chosen", True),
                avatar_url=view["avatar_url"],
                deactivated=view.get("deactivated", False),
                deactivated_at=view.get("deactivated_at"),
                reactivated_at=view.get("reactivated_at"),
            )
            registered["registered_at"] = view["registered_at"]
        return registered
    if view is None:
        raise EventOutOfPlace(f"{event.type} for agent {event.aggregate_id}, who was never registered")
    nxt: View = {**view, "position": position, "updated_at": event.occurred_at}
    if isinstance(event, agent_events.AgentProfileUpdated):
        changes = event.payload.model_dump(exclude_none=True, mode="json")
        nxt.update(changes)
    elif isinstance(event, agent_events.AgentStatusChanged):
        if view.get("deactivated"):
            # A deactivated agent is offline for the router whatever a lingering client says; the view agrees
            # (live and on replay), so nobody sees them "available".
            return nxt
        nxt["status_chosen"] = True
        if view["status"] != event.payload.status:
            nxt.update(status=event.payload.status, status_since=event.occurred_at)
    elif isinstance(event, agent_events.AgentRoleChanged):
        nxt["role"] = event.payload.role
    elif isinstance(event, agent_events.AgentChatLimitSet):
        limit = event.payload.max_concurrent_chats
        nxt.update(max_concurrent_chats=limit, max_chats_set_by_team=limit)
    elif isinstance(event, agent_events.AgentDeactivated):
        nxt.update(deactivated=True, deactivated_at=event.occurred_at)
        if view["status"] != "offline":
            nxt.update(status="offline", status_since=event.occurred_at)
    elif isinstance(event, agent_events.AgentReactivated):
        # Offline until they sign in again, which makes them available (as a new agent's first sign-in).
        # `reactivated_at`: links issued before it stay void (`shared/password_links.link_voided`).
        nxt.update(
            deactivated=False, deactivated_at=None, status_chosen=False, reactivated_at=event.occurred_at
        )
    else:
        raise EventOutOfPlace(f"{event.type} does not belong to an agent view")
    return nxt


def apply_credentials(view: View | None, event: EventBase, position: int) -> View:
    """An account's password, its one-time link, sign-in failures and sessions. An invited account's
    document holds its email and link until the password is set (no `password_hash`: sign-in refuses it)."""
    if isinstance(event, agent_events.AgentPasswordSet):
        link = (view or {}).get("password_link")
        if link is not None and link["link_id"] == event.payload.link_id:
            link = {**link, "used_at": event.occurred_at}
        return {
            **(view or {}),
            **_base(event, position),
            "email": normalized_email(event.payload.email),
            "password_hash": event.payload.password_hash,
            "password_link": link,
        }
    if isinstance(event, agent_events.AgentPasswordLinkIssued):
        p = event.payload
        link = {
            "link_id": p.link_id,
            "purpose": p.purpose,
            "email": normalized_email(p.email),
            "expires_at": p.expires_at,
            "issued_at": event.occurred_at,
            "used_at": None,
        }
        # At the top level: FerretDB serves only top-level fields from an index. `email` too, so an email
        # with a pending invitation is taken (one credentials document per email, across teams); sign-in
        # finds it but refuses it while it has no password.
        return {
            **(view or {}),
            **_base(event, position),
            "email": (view or {}).get("email") or normalized_email(p.email),
            "password_link": link,
            "link_token_hash": p.token_hash,
        }
    if view is None:
        raise EventOutOfPlace(f"{event.type} for agent {event.aggregate_id}, who has no password")
    nxt: View = {**view, "position": position, "updated_at": event.occurred_at}
    if isinstance(event, agent_events.SIGN_IN_EVENTS):
        nxt["sign_in"] = apply_sign_in(SignInState.of_document(view.get("sign_in")), event).to_document()
    elif isinstance(event, agent_events.SESSION_EVENTS):
        nxt["sessions"] = apply_session(SessionsState.of_document(view.get("sessions")), event).to_document()
    elif isinstance(event, agent_events.LINK_EMAIL_EVENTS):
        link = view.get("password_link")
        if link is not None and link["link_id"] == event.payload.link_id:  # else about a replaced link
            sent = event.payload
            emailed = {"status": "sent", "recipient": sent.recipient, "attempt": sent.attempt, "reason": None}
            if isinstance(event, agent_events.AgentPasswordLinkEmailFailed):
                retrying = event.payload.next_attempt_at is not None
                emailed.update(status="retrying" if retrying else "failed", reason=event.payload.reason)
            nxt["password_link"] = {**link, "emailed": emailed}
    else:
        raise EventOutOfPlace(f"{event.type} does not belong to the credentials view")
    return nxt


def apply_canned_response(view: View | None, event: EventBase, position: int) -> View:
    if isinstance(
        event, canned_response_events.CannedResponseCreated | canned_response_events.CannedResponseUpdated
    ):
        created_at = view["created_at"] if view else event.occurred_at
        return {
            **_base(event, position),
            "shortcut": event.payload.shortcut,
            "text": event.payload.text,
            "created_by": event.actor.id,
            "created_at": created_at,
            "deleted": False,
        }
    if isinstance(event, canned_response_events.CannedResponseDeleted):
        if view is None:
            raise EventOutOfPlace(f"canned response {event.aggregate_id} deleted before it was created")
        return {**view, "position": position, "updated_at": event.occurred_at, "deleted": True}
    raise EventOutOfPlace(f"{event.type} does not belong to a canned response view")


def apply_department(view: View | None, event: EventBase, position: int) -> View:
    if not isinstance(event, department_events.DepartmentConfigured):
        raise EventOutOfPlace(f"{event.type} does not belong to a department view")
    return {
        **_base(event, position),
        **event.payload.model_dump(mode="json"),
        "created_at": view["created_at"] if view else event.occurred_at,
    }


def _with(items: list[str], item: str) -> list[str]:
    return items if item in items else [*items, item]
