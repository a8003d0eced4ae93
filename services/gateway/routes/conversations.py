"""The agent's side of conversations: Monitor, chat list, detail with sidebar, and every chat action.

Each action: a dependency loads the conversation with the agent and the publisher (`ChatActionDep`; for the
reply, the hottest route, `AgentConversationWriteDep` resolves them and the files as one), the pure rule in
`commands.py` decides the event, and `ChatAction.answer` appends it (or says why nothing changed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, UploadFile, status

from services.conversation import queries as conversation_queries
from services.gateway import commands
from services.gateway.deps import (
    BEARER_DOCS,
    AgentConversationWriteDep,
    AgentDep,
    ChatActionDep,
    ConversationDep,
    FreshConversations,
    FreshHistory,
    MessagesPageDep,
    PublisherDep,
    TeammateDep,
    UploadsDep,
    ViewsDep,
)
from services.gateway.errors import NotFound
from services.gateway.schemas import (
    AddTag,
    CloseConversation,
    MarkRead,
    Page,
    PostMessage,
    PostNote,
    StartDirect,
    Transfer,
    agent_card,
    public,
    waiting_seconds,
)
from services.history import queries as history_queries
from shared.events.conversation import TAG_PATTERN

router = APIRouter(prefix="/api/agent", tags=["agent: conversations"])


def _summary(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        **public(doc, drop=("user_agent",)),
        "waiting_seconds": waiting_seconds(doc, now),
        # How far the view has caught up (the last event position applied); a client that needs a later
        # event in the answer names it with `min_position` (services/gateway/freshness.py).
        "position": doc.get("position"),
    }


@router.get(
    "/monitor",
    summary="Monitor: open visitor conversations with the count of every filter",
    dependencies=[FreshConversations],
)
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


@router.get(
    "/chats",
    summary="My open chats (left sidebar), visitor and agent-to-agent",
    dependencies=[FreshConversations],
)
async def my_chats(agent: AgentDep, views: ViewsDep) -> dict[str, Any]:
    docs = await conversation_queries.chats_of(
        conversations=views.conversations, tenant=agent.tenant, agent_id=agent.agent_id
    )
    now = datetime.now(UTC)
    return {"items": [_summary(d, now) for d in docs]}


@router.get(
    "/conversations/{conversation_id}",
    summary="A conversation with its sidebar information",
    dependencies=[FreshConversations],
)
async def conversation_detail(
    conversation: ConversationDep, agent: AgentDep, views: ViewsDep
) -> dict[str, Any]:
    people = [conversation.get("assignee_id"), *conversation["participants"]]
    agents = await conversation_queries.agents_by_id(
        agents=views.agents, tenant=agent.tenant, agent_ids=[a for a in dict.fromkeys(people) if a]
    )
    detail = _summary(conversation, datetime.now(UTC))
    detail["assignee"] = agent_card(agents[a]) if (a := conversation.get("assignee_id")) in agents else None
    detail["participants"] = [agent_card(agents[a]) for a in conversation["participants"] if a in agents]
    detail["user_agent"] = conversation.get("user_agent")
    return detail


@router.get(
    "/conversations/{conversation_id}/messages",
    summary="Transcript, internal notes included",
    dependencies=[FreshHistory],
)
async def conversation_messages(
    conversation: ConversationDep, views: ViewsDep, page: MessagesPageDep
) -> dict[str, Any]:
    lines = await history_queries.list_messages(
        messages=views.messages,
        conversation_id=conversation["_id"],
        include_internal=True,
        after_position=page.after,
        limit=page.limit,
    )
    return {"items": [public(line) | {"position": line["position"]} for line in lines]}


@router.post("/conversations/{conversation_id}/read", summary="Read receipt: clears my unread count")
async def mark_read(body: MarkRead, chat: ChatActionDep) -> dict[str, Any]:
    event = commands.mark_read(
        conversation=chat.conversation, agent=chat.agent, up_to_position=body.up_to_position
    )
    return await chat.answer(event, unchanged="nothing unread")


@router.post("/conversations/{conversation_id}/join", summary="Join to chat")
async def join(chat: ChatActionDep) -> dict[str, Any]:
    event = commands.join(conversation=chat.conversation, agent=chat.agent)
    return await chat.answer(event, unchanged="already a participant")


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    summary="Reply",
    openapi_extra=BEARER_DOCS,
)
async def post_message(body: PostMessage, write: AgentConversationWriteDep) -> dict[str, Any]:
    conversation, agent, views = write.conversation, write.agent, write.views
    text = body.text
    if body.canned_response_id:
        canned = await conversation_queries.get_canned_response(
            canned=views.canned, tenant=agent.tenant, response_id=body.canned_response_id
        )
        if canned is None:
            raise NotFound(f"canned response {body.canned_response_id} not found")
        me = await conversation_queries.get_agent(
            agents=views.agents, tenant=agent.tenant, agent_id=agent.agent_id
        )
        if me is None:
            raise NotFound("your agent profile was not found")
        text = commands.render_canned_response(canned["text"], conversation=conversation, agent=me)
    event = commands.agent_message(
        conversation=conversation,
        agent=agent,
        text=text,
        attachments=await write.uploads.attached(conversation, body.attachment_ids, text),
        canned_response_id=body.canned_response_id,
    )
    return {"text": text, "events": [(await write.publisher.append(event)).as_json()]}


@router.post(
    "/conversations/{conversation_id}/notes", status_code=status.HTTP_201_CREATED, summary="Internal note"
)
async def add_note(body: PostNote, chat: ChatActionDep) -> dict[str, Any]:
    return await chat.answer(commands.note(conversation=chat.conversation, agent=chat.agent, text=body.text))


@router.post(
    "/conversations/{conversation_id}/attachments", status_code=status.HTTP_201_CREATED, summary="Upload"
)
async def upload(
    conversation: ConversationDep, agent: AgentDep, uploads: UploadsDep, file: Annotated[UploadFile, File()]
) -> dict[str, Any]:
    return await uploads.upload(file, conversation=conversation, actor=commands.agent_actor(agent))


@router.post("/conversations/{conversation_id}/tags", summary="Add a tag")
async def add_tag(body: AddTag, chat: ChatActionDep) -> dict[str, Any]:
    event = commands.add_tag(conversation=chat.conversation, agent=chat.agent, tag=body.tag)
    return await chat.answer(event, unchanged="tag already present")


@router.delete("/conversations/{conversation_id}/tags/{tag}", summary="Remove a tag")
async def remove_tag(tag: Annotated[str, Path(pattern=TAG_PATTERN)], chat: ChatActionDep) -> dict[str, Any]:
    return await chat.answer(commands.remove_tag(conversation=chat.conversation, agent=chat.agent, tag=tag))


@router.post("/conversations/{conversation_id}/close", summary="Close the conversation (the X)")
async def close(chat: ChatActionDep, body: CloseConversation | None = None) -> dict[str, Any]:
    reason = body.reason if body else None
    actor = commands.agent_actor(chat.agent)
    return await chat.answer(commands.close(conversation=chat.conversation, actor=actor, reason=reason))


@router.post("/conversations/{conversation_id}/reassign", summary="Reassign to a chosen agent")
async def reassign(chat: ChatActionDep, target: TeammateDep, views: ViewsDep) -> dict[str, Any]:
    tenant = chat.agent.tenant
    event = commands.reassign(
        conversation=chat.conversation,
        agent=chat.agent,
        target=target,
        open_chats=await conversation_queries.open_counts(conversations=views.conversations, tenant=tenant),
        departments=await conversation_queries.departments(departments=views.departments, tenant=tenant),
    )
    return await chat.answer(event, unchanged=f"already assigned to {target['name']}")


@router.post("/conversations/{conversation_id}/teammates", summary="Add a teammate")
async def add_teammate(chat: ChatActionDep, teammate: TeammateDep) -> dict[str, Any]:
    event = commands.invite_teammate(conversation=chat.conversation, agent=chat.agent, teammate=teammate)
    return await chat.answer(event, unchanged="already a participant")


@router.post("/conversations/{conversation_id}/transfer", summary="Transfer to another department")
async def transfer(body: Transfer, chat: ChatActionDep, views: ViewsDep) -> dict[str, Any]:
    department = await conversation_queries.get_department(
        departments=views.departments, tenant=chat.agent.tenant, department_id=body.department
    )
    if department is None:
        raise NotFound(f"department {body.department} not found")
    event = commands.transfer(
        conversation=chat.conversation, agent=chat.agent, department=department, reason=body.reason
    )
    return await chat.answer(event)


@router.post("/conversations/{conversation_id}/leave", summary="Leave so a teammate takes over")
async def leave(chat: ChatActionDep) -> dict[str, Any]:
    return await chat.answer(commands.leave(conversation=chat.conversation, agent=chat.agent))


@router.post(
    "/direct-conversations", status_code=status.HTTP_201_CREATED, summary="Chat with teammates, no visitor"
)
async def start_direct(
    body: StartDirect, agent: AgentDep, views: ViewsDep, publisher: PublisherDep
) -> dict[str, Any]:
    event = commands.start_direct(
        agent=agent,
        agent_ids=body.agent_ids,
        found=await conversation_queries.agents_by_id(
            agents=views.agents, tenant=agent.tenant, agent_ids=body.agent_ids
        ),
        subject=body.subject,
    )
    appended = await publisher.append(event)
    return {"conversation_id": event.aggregate_id, "events": [appended.as_json()]}
