"""The only home of FastAPI `Depends`: everything a route needs comes from here.

Every dependency is `async def` although none awaits: FastAPI runs plain `def` dependencies in a thread
pool, and those hops cost more than the work itself on the hot path (seen in py-spy profiles of the bench)."""

from __future__ import annotations

from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from starlette.requests import HTTPConnection

from services.gateway.attachments import AttachmentStore
from services.gateway.auth import AgentPrincipal, InvalidToken, VisitorPrincipal, decode_token
from services.gateway.config import GatewaySettings
from services.gateway.errors import Unauthorized
from services.gateway.live import LiveHub
from services.gateway.publisher import EventPublisher

Collection = AsyncCollection[dict[str, Any]]
_bearer = HTTPBearer(auto_error=False)


async def _settings(request: HTTPConnection) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


async def _producer(request: HTTPConnection) -> AIOKafkaProducer:
    producer: AIOKafkaProducer = request.app.state.producer
    return producer


async def _db(request: HTTPConnection) -> AsyncDatabase[dict[str, Any]]:
    db: AsyncDatabase[dict[str, Any]] = request.app.state.db
    return db


async def _publisher(request: HTTPConnection) -> EventPublisher:
    publisher: EventPublisher = request.app.state.publisher
    return publisher


async def _attachments(request: HTTPConnection) -> AttachmentStore:
    store: AttachmentStore = request.app.state.attachments
    return store


async def _hub(request: HTTPConnection) -> LiveHub:
    hub: LiveHub = request.app.state.hub
    return hub


SettingsDep = Annotated[GatewaySettings, Depends(_settings)]
HubDep = Annotated[LiveHub, Depends(_hub)]
ProducerDep = Annotated[AIOKafkaProducer, Depends(_producer)]
DatabaseDep = Annotated[AsyncDatabase[dict[str, Any]], Depends(_db)]
PublisherDep = Annotated[EventPublisher, Depends(_publisher)]
AttachmentsDep = Annotated[AttachmentStore, Depends(_attachments)]


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


async def _views(request: Request) -> Views:
    views: Views = request.app.state.views
    return views


ViewsDep = Annotated[Views, Depends(_views)]


def _token(credentials: HTTPAuthorizationCredentials | None, query_token: str | None) -> str:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    if query_token:
        return query_token
    raise Unauthorized("missing bearer token")


def _agent(claims: dict[str, str]) -> AgentPrincipal:
    return AgentPrincipal(agent_id=claims["sub"], tenant=claims["tenant"], role=claims["role"])  # type: ignore[arg-type]


def _visitor(claims: dict[str, str]) -> VisitorPrincipal:
    return VisitorPrincipal(
        conversation_id=claims["conversation_id"], visitor_id=claims["sub"], tenant=claims["tenant"]
    )


async def _current_agent(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    access_token: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> AgentPrincipal:
    try:
        claims = decode_token(settings, _token(credentials, access_token), "agent")
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from exc
    return _agent(claims)


async def _current_visitor(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    access_token: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> VisitorPrincipal:
    try:
        claims = decode_token(settings, _token(credentials, access_token), "visitor")
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from exc
    return _visitor(claims)


async def _correlation_id(x_request_id: Annotated[str | None, Header(max_length=100)] = None) -> str | None:
    return x_request_id


AgentDep = Annotated[AgentPrincipal, Depends(_current_agent)]
VisitorDep = Annotated[VisitorPrincipal, Depends(_current_visitor)]
CorrelationDep = Annotated[str | None, Depends(_correlation_id)]


async def _agent_or_visitor(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    access_token: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> AgentPrincipal | VisitorPrincipal:
    """For resources both sides may read (attachments): whichever token it is, scoped as that side."""
    token = _token(credentials, access_token)
    try:
        return _agent(decode_token(settings, token, "agent"))
    except InvalidToken:
        pass
    try:
        claims = decode_token(settings, token, "visitor")
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from exc
    return VisitorPrincipal(
        conversation_id=claims["conversation_id"], visitor_id=claims["sub"], tenant=claims["tenant"]
    )


AnyPrincipalDep = Annotated[AgentPrincipal | VisitorPrincipal, Depends(_agent_or_visitor)]
