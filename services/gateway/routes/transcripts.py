"""Transcripts by email: the visitor asks from the widget once the chat has ended; an agent sends one from
the conversation's menu. The route appends `conversation.transcript_requested`; the mailer service sends it
(with retries) and records the outcome, which the conversation view shows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from services.gateway import commands
from services.gateway.config import GatewaySettings
from services.gateway.deps import (
    ChatActionDep,
    ConversationDep,
    PublisherDep,
    SettingsDep,
    VisitorConversationDep,
    VisitorDep,
)
from services.gateway.publisher import EventPublisher
from services.gateway.schemas import EmailTranscript, transcript_email
from shared.events import Actor
from shared.transcripts import visitor_requests_left

router = APIRouter(tags=["transcripts by email"])


async def _request(
    body: EmailTranscript,
    conversation: commands.View,
    actor: Actor,
    settings: GatewaySettings,
    publisher: EventPublisher,
) -> dict[str, Any]:
    """The visitor's and the agent's request alike: the rule decides who may ask, the route only who asks."""
    event = commands.request_transcript(
        conversation=conversation,
        actor=actor,
        recipient=body.email,
        email_configured=settings.email_configured,
    )
    await publisher.append(event)
    return {"request_id": event.payload.request_id, "recipient": event.payload.recipient, "status": "pending"}


@router.get("/api/visitor/conversation/transcript-emails", summary="Can I have the transcript by email?")
async def my_transcript_emails(conversation: VisitorConversationDep, settings: SettingsDep) -> dict[str, Any]:
    emails = conversation.get("transcript_emails") or []
    left = visitor_requests_left(emails)
    return {
        "email_configured": settings.email_configured,
        "can_request": settings.email_configured and conversation["status"] == "closed" and left > 0,
        "requests_left": left,
        "suggested_recipient": (conversation.get("visitor") or {}).get("email"),
        # Only the visitor's own requests: an agent may have sent the transcript to someone else.
        "items": [transcript_email(e) for e in emails if e["requested_by"] == "visitor"],
    }


@router.post(
    "/api/visitor/conversation/transcript-emails",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Email me the transcript (once the chat has ended)",
)
async def email_my_transcript(
    body: EmailTranscript,
    conversation: VisitorConversationDep,
    visitor: VisitorDep,
    settings: SettingsDep,
    publisher: PublisherDep,
) -> dict[str, Any]:
    return await _request(body, conversation, commands.visitor_actor(visitor), settings, publisher)


@router.get(
    "/api/agent/conversations/{conversation_id}/transcript-emails",
    tags=["agent: conversations"],
    summary="Transcript emails of a conversation, and where one would go by default",
)
async def transcript_emails(conversation: ConversationDep, settings: SettingsDep) -> dict[str, Any]:
    return {
        "email_configured": settings.email_configured,
        "suggested_recipient": (conversation.get("visitor") or {}).get("email"),
        "items": [transcript_email(e) for e in conversation.get("transcript_emails") or []],
    }


@router.post(
    "/api/agent/conversations/{conversation_id}/transcript-emails",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["agent: conversations"],
    summary="Email the transcript (internal notes are never in it)",
)
async def email_transcript(
    body: EmailTranscript, chat: ChatActionDep, settings: SettingsDep
) -> dict[str, Any]:
    return await _request(body, chat.conversation, commands.agent_actor(chat.agent), settings, chat.publisher)
