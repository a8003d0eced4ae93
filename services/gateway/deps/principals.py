"""Who is asking (an agent or a visitor, over HTTP or a WebSocket), the publisher and files of the
request, and the rate limits and origin check of the public paths."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Query, WebSocket, WebSocketException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from services.gateway.auth import (
    AgentPrincipal,
    InvalidToken,
    VisitorPrincipal,
    agent_of_token,
    visitor_of_token,
)
from services.gateway.config import GatewaySettings
from services.gateway.credential_record import CredentialRecord
from services.gateway.deps.state import (
    CredentialRecordDep,
    RateLimitsDep,
    SettingsDep,
)
from services.gateway.errors import Forbidden, Unauthorized
from services.gateway.publisher import EventPublisher
from services.gateway.rate_limits import RateLimits, client_address
from services.gateway.uploads import Uploads

P = TypeVar("P", AgentPrincipal, VisitorPrincipal)

# Who is asking: an agent or a visitor, over HTTP or a WebSocket.

bearer_scheme = HTTPBearer(auto_error=False)


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
AccessTokenQuery = Annotated[str | None, Query(include_in_schema=False)]


def token_of(credentials: HTTPAuthorizationCredentials | None, access_token: str | None) -> str:
    """The `Authorization: Bearer` header, else `?access_token=` (a link to an attachment cannot set headers)."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    if access_token:
        return access_token
    raise Unauthorized("missing bearer token")


async def _bearer_token(credentials: BearerDep, access_token: AccessTokenQuery = None) -> str:
    return token_of(credentials, access_token)


async def _socket_token(websocket: WebSocket) -> str:
    """Browsers cannot set headers on a WebSocket: its token comes as `?token=`. The socket is accepted
    before the token is checked, so a refusal closes it with 1008 and the reason, which a browser shows
    (a refused handshake shows only 1006) and which tells the widget not to retry."""
    await websocket.accept()
    return websocket.query_params.get("token", "")


def _policy_violation(reason: str) -> WebSocketException:
    return WebSocketException(code=1008, reason=reason)


TokenDep = Annotated[str, Depends(_bearer_token)]
SocketTokenDep = Annotated[str, Depends(_socket_token)]


def _principal(
    of_token: Callable[[GatewaySettings, str], P],
    settings: GatewaySettings,
    token: str,
    refused: Callable[[str], Exception],
) -> P:
    try:
        return of_token(settings, token)
    except InvalidToken as exc:
        raise refused(str(exc)) from exc


def _live_agent(agent: AgentPrincipal, record: CredentialRecord) -> AgentPrincipal:
    """A signed-out session or a revoked agent is refused at once, not at the token's expiry."""
    if record.is_revoked(agent.agent_id, agent.session_id, agent.issued_at):
        raise InvalidToken("this session has ended; sign in again")
    return agent


def _live_agent_of(record: CredentialRecord) -> Callable[[GatewaySettings, str], AgentPrincipal]:
    """The agent of a token whose session is still live, over HTTP and WebSocket alike."""
    return lambda settings, token: _live_agent(agent_of_token(settings, token), record)


def http_agent(settings: GatewaySettings, token: str, record: CredentialRecord) -> AgentPrincipal:
    return _principal(_live_agent_of(record), settings, token, Unauthorized)


def http_visitor(settings: GatewaySettings, token: str) -> VisitorPrincipal:
    return _principal(visitor_of_token, settings, token, Unauthorized)


async def get_current_agent(
    settings: SettingsDep, token: TokenDep, record: CredentialRecordDep
) -> AgentPrincipal:
    return http_agent(settings, token, record)


async def get_current_visitor(settings: SettingsDep, token: TokenDep) -> VisitorPrincipal:
    return http_visitor(settings, token)


async def _agent_or_visitor(
    settings: SettingsDep, token: TokenDep, record: CredentialRecordDep
) -> AgentPrincipal | VisitorPrincipal:
    """For resources both sides may read (attachments): whichever token it is, scoped as that side."""
    try:
        agent_of_token(settings, token)
    except InvalidToken:
        return await get_current_visitor(settings, token)
    return await get_current_agent(settings, token, record)


async def get_socket_agent(
    settings: SettingsDep, token: SocketTokenDep, record: CredentialRecordDep
) -> AgentPrincipal:
    return _principal(_live_agent_of(record), settings, token, _policy_violation)


async def get_socket_visitor(settings: SettingsDep, token: SocketTokenDep) -> VisitorPrincipal:
    return _principal(visitor_of_token, settings, token, _policy_violation)


AgentDep = Annotated[AgentPrincipal, Depends(get_current_agent)]
VisitorDep = Annotated[VisitorPrincipal, Depends(get_current_visitor)]
AnyPrincipalDep = Annotated[AgentPrincipal | VisitorPrincipal, Depends(_agent_or_visitor)]
SocketAgentDep = Annotated[AgentPrincipal, Depends(get_socket_agent)]
SocketVisitorDep = Annotated[VisitorPrincipal, Depends(get_socket_visitor)]

# Appending events and storing files for this request.


RequestIdHeader = Annotated[str | None, Header(max_length=100)]


async def _correlation_id(x_request_id: RequestIdHeader = None) -> str | None:
    return x_request_id


CorrelationDep = Annotated[str | None, Depends(_correlation_id)]


async def get_publisher(request: HTTPConnection, correlation_id: CorrelationDep) -> EventPublisher:
    """Events appended while answering a request carry its `X-Request-ID` as their correlation id."""
    publisher: EventPublisher = request.app.state.publisher
    return publisher.for_request(correlation_id)


PublisherDep = Annotated[EventPublisher, Depends(get_publisher)]


def request_uploads(state: Any, publisher: EventPublisher) -> Uploads:
    """A request's files: kept in the app's store, their events appended by the request's publisher."""
    return Uploads(settings=state.settings, store=state.attachments, publisher=publisher)


async def get_uploads(request: HTTPConnection, publisher: PublisherDep) -> Uploads:
    return request_uploads(request.app.state, publisher)


UploadsDep = Annotated[Uploads, Depends(get_uploads)]

# Rate limits on the public paths (services/gateway/rate_limits.py): a refusal is a 429 with Retry-After,
# before anything is appended.


def address_of(request: HTTPConnection, settings: GatewaySettings) -> str:
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxies)


async def get_client_address(request: HTTPConnection, settings: SettingsDep) -> str:
    return address_of(request, settings)


ClientAddressDep = Annotated[str, Depends(get_client_address)]


def enforce_start_limit(limits: RateLimits, address: str) -> None:
    limits.enforce(
        "Too many chats were started from your network", ("conversation_starts_per_address", address)
    )


@dataclass(frozen=True)
class VisitorLimit:
    """A limit on what one visitor, and any visitor at one address, may do (rules in rate_limits.py)."""

    refusal: str
    per_visitor: str
    per_address: str

    def enforce(self, limits: RateLimits, address: str, visitor: VisitorPrincipal) -> None:
        limits.enforce(self.refusal, (self.per_visitor, visitor.visitor_id), (self.per_address, address))


def _visitor_limit(rule: VisitorLimit) -> Any:
    async def limit(limits: RateLimitsDep, address: ClientAddressDep, visitor: VisitorDep) -> None:
        rule.enforce(limits, address, visitor)

    return Depends(limit)


async def _limit_sign_ins(limits: RateLimitsDep, address: ClientAddressDep) -> None:
    limits.enforce("Too many sign-in attempts", ("sign_ins_per_address", address))


def check_page_origin(request: HTTPConnection, settings: GatewaySettings) -> None:
    """Proof a real page started the chat: when the tenant lists its sites, the browser's Origin header must
    be one of them (a script can forge it, but then it no longer runs in a visitor's browser, and the
    per-address limit still holds it)."""
    allowed = settings.widget_allowed_origins.get(settings.default_tenant)
    if allowed and request.headers.get("origin") not in allowed:
        raise Forbidden("chats can only be started from this team's website")


VISITOR_MESSAGES = VisitorLimit(
    "You are sending messages too fast",
    per_visitor="messages_per_visitor",
    per_address="messages_per_address",
)
VisitorUploadLimit = _visitor_limit(
    VisitorLimit(
        "Too many files were uploaded", per_visitor="uploads_per_visitor", per_address="uploads_per_address"
    )
)
SignInAddressLimit = Depends(_limit_sign_ins)
