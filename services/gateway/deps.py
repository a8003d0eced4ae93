"""The only home of FastAPI `Depends`: everything a route needs comes from here.

Every dependency is `async def` although none awaits: FastAPI runs plain `def` dependencies in a thread
pool, and those hops cost more than the work itself on the hot path (seen in py-spy profiles of the bench).
The public `get_*` functions are the seams in-process tests replace with `app.dependency_overrides`."""

from __future__ import annotations

from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from starlette.requests import HTTPConnection

from services.conversation import queries as conversation_queries
from services.gateway import commands
from services.gateway.attachments import AttachmentStore
from services.gateway.auth import (
    AgentPrincipal,
    InvalidToken,
    VisitorPrincipal,
    agent_of_token,
    visitor_of_token,
)
from services.gateway.config import GatewaySettings
from services.gateway.errors import NotFound, Unauthorized
from services.gateway.live_hub import LiveHub
from services.gateway.publisher import EventPublisher
from services.gateway.uploads import Uploads

Collection = AsyncCollection[dict[str, Any]]
_bearer = HTTPBearer(auto_error=False)


async def get_settings(request: HTTPConnection) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


async def _producer(request: HTTPConnection) -> AIOKafkaProducer:
    producer: AIOKafkaProducer = request.app.state.producer
    return producer


async def _db(request: HTTPConnection) -> AsyncDatabase[dict[str, Any]]:
    db: AsyncDatabase[dict[str, Any]] = request.app.state.db
    return db


async def get_attachments(request: HTTPConnection) -> AttachmentStore:
    store: AttachmentStore = request.app.state.attachments
    return store


async def get_hub(request: HTTPConnection) -> LiveHub:
    hub: LiveHub = request.app.state.hub
    return hub


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
HubDep = Annotated[LiveHub, Depends(get_hub)]
ProducerDep = Annotated[AIOKafkaProducer, Depends(_producer)]
DatabaseDep = Annotated[AsyncDatabase[dict[str, Any]], Depends(_db)]
AttachmentsDep = Annotated[AttachmentStore, Depends(get_attachments)]


class Views:
    """The view collections the gateway reads; it never writes them."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.conversations: Collection = db["conversations"]
        self.agents: Collection = db["agents"]
        self.credentials: Collection = db["agent_credentials"]
        self.canned: Collection = db["canned_responses"]
        self.departments: Collection = db["departments"]
        self.messages: Collection = db["history_messages"]
        self.history: Collection = db["history_conversations"]


async def get_views(request: Request) -> Views:
    views: Views = request.app.state.views
    return views


ViewsDep = Annotated[Views, Depends(get_views)]


async def _bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    access_token: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> str:
    """The `Authorization: Bearer` header, else `?access_token=` (a link to an attachment cannot set headers)."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    if access_token:
        return access_token
    raise Unauthorized("missing bearer token")


TokenDep = Annotated[str, Depends(_bearer_token)]


async def get_current_agent(settings: SettingsDep, token: TokenDep) -> AgentPrincipal:
    try:
        return agent_of_token(settings, token)
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from exc


async def get_current_visitor(settings: SettingsDep, token: TokenDep) -> VisitorPrincipal:
    try:
        return visitor_of_token(settings, token)
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from exc


async def _agent_or_visitor(settings: SettingsDep, token: TokenDep) -> AgentPrincipal | VisitorPrincipal:
    """For resources both sides may read (attachments): whichever token it is, scoped as that side."""
    try:
        return agent_of_token(settings, token)
    except InvalidToken:
        return await get_current_visitor(settings, token)


async def _correlation_id(x_request_id: Annotated[str | None, Header(max_length=100)] = None) -> str | None:
    return x_request_id


CorrelationDep = Annotated[str | None, Depends(_correlation_id)]


async def get_publisher(request: HTTPConnection, correlation_id: CorrelationDep) -> EventPublisher:
    """Events appended while answering a request carry its `X-Request-ID` as their correlation id."""
    publisher: EventPublisher = request.app.state.publisher
    return publisher.for_request(correlation_id)


PublisherDep = Annotated[EventPublisher, Depends(get_publisher)]


AgentDep = Annotated[AgentPrincipal, Depends(get_current_agent)]
VisitorDep = Annotated[VisitorPrincipal, Depends(get_current_visitor)]


AnyPrincipalDep = Annotated[AgentPrincipal | VisitorPrincipal, Depends(_agent_or_visitor)]


async def get_uploads(settings: SettingsDep, store: AttachmentsDep, publisher: PublisherDep) -> Uploads:
    return Uploads(settings=settings, store=store, publisher=publisher)


UploadsDep = Annotated[Uploads, Depends(get_uploads)]
ConversationId = Annotated[str, Path(min_length=1, max_length=100)]


async def get_conversation(
    conversation_id: ConversationId, agent: AgentDep, views: ViewsDep
) -> dict[str, Any]:
    """The conversation in the path, if it belongs to the signed-in agent's team: any agent of the team may
    open it, and each command then decides what this agent may do to it. A conversation of another team
    is as unknown as one that does not exist.

    Being a dependency, it answers 404 for an unknown conversation before the body is validated."""
    conversation = await conversation_queries.get_conversation(
        conversations=views.conversations, tenant=agent.tenant, conversation_id=conversation_id
    )
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    return conversation


async def get_visitor_conversation(visitor: VisitorDep, views: ViewsDep) -> dict[str, Any]:
    """The one conversation a visitor token reaches. The token was minted only after the broker
    acknowledged conversation.started, so the conversation exists even when the projection has not shown
    it yet: a visitor typing fast must not get a 404."""
    conversation = await conversation_queries.get_conversation(
        conversations=views.conversations, tenant=visitor.tenant, conversation_id=visitor.conversation_id
    )
    return conversation if conversation is not None else commands.pending_visitor_conversation(visitor)


ConversationDep = Annotated[dict[str, Any], Depends(get_conversation)]
VisitorConversationDep = Annotated[dict[str, Any], Depends(get_visitor_conversation)]


async def get_my_profile(agent: AgentDep, views: ViewsDep) -> dict[str, Any]:
    """The signed-in agent's own view."""
    me = await conversation_queries.get_agent(
        agents=views.agents, tenant=agent.tenant, agent_id=agent.agent_id
    )
    if me is None:
        raise NotFound("your agent profile was not found")
    return me


MyProfileDep = Annotated[dict[str, Any], Depends(get_my_profile)]
