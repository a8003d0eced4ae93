"""The only home of FastAPI `Depends`: everything a route needs comes from here.

Every dependency is `async def` although none awaits: FastAPI runs plain `def` dependencies in a thread
pool, and those hops cost more than the work itself on the hot path (seen in py-spy profiles of the bench).
The public `get_*` functions are the seams in-process tests replace with `app.dependency_overrides`.

A dependency that loads a document (ConversationDep, MyProfileDep, TeammateDep) answers 404 for an unknown
one before FastAPI validates the route's own body and query parameters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from aiokafka import AIOKafkaProducer
from fastapi import Depends, Header, Path, Query, WebSocket, WebSocketException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from starlette.requests import HTTPConnection

from services.conversation import queries as conversation_queries
from services.gateway import commands, team_commands
from services.gateway.attachments import AttachmentStore
from services.gateway.auth import (
    AgentPrincipal,
    InvalidToken,
    VisitorPrincipal,
    agent_of_token,
    visitor_of_token,
)
from services.gateway.config import GatewaySettings
from services.gateway.credential_record import CredentialRecord, TeammateAccount
from services.gateway.errors import ApiError, Forbidden, NotFound, Unauthorized
from services.gateway.freshness import foreign, parse_min_positions, wait_for_view
from services.gateway.live_hub import LiveHub
from services.gateway.publisher import EventPublisher
from services.gateway.rate_limits import RateLimits, client_address
from services.gateway.schemas import ChooseAgent
from services.gateway.uploads import Uploads
from services.webhooks import queries as webhook_queries

Collection = AsyncCollection[dict[str, Any]]
P = TypeVar("P", AgentPrincipal, VisitorPrincipal)

# What the lifespan in app.py put on app.state; the Annotated aliases below give each its type.


def _app_state(attribute: str) -> Callable[[HTTPConnection], Awaitable[Any]]:
    async def dependency(connection: HTTPConnection) -> Any:
        return getattr(connection.app.state, attribute)

    dependency.__name__ = f"get_{attribute}"
    return dependency


get_settings = _app_state("settings")
_producer = _app_state("producer")
_db = _app_state("db")
get_attachments = _app_state("attachments")
get_hub = _app_state("hub")
get_views = _app_state("views")
get_credential_record = _app_state("credential_record")
get_rate_limits = _app_state("rate_limits")


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
HubDep = Annotated[LiveHub, Depends(get_hub)]
CredentialRecordDep = Annotated[CredentialRecord, Depends(get_credential_record)]
RateLimitsDep = Annotated[RateLimits, Depends(get_rate_limits)]
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


ViewsDep = Annotated[Views, Depends(get_views)]
ViewOf = Callable[[Views], Collection]

# Who is asking: an agent or a visitor, over HTTP or a WebSocket.

_bearer = HTTPBearer(auto_error=False)


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
AccessTokenQuery = Annotated[str | None, Query(include_in_schema=False)]


def _token(credentials: HTTPAuthorizationCredentials | None, access_token: str | None) -> str:
    """The `Authorization: Bearer` header, else `?access_token=` (a link to an attachment cannot set headers)."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    if access_token:
        return access_token
    raise Unauthorized("missing bearer token")


async def _bearer_token(credentials: BearerDep, access_token: AccessTokenQuery = None) -> str:
    return _token(credentials, access_token)


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


def _http_agent(settings: GatewaySettings, token: str, record: CredentialRecord) -> AgentPrincipal:
    return _principal(lambda s, t: _live_agent(agent_of_token(s, t), record), settings, token, Unauthorized)


def _http_visitor(settings: GatewaySettings, token: str) -> VisitorPrincipal:
    return _principal(visitor_of_token, settings, token, Unauthorized)


async def get_current_agent(
    settings: SettingsDep, token: TokenDep, record: CredentialRecordDep
) -> AgentPrincipal:
    return _http_agent(settings, token, record)


async def get_current_visitor(settings: SettingsDep, token: TokenDep) -> VisitorPrincipal:
    return _http_visitor(settings, token)


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
    return _principal(
        lambda s, t: _live_agent(agent_of_token(s, t), record), settings, token, _policy_violation
    )


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


async def get_uploads(settings: SettingsDep, store: AttachmentsDep, publisher: PublisherDep) -> Uploads:
    return Uploads(settings=settings, store=store, publisher=publisher)


UploadsDep = Annotated[Uploads, Depends(get_uploads)]

# Rate limits on the public paths (services/gateway/rate_limits.py): a refusal is a 429 with Retry-After,
# before anything is appended.


def _address(request: HTTPConnection, settings: GatewaySettings) -> str:
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxies)


async def get_client_address(request: HTTPConnection, settings: SettingsDep) -> str:
    return _address(request, settings)


ClientAddressDep = Annotated[str, Depends(get_client_address)]


def _enforce_start_limit(limits: RateLimits, address: str) -> None:
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


def _check_page_origin(request: HTTPConnection, settings: GatewaySettings) -> None:
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

# The documents a request is about, loaded from the views and scoped to the asker's team.

ConversationId = Annotated[str, Path(min_length=1, max_length=100)]


async def _team_conversation(views: Views, agent: AgentPrincipal, conversation_id: str) -> dict[str, Any]:
    """The conversation in the path, if it belongs to the signed-in agent's team: any agent of the team may
    open it, and each command then decides what this agent may do to it. A conversation of another team
    is as unknown as one that does not exist."""
    conversation = await conversation_queries.get_conversation(
        conversations=views.conversations, tenant=agent.tenant, conversation_id=conversation_id
    )
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    return conversation


async def get_conversation(
    conversation_id: ConversationId, agent: AgentDep, views: ViewsDep
) -> dict[str, Any]:
    return await _team_conversation(views, agent, conversation_id)


async def _visitor_conversation(visitor: VisitorPrincipal, views: Views) -> dict[str, Any]:
    """The one conversation a visitor token reaches. The token was minted only after the broker
    acknowledged conversation.started, so the conversation exists even when the projection has not shown
    it yet: a visitor typing fast must not get a 404."""
    conversation = await conversation_queries.get_conversation(
        conversations=views.conversations, tenant=visitor.tenant, conversation_id=visitor.conversation_id
    )
    return conversation if conversation is not None else commands.pending_visitor_conversation(visitor)


async def get_visitor_conversation(visitor: VisitorDep, views: ViewsDep) -> dict[str, Any]:
    return await _visitor_conversation(visitor, views)


async def _visitor_conversation_status(
    visitor: VisitorPrincipal, hub: LiveHub, views: Views
) -> dict[str, Any]:
    """The visitor's conversation as far as writing to it needs: its identity and whether it is closed.
    The live hub knows that for every conversation it followed (no view read on a visitor's message);
    for the others it is read from the view."""
    status = hub.statuses.of(visitor.conversation_id)
    if status is None:
        return await _visitor_conversation(visitor, views)
    return {**commands.pending_visitor_conversation(visitor), "status": status}


async def _team_agent(views: Views, agent: AgentPrincipal, agent_id: str, unknown: str) -> dict[str, Any]:
    found = await conversation_queries.get_agent(agents=views.agents, tenant=agent.tenant, agent_id=agent_id)
    if found is None:
        raise NotFound(unknown)
    return found


async def get_my_profile(agent: AgentDep, views: ViewsDep) -> dict[str, Any]:
    """The signed-in agent's own view."""
    return await _team_agent(views, agent, agent.agent_id, "your agent profile was not found")


async def get_named_teammate(body: ChooseAgent, agent: AgentDep, views: ViewsDep) -> dict[str, Any]:
    """The teammate a request body names (`{"agent_id": ...}`), if on the signed-in agent's team and not
    deactivated (a deactivated agent is given no chat, added to none, and has no direct chats)."""
    teammate = await _team_agent(views, agent, body.agent_id, f"agent {body.agent_id} not found")
    team_commands.require_may_take_chats(teammate)
    return teammate


async def get_teammate_in_path(
    agent_id: Annotated[str, Path(min_length=1, max_length=100)], agent: AgentDep, views: ViewsDep
) -> dict[str, Any]:
    """The teammate the path names (`/agents/{agent_id}/...`), if on the signed-in agent's team."""
    return await _team_agent(views, agent, agent_id, f"agent {agent_id} not found")


TeammateInPathDep = Annotated[dict[str, Any], Depends(get_teammate_in_path)]


async def _account_of(
    teammate: dict[str, Any], views: Views, publisher: EventPublisher, record: CredentialRecord
) -> TeammateAccount:
    credentials = await conversation_queries.credentials_of_agent(
        credentials=views.credentials, tenant=teammate["tenant"], agent_id=teammate["_id"]
    )
    return TeammateAccount(teammate, publisher, record, credentials)


async def get_teammate_account(
    teammate: TeammateInPathDep, views: ViewsDep, publisher: PublisherDep, record: CredentialRecordDep
) -> TeammateAccount:
    account = await _account_of(teammate, views, publisher, record)
    if not account.has_password:
        raise NotFound(f"agent {teammate['_id']} has no password yet")
    return account


async def get_supervisor(agent: AgentDep) -> AgentPrincipal:
    """Team settings, reports and integrations are for supervisors."""
    if not agent.is_supervisor:
        raise Forbidden("only supervisors can do this")
    return agent


SupervisorDep = Annotated[AgentPrincipal, Depends(get_supervisor)]


async def get_team_member(
    supervisor: SupervisorDep,
    agent_id: Annotated[str, Path(min_length=1, max_length=100)],
    views: ViewsDep,
    publisher: PublisherDep,
    record: CredentialRecordDep,
) -> TeammateAccount:
    """The teammate the path names, for a supervisor managing the team (403 for anyone else, before the
    teammate is looked up); with or without a password yet."""
    teammate = await _team_agent(views, supervisor, agent_id, f"agent {agent_id} not found")
    return await _account_of(teammate, views, publisher, record)


ConversationDep = Annotated[dict[str, Any], Depends(get_conversation)]
TeammateAccountDep = Annotated[TeammateAccount, Depends(get_teammate_account)]
VisitorConversationDep = Annotated[dict[str, Any], Depends(get_visitor_conversation)]
MyProfileDep = Annotated[dict[str, Any], Depends(get_my_profile)]
TeammateDep = Annotated[dict[str, Any], Depends(get_named_teammate)]
TeamMemberDep = Annotated[TeammateAccount, Depends(get_team_member)]


async def get_webhook_endpoint(
    endpoint_id: Annotated[str, Path(min_length=1, max_length=100)],
    supervisor: SupervisorDep,
    db: DatabaseDep,
) -> dict[str, Any]:
    doc = await webhook_queries.get_endpoint(
        endpoints=db["webhook_endpoints"], tenant=supervisor.tenant, endpoint_id=endpoint_id
    )
    if doc is None:
        raise NotFound(f"webhook endpoint {endpoint_id} not found")
    return doc


WebhookEndpointDep = Annotated[dict[str, Any], Depends(get_webhook_endpoint)]

# Read your own writes (services/gateway/freshness.py): a read route lists one of these in its decorator's
# `dependencies`, which FastAPI resolves before the route's own, so what the route loads is at least as new
# as the positions the client named.


MinPositionQuery = Annotated[
    list[str],
    Query(
        description="`<document id>:<position>`, repeatable: answer only once the view has applied "
        "these events (positions from a command's answer or a pushed event); 503 view_behind with "
        "Retry-After if it has not within a couple of seconds"
    ),
]


def _parse_wanted(min_position: list[str]) -> dict[str, int]:
    try:
        return parse_min_positions(min_position)
    except ValueError as exc:
        raise ApiError(str(exc)) from None


async def _wanted(
    min_position: MinPositionQuery = [],  # noqa: B006  (FastAPI copies a default; a list query must default to one)
) -> dict[str, int]:
    return _parse_wanted(min_position)


WantedDep = Annotated[dict[str, int], Depends(_wanted)]


async def _wait(
    settings: GatewaySettings, collection: Collection, tenant: str, wanted: dict[str, int]
) -> None:
    await wait_for_view(
        collection,
        tenant,
        wanted,
        timeout=settings.fresh_read_wait_seconds,
        poll=settings.fresh_read_poll_seconds,
        retry_after=settings.fresh_read_retry_after_seconds,
    )


def agent_reads(view: ViewOf) -> Any:
    """An agent's read of `view` that waits for the positions named, in the agent's team only."""

    async def wait(wanted: WantedDep, agent: AgentDep, views: ViewsDep, settings: SettingsDep) -> None:
        await _wait(settings, view(views), agent.tenant, wanted)

    return Depends(wait)


async def _visitor_wait(
    settings: GatewaySettings, collection: Collection, visitor: VisitorPrincipal, wanted: dict[str, int]
) -> None:
    if others := foreign(wanted, visitor.conversation_id):
        raise ApiError(f"min_position may name your own conversation only, not {others[0][:100]!r}")
    await _wait(settings, collection, visitor.tenant, wanted)


def visitor_reads(view: ViewOf) -> Any:
    """A visitor's read of `view`: they may wait for their own conversation only."""

    async def wait(wanted: WantedDep, visitor: VisitorDep, views: ViewsDep, settings: SettingsDep) -> None:
        await _visitor_wait(settings, view(views), visitor, wanted)

    return Depends(wait)


FreshConversations = agent_reads(lambda views: views.conversations)
FreshHistory = agent_reads(lambda views: views.history)  # a summary is saved after its transcript lines
FreshAgents = agent_reads(lambda views: views.agents)
FreshDepartments = agent_reads(lambda views: views.departments)
FreshCanned = agent_reads(lambda views: views.canned)
VisitorFreshHistory = visitor_reads(lambda views: views.history)


async def _request_token(request: HTTPConnection, access_token: str | None) -> str:
    """As `TokenDep`, with the header parsed by the same `HTTPBearer` called as a plain function."""
    return _token(await _bearer(request), access_token)


# Those routes declare the bearer scheme in the OpenAPI document themselves (`openapi_extra`), as `TokenDep`
# does for the others.
BEARER_DOCS: dict[str, Any] = {"security": [{"HTTPBearer": []}]}

# The routes the bench drives on every chat message, each resolved as ONE dependency: FastAPI solves every
# node of a dependency tree on each request, cached or not, and the message post's 27 nodes cost more
# gateway CPU than the rest of the request (py-spy under load). Each makes the same checks, in the same
# order, as the chain of dependencies above, by calling the same helpers.


@dataclass(frozen=True)
class ChatStart:
    settings: GatewaySettings
    views: Views
    publisher: EventPublisher


async def get_chat_start(request: HTTPConnection, x_request_id: RequestIdHeader = None) -> ChatStart:
    """Starting a chat: the page's origin is checked, then the per-address limit."""
    state = request.app.state
    _check_page_origin(request, state.settings)
    _enforce_start_limit(state.rate_limits, _address(request, state.settings))
    return ChatStart(state.settings, state.views, state.publisher.for_request(x_request_id))


@dataclass(frozen=True)
class VisitorWrite:
    visitor: VisitorPrincipal
    conversation: dict[str, Any]  # as far as writing to it needs (_visitor_conversation_status)
    publisher: EventPublisher
    uploads: Uploads


async def get_visitor_write(
    request: HTTPConnection, access_token: AccessTokenQuery = None, x_request_id: RequestIdHeader = None
) -> VisitorWrite:
    """A visitor's message: their token, then their message limit, then their conversation's status."""
    state = request.app.state
    visitor = _http_visitor(state.settings, await _request_token(request, access_token))
    VISITOR_MESSAGES.enforce(state.rate_limits, _address(request, state.settings), visitor)
    conversation = await _visitor_conversation_status(visitor, state.hub, state.views)
    publisher = state.publisher.for_request(x_request_id)
    return VisitorWrite(
        visitor, conversation, publisher, Uploads(state.settings, state.attachments, publisher)
    )


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
    agent = _http_agent(state.settings, await _request_token(request, access_token), state.credential_record)
    conversation = await _team_conversation(state.views, agent, conversation_id)
    publisher = state.publisher.for_request(x_request_id)
    uploads = Uploads(state.settings, state.attachments, publisher)
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
    wanted = _parse_wanted(min_position)
    visitor = _http_visitor(state.settings, await _request_token(request, access_token))
    await _visitor_wait(state.settings, state.views.conversations, visitor, wanted)
    return VisitorConversationRead(visitor, await _visitor_conversation(visitor, state.views), state.views)


ChatStartDep = Annotated[ChatStart, Depends(get_chat_start)]
VisitorWriteDep = Annotated[VisitorWrite, Depends(get_visitor_write)]
AgentConversationWriteDep = Annotated[AgentConversationWrite, Depends(get_agent_conversation_write)]
VisitorConversationReadDep = Annotated[VisitorConversationRead, Depends(get_visitor_conversation_read)]
