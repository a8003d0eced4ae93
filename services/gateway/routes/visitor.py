"""The visitor's side: start a chat, write, upload, read their own conversation, rate it.

Every route here is scoped by the visitor token to exactly one conversation, except starting one and
asking whether the team is open (`/availability`, which shows nothing of any conversation or agent).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile, status

from services.conversation import queries as conversation_queries
from services.gateway import commands
from services.gateway.auth import VisitorPrincipal, visitor_token
from services.gateway.availability import availability, resolve_department
from services.gateway.deps import (
    BEARER_DOCS,
    ChatStartDep,
    MessagesPageDep,
    PublisherDep,
    SettingsDep,
    UploadsDep,
    ViewsDep,
    VisitorConversationDep,
    VisitorConversationReadDep,
    VisitorDep,
    VisitorFreshHistory,
    VisitorUploadLimit,
    VisitorWriteDep,
)
from services.gateway.errors import Forbidden
from services.gateway.schemas import (
    PostMessage,
    Rate,
    StartConversation,
    visitor_conversation,
    visitor_message,
)
from services.history import queries as history_queries
from shared.events.conversation import ConversationStarted, MessagePosted
from shared.events.envelope import Actor, new_id

router = APIRouter(prefix="/api/visitor", tags=["visitor"])


@router.get("/availability", summary="Before a chat: open or closed, anyone available, the opening hours")
async def team_availability(
    settings: SettingsDep,
    views: ViewsDep,
    department: Annotated[
        str | None, Query(max_length=100, description="As the widget starts a chat with")
    ] = None,
) -> dict[str, Any]:
    tenant = settings.default_tenant
    departments = await conversation_queries.departments(departments=views.departments, tenant=tenant)
    available = await conversation_queries.available_agent_ids(agents=views.agents, tenant=tenant)
    return availability(
        departments={doc["_id"]: doc for doc in departments},
        department=department or None,
        available_agents=available,
        at=datetime.now(UTC),
    )


@router.post("/conversations", status_code=status.HTTP_201_CREATED, summary="Start a chat (pre-chat form)")
async def start_conversation(
    body: StartConversation, request: Request, start: ChatStartDep
) -> dict[str, Any]:
    settings, views, publisher = start.settings, start.views, start.publisher
    department = body.department
    if department:
        configured = await conversation_queries.departments(
            departments=views.departments, tenant=settings.default_tenant
        )
        department = resolve_department({doc["_id"]: doc for doc in configured}, department)
    conversation_id, visitor_id = new_id(), new_id()
    actor = Actor(kind="visitor", id=visitor_id)
    envelope: dict[str, Any] = {
        "tenant": settings.default_tenant,
        "aggregate_id": conversation_id,
        "actor": actor,
    }
    started = ConversationStarted(
        **envelope,
        payload={
            "visitor_id": visitor_id,
            "visitor": {"name": body.name, "email": body.email},
            "page_url": body.page_url,
            "user_agent": (request.headers.get("user-agent") or "")[:500] or None,
            "locale": body.locale,
            "department": department,
            "offline": body.offline,
        },
    )
    events: list[Any] = [started]
    if body.message:
        events.append(MessagePosted(**envelope, payload={"message_id": new_id(), "text": body.message}))
    appended = await publisher.append_all(*events)
    token = visitor_token(
        settings,
        VisitorPrincipal(
            conversation_id=conversation_id, visitor_id=visitor_id, tenant=settings.default_tenant
        ),
    )
    return {
        "conversation_id": conversation_id,
        "visitor_token": token,
        "events": [a.as_json() for a in appended],
    }


@router.get(
    "/conversation", summary="My conversation: status, agent, queue position", openapi_extra=BEARER_DOCS
)
async def my_conversation(read: VisitorConversationReadDep) -> dict[str, Any]:
    conversation, visitor, views = read.conversation, read.visitor, read.views
    assignee = None
    if conversation.get("assignee_id"):
        assignee = await conversation_queries.get_agent(
            agents=views.agents, tenant=visitor.tenant, agent_id=conversation["assignee_id"]
        )
    return visitor_conversation(conversation, assignee)


@router.get(
    "/conversation/messages",
    summary="My conversation's messages (never internal notes)",
    dependencies=[VisitorFreshHistory],
)
async def my_messages(visitor: VisitorDep, views: ViewsDep, page: MessagesPageDep) -> dict[str, Any]:
    lines = await history_queries.list_messages(
        messages=views.messages,
        conversation_id=visitor.conversation_id,
        include_internal=False,
        after_position=page.after,
        limit=page.limit,
    )
    # Who wrote each agent line, as the visitor sees it in Intercom or Chatwoot: the agent's display name.
    agent_ids = sorted({a["id"] for line in lines if (a := line.get("author") or {}).get("kind") == "agent"})
    agents = (
        await conversation_queries.agents_by_id(
            agents=views.agents, tenant=visitor.tenant, agent_ids=agent_ids
        )
        if agent_ids
        else {}
    )
    names = {agent_id: agent["name"] for agent_id, agent in agents.items()}
    items = [shaped for line in lines if (shaped := visitor_message(line, names)) is not None]
    return {"items": items}


@router.post(
    "/conversation/messages",
    status_code=status.HTTP_201_CREATED,
    summary="Write to the agent",
    openapi_extra=BEARER_DOCS,
)
async def post_message(body: PostMessage, write: VisitorWriteDep) -> dict[str, Any]:
    if body.canned_response_id:
        raise Forbidden("canned responses are for agents")
    events = commands.visitor_message(
        conversation=write.conversation,
        visitor=write.visitor,
        text=body.text,
        attachments=await write.uploads.attached(write.conversation, body.attachment_ids, body.text),
    )
    appended = await write.publisher.append_all(*events)
    return {"events": [a.as_json() for a in appended]}


@router.post(
    "/conversation/attachments",
    status_code=status.HTTP_201_CREATED,
    summary="Upload a file",
    dependencies=[VisitorUploadLimit],
)
async def upload(
    conversation: VisitorConversationDep,
    visitor: VisitorDep,
    uploads: UploadsDep,
    file: Annotated[UploadFile, File(description="Image or document; see the allow-list")],
) -> dict[str, Any]:
    return await uploads.upload(file, conversation=conversation, actor=commands.visitor_actor(visitor))


@router.post(
    "/conversation/rating", status_code=status.HTTP_201_CREATED, summary="Rate the conversation (CSAT 1-5)"
)
async def rate(
    body: Rate, conversation: VisitorConversationDep, visitor: VisitorDep, publisher: PublisherDep
) -> dict[str, Any]:
    event = commands.rate(conversation=conversation, visitor=visitor, score=body.score, comment=body.comment)
    return (await publisher.append(event)).as_json()
