"""The routes the bench drives on every chat message, each resolved as ONE dependency.

FastAPI solves every node of a dependency tree on each request, cached or not: the visitor's message post
resolved 27 of them, a third of the gateway's CPU under load (py-spy). Each dependency here makes the same
checks as the chain of dependencies it replaces (principals.py, documents.py, fresh_reads.py), by calling
the same helpers, and refuses with the same errors; tests/unit/test_chat_route_checks.py holds them to it.
The order differs in one way: FastAPI validates a dependency's own parameters before calling it, so an
over-long conversation id or X-Request-ID is now a 422 before the token, origin and rate-limit checks,
where the chain ran those checks first. Among themselves, the checks keep the chain's order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from services.gateway.auth import AgentPrincipal, VisitorPrincipal
from services.gateway.config import GatewaySettings
from services.gateway.deps.documents import (
    ConversationId,
    load_team_conversation,
    load_visitor_conversation,
    visitor_conversation_status,
)
from services.gateway.deps.fresh_reads import MinPositionQuery, parse_wanted, visitor_wait
from services.gateway.deps.principals import (
    VISITOR_MESSAGES,
    AccessTokenQuery,
    RequestIdHeader,
    address_of,
    bearer_scheme,
    check_page_origin,
    enforce_start_limit,
    http_agent,
    http_visitor,
    request_uploads,
    token_of,
)
from services.gateway.deps.state import Views
from services.gateway.publisher import EventPublisher
from services.gateway.uploads import Uploads


async def _request_token(request: HTTPConnection, access_token: str | None) -> str:
    """As `TokenDep`, with the header parsed by the same `HTTPBearer` called as a plain function."""
    return token_of(await bearer_scheme(request), access_token)


# So the routes below still declare the bearer scheme in the OpenAPI document (`openapi_extra`), as the
# routes whose dependencies use `TokenDep` do.
BEARER_DOCS: dict[str, Any] = {"security": [{"HTTPBearer": []}]}


@dataclass(frozen=True)
class ChatStart:
    settings: GatewaySettings
    views: Views
    publisher: EventPublisher


async def get_chat_start(request: HTTPConnection, x_request_id: RequestIdHeader = None) -> ChatStart:
    """Starting a chat: the page's origin is checked, then the per-address limit."""
    state = request.app.state
    check_page_origin(request, state.settings)
    enforce_start_limit(state.rate_limits, address_of(request, state.settings))
    return ChatStart(state.settings, state.views, state.publisher.for_request(x_request_id))


@dataclass(frozen=True)
class VisitorWrite:
    visitor: VisitorPrincipal
    conversation: dict[str, Any]  # as far as writing to it needs (visitor_conversation_status)
    publisher: EventPublisher
    uploads: Uploads


async def get_visitor_write(
    request: HTTPConnection, access_token: AccessTokenQuery = None, x_request_id: RequestIdHeader = None
) -> VisitorWrite:
    """A visitor's message: their token, then their message limit, then their conversation's status."""
    state = request.app.state
    visitor = http_visitor(state.settings, await _request_token(request, access_token))
    VISITOR_MESSAGES.enforce(state.rate_limits, address_of(request, state.settings), visitor)
    conversation = await visitor_conversation_status(visitor, state.hub, state.views)
    publisher = state.publisher.for_request(x_request_id)
    return VisitorWrite(visitor, conversation, publisher, request_uploads(state, publisher))


@dataclass(frozen=True)
class AgentConversationWrite:
    agent: AgentPrincipal
    conversation: dict[str, Any]
    views: Views
    publisher: EventPublisher
    uploads: Uploads


async def get_agent_conversation_write(
    request: HTTPConnection,
    conversation_id: ConversationId,
    access_token: AccessTokenQuery = None,
    x_request_id: RequestIdHeader = None,
) -> AgentConversationWrite:
    """An agent's write to a conversation: their live session, then the conversation in their team."""
    state = request.app.state
    agent = http_agent(state.settings, await _request_token(request, access_token), state.credential_record)
    conversation = await load_team_conversation(state.views, agent, conversation_id)
    publisher = state.publisher.for_request(x_request_id)
    uploads = request_uploads(state, publisher)
    return AgentConversationWrite(agent, conversation, state.views, publisher, uploads)


@dataclass(frozen=True)
class VisitorConversationRead:
    visitor: VisitorPrincipal
    conversation: dict[str, Any]
    views: Views


async def get_visitor_conversation_read(
    request: HTTPConnection,
    min_position: MinPositionQuery = [],  # noqa: B006  (as in _wanted)
    access_token: AccessTokenQuery = None,
) -> VisitorConversationRead:
    """The visitor's read of their conversation (the bench's projection-lag probe): the positions named are
    parsed, then the token checked, then the view waited for as visitor_reads does, then read."""
    state = request.app.state
    wanted = parse_wanted(min_position)
    visitor = http_visitor(state.settings, await _request_token(request, access_token))
    await visitor_wait(state.settings, state.views.conversations, visitor, wanted)
    return VisitorConversationRead(
        visitor, await load_visitor_conversation(visitor, state.views), state.views
    )


ChatStartDep = Annotated[ChatStart, Depends(get_chat_start)]
VisitorWriteDep = Annotated[VisitorWrite, Depends(get_visitor_write)]
AgentConversationWriteDep = Annotated[AgentConversationWrite, Depends(get_agent_conversation_write)]
VisitorConversationReadDep = Annotated[VisitorConversationRead, Depends(get_visitor_conversation_read)]
