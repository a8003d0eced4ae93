"""The agent's side of conversations: Monitor, chat list, detail with sidebar, and every chat action."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, UploadFile, status

from services.conversation import queries as conversation_queries
from services.gateway import commands
from services.gateway.deps import (
    AgentDep,
    AttachmentsDep,
    CorrelationDep,
    PublisherDep,
    SettingsDep,
    ViewsDep,
)
from services.gateway.errors import ApiError, Conflict, NotFound
from services.gateway.routes.uploads import resolve_attachments, store_upload
from services.gateway.schemas import (
    AddTag,
    ChooseAgent,
    CloseConversation,
    MarkRead,
    Page,
    PostMessage,
    PostNote,
    StartDirect,
    agent_card,
    public,
    waiting_seconds,
)
from services.history import queries as history_queries
from shared.capacity import limit_of_agent
from shared.events import EventBase
from shared.events.conversation import MAX_POSITION, TAG_PATTERN, DirectConversationStarted
from shared.events.envelope import new_id

router = APIRouter(prefix="/api/agent", tags=["agent: conversations"])
ConversationId = Annotated[str, Path(min_length=1, max_length=100)]


async def load_conversation(views: ViewsDep, tenant: str, conversation_id: str) -> dict[str, Any]:
    conversation = await conversation_queries.get_conversation(
        conversations=views.conversations, tenant=tenant, conversation_id=conversation_id
    )
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    return conversation


async def _agent(views: ViewsDep, tenant: str, agent_id: str) -> dict[str, Any]:
    agent = await conversation_queries.get_agent(agents=views.agents, tenant=tenant, agent_id=agent_id)
    if agent is None:
        raise NotFound(f"agent {agent_id} not found")
    return agent


def _summary(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        **public(doc, drop=("user_agent",)),
        "waiting_seconds": waiting_seconds(doc, now),
        # How far the view has caught up (the last event position applied): a client that was pushed a
        # later event of this conversation knows the answer is stale and asks again.
        "position": doc.get("position"),
    }


@router.get("/monitor", summary="Monitor: open visitor conversations with the count of every filter")
async def monitor(agent: AgentDep, views: ViewsDep, filter: Page = "all") -> dict[str, Any]:
    result = await conversation_queries.monitor(
        conversations=views.conversations, tenant=agent.tenant, agent_id=agent.agent_id, status_filter=filter
    )
    now = datetime.now(UTC)
    return {
        "filter": filter,
        "counts": result["counts"],
        "items": [_summary(d, now) for d in result["items"]],
    }


@router.get("/chats", summary="My open chats (left sidebar), visitor and agent-to-agent")
async def my_chats(agent: AgentDep, views: ViewsDep) -> dict[str, Any]:
    docs = await conversation_queries.chats_of(
        conversations=views.conversations, tenant=agent.tenant, agent_id=agent.agent_id
    )
    now = datetime.now(UTC)
    return {"items": [_summary(d, now) for d in docs]}


@router.get("/conversations/{conversation_id}", summary="A conversation with its sidebar information")
async def conversation_detail(
    conversation_id: ConversationId, agent: AgentDep, views: ViewsDep
) -> dict[str, Any]:
    conversation = await load_conversation(views, agent.tenant, conversation_id)
    people = [conversation.get("assignee_id"), *conversation["participants"]]
    agents = await conversation_queries.agents_by_id(
        agents=views.agents, tenant=agent.tenant, agent_ids=[a for a in dict.fromkeys(people) if a]
    )
    detail = _summary(conversation, datetime.now(UTC))
    detail["assignee"] = agent_card(agents[a]) if (a := conversation.get("assignee_id")) in agents else None
    detail["participants"] = [agent_card(agents[a]) for a in conversation["participants"] if a in agents]
    detail["user_agent"] = conversation.get("user_agent")
    return detail


@router.get("/conversations/{conversation_id}/messages", summary="Transcript, internal notes included")
async def conversation_messages(
    conversation_id: ConversationId,
    agent: AgentDep,
    views: ViewsDep,
    after: Annotated[int | None, Query(ge=-1, le=MAX_POSITION)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> dict[str, Any]:
    await load_conversation(views, agent.tenant, conversation_id)
    lines = await history_queries.list_messages(
        messages=views.messages,
        conversation_id=conversation_id,
        include_internal=True,
        after_position=after,
        limit=limit,
    )
    return {"items": [public(line) | {"position": line["position"]} for line in lines]}


async def _append(publisher: PublisherDep, event: EventBase | None, *, unchanged: str = "") -> dict[str, Any]:
    """The response of every chat action: the events appended, or why nothing needed to change."""
    if event is None:
        return {"events": [], "unchanged": unchanged}
    return {"events": [(await publisher.append(event)).as_json()]}


@router.post("/conversations/{conversation_id}/read", summary="Read receipt: clears my unread count")
async def mark_read(
    conversation_id: ConversationId,
    body: MarkRead,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    conversation = await load_conversation(views, agent.tenant, conversation_id)
    event = commands.mark_read(
        conversation=conversation,
        agent=agent,
        up_to_position=body.up_to_position,
        correlation_id=correlation_id,
    )
    return await _append(publisher, event, unchanged="nothing unread")


@router.post("/conversations/{conversation_id}/join", summary="Join to chat")
async def join(
    conversation_id: ConversationId,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    conversation = await load_conversation(views, agent.tenant, conversation_id)
    event = commands.join(conversation=conversation, agent=agent, correlation_id=correlation_id)
    return await _append(publisher, event, unchanged="already a participant")


@router.post(
    "/conversations/{conversation_id}/messages", status_code=status.HTTP_201_CREATED, summary="Reply"
)
async def post_message(
    conversation_id: ConversationId,
    body: PostMessage,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    attachments: AttachmentsDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    conversation = await load_conversation(views, agent.tenant, conversation_id)
    text = body.text
    if body.canned_response_id:
        canned = await conversation_queries.get_canned_response(
            canned=views.canned, tenant=agent.tenant, response_id=body.canned_response_id
        )
        if canned is None:
            raise NotFound(f"canned response {body.canned_response_id} not found")
        me = await _agent(views, agent.tenant, agent.agent_id)
        text = commands.render_canned_response(canned["text"], conversation=conversation, agent=me)
    refs = await resolve_attachments(attachments, conversation, body.attachment_ids, text)
    event = commands.agent_message(
        conversation=conversation,
        agent=agent,
        text=text,
        attachments=refs,
        canned_response_id=body.canned_response_id,
        correlation_id=correlation_id,
    )
    return {"text": text, "events": [(await publisher.append(event)).as_json()]}


@router.post(
    "/conversations/{conversation_id}/notes", status_code=status.HTTP_201_CREATED, summary="Internal note"
)
async def add_note(
    conversation_id: ConversationId,
    body: PostNote,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    conversation = await load_conversation(views, agent.tenant, conversation_id)
    event = commands.note(
        conversation=conversation, agent=agent, text=body.text, correlation_id=correlation_id
    )
    return await _append(publisher, event)


@router.post(
    "/conversations/{conversation_id}/attachments", status_code=status.HTTP_201_CREATED, summary="Upload"
)
async def upload(
    conversation_id: ConversationId,
    agent: AgentDep,
    views: ViewsDep,
    settings: SettingsDep,
    publisher: PublisherDep,
    attachments: AttachmentsDep,
    file: Annotated[UploadFile, File()],
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    conversation = await load_conversation(views, agent.tenant, conversation_id)
    return await store_upload(
        file=file,
        conversation=conversation,
        actor=commands.agent_actor(agent),
        settings=settings,
        store=attachments,
        publisher=publisher,
        correlation_id=correlation_id,
    )


@router.post("/conversations/{conversation_id}/tags", summary="Add a tag")
async def add_tag(
    conversation_id: ConversationId,
    body: AddTag,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    conversation = await load_conversation(views, agent.tenant, conversation_id)
    event = commands.add_tag(
        conversation=conversation, agent=agent, tag=body.tag, correlation_id=correlation_id
    )
    return await _append(publisher, event, unchanged="tag already present")


@router.delete("/conversations/{conversation_id}/tags/{tag}", summary="Remove a tag")
async def remove_tag(
    conversation_id: ConversationId,
    tag: Annotated[str, Path(pattern=TAG_PATTERN)],
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    conversation = await load_conversation(views, agent.tenant, conversation_id)
    event = commands.remove_tag(
        conversation=conversation, agent=agent, tag=tag, correlation_id=correlation_id
    )
    return await _append(publisher, event)


@router.post("/conversations/{conversation_id}/close", summary="Close the conversation (the X)")
async def close(
    conversation_id: ConversationId,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
    body: CloseConversation | None = None,
) -> dict[str, Any]:
    conversation = await load_conversation(views, agent.tenant, conversation_id)
    event = commands.close(
        conversation=conversation,
        actor=commands.agent_actor(agent),
        reason=body.reason if body else None,
        correlation_id=correlation_id,
    )
    return await _append(publisher, event)


@router.post("/conversations/{conversation_id}/reassign", summary="Reassign to a chosen agent")
async def reassign(
    conversation_id: ConversationId,
    body: ChooseAgent,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    conversation = await load_conversation(views, agent.tenant, conversation_id)
    target = await _agent(views, agent.tenant, body.agent_id)
    if conversation.get("assignee_id") == target["_id"]:
        return await _append(publisher, None, unchanged=f"already assigned to {target['name']}")
    load = await conversation_queries.open_counts(conversations=views.conversations, tenant=agent.tenant)
    departments = await conversation_queries.departments(departments=views.departments, tenant=agent.tenant)
    limit = limit_of_agent(target, departments, conversation.get("department"))
    event = commands.reassign(
        conversation=conversation,
        agent=agent,
        target=target,
        target_at_capacity=load.get(target["_id"], 0) >= limit.chats,
        correlation_id=correlation_id,
    )
    return await _append(publisher, event)


@router.post("/conversations/{conversation_id}/teammates", summary="Add a teammate")
async def add_teammate(
    conversation_id: ConversationId,
    body: ChooseAgent,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    conversation = await load_conversation(views, agent.tenant, conversation_id)
    teammate = await _agent(views, agent.tenant, body.agent_id)
    event = commands.invite_teammate(
        conversation=conversation, agent=agent, teammate=teammate, correlation_id=correlation_id
    )
    return await _append(publisher, event, unchanged="already a participant")


@router.post("/conversations/{conversation_id}/leave", summary="Leave so a teammate takes over")
async def leave(
    conversation_id: ConversationId,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    conversation = await load_conversation(views, agent.tenant, conversation_id)
    event = commands.leave(conversation=conversation, agent=agent, correlation_id=correlation_id)
    return await _append(publisher, event)


@router.post(
    "/direct-conversations", status_code=status.HTTP_201_CREATED, summary="Chat with teammates, no visitor"
)
async def start_direct(
    body: StartDirect,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    others = [a for a in dict.fromkeys(body.agent_ids) if a != agent.agent_id]
    if not others:
        raise ApiError("choose at least one teammate other than yourself")
    found = await conversation_queries.agents_by_id(
        agents=views.agents, tenant=agent.tenant, agent_ids=others
    )
    missing = [a for a in others if a not in found]
    if missing:
        raise NotFound(f"agents not found: {', '.join(missing)}")
    if len(others) + 1 > 20:
        raise Conflict("a direct conversation holds at most 20 agents")
    event = DirectConversationStarted(
        tenant=agent.tenant,
        aggregate_id=new_id(),
        actor=commands.agent_actor(agent),
        correlation_id=correlation_id,
        payload={"participant_ids": [agent.agent_id, *others], "subject": body.subject},
    )
    appended = await publisher.append(event)
    return {"conversation_id": event.aggregate_id, "events": [appended.as_json()]}
