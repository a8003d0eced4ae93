"""The documents a request is about, loaded from the views and scoped to the asker's team."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Query

from services.conversation import queries as conversation_queries
from services.gateway import commands, team_commands
from services.gateway.auth import (
    AgentPrincipal,
    VisitorPrincipal,
)
from services.gateway.credential_record import CredentialRecord, TeammateAccount
from services.gateway.deps.principals import AgentDep, PublisherDep, VisitorDep
from services.gateway.deps.state import CredentialRecordDep, DatabaseDep, Views, ViewsDep
from services.gateway.errors import Forbidden, NotFound
from services.gateway.live_hub import LiveHub
from services.gateway.publisher import EventPublisher
from services.gateway.schemas import ChooseAgent
from services.webhooks import queries as webhook_queries
from shared.events import EventBase
from shared.events.conversation import MAX_POSITION

ConversationId = Annotated[str, Path(min_length=1, max_length=100)]


async def load_team_conversation(views: Views, agent: AgentPrincipal, conversation_id: str) -> dict[str, Any]:
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
    return await load_team_conversation(views, agent, conversation_id)


@dataclass(frozen=True)
class MessagesPage:
    """Which lines of a transcript a read wants: the agent's and the visitor's read page alike."""

    after: int | None
    limit: int


async def get_messages_page(
    after: Annotated[
        int | None, Query(ge=-1, le=MAX_POSITION, description="Only lines after this position")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> MessagesPage:
    return MessagesPage(after, limit)


async def load_visitor_conversation(visitor: VisitorPrincipal, views: Views) -> dict[str, Any]:
    """The one conversation a visitor token reaches. The token was minted only after the broker
    acknowledged conversation.started, so the conversation exists even when the projection has not shown
    it yet: a visitor typing fast must not get a 404."""
    conversation = await conversation_queries.get_conversation(
        conversations=views.conversations, tenant=visitor.tenant, conversation_id=visitor.conversation_id
    )
    return conversation if conversation is not None else commands.pending_visitor_conversation(visitor)


async def get_visitor_conversation(visitor: VisitorDep, views: ViewsDep) -> dict[str, Any]:
    return await load_visitor_conversation(visitor, views)


async def visitor_conversation_status(
    visitor: VisitorPrincipal, hub: LiveHub, views: Views
) -> dict[str, Any]:
    """The visitor's conversation as far as writing to it needs: its identity and whether it is closed.
    The live hub knows that for every conversation it followed (no view read on a visitor's message);
    for the others it is read from the view."""
    status = hub.followed.of(visitor.conversation_id)
    if status is None:
        return await load_visitor_conversation(visitor, views)
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
MessagesPageDep = Annotated[MessagesPage, Depends(get_messages_page)]
TeammateAccountDep = Annotated[TeammateAccount, Depends(get_teammate_account)]
VisitorConversationDep = Annotated[dict[str, Any], Depends(get_visitor_conversation)]
MyProfileDep = Annotated[dict[str, Any], Depends(get_my_profile)]
TeammateDep = Annotated[dict[str, Any], Depends(get_named_teammate)]
TeamMemberDep = Annotated[TeammateAccount, Depends(get_team_member)]


@dataclass(frozen=True)
class ChatAction:
    """An agent acting on a conversation of their team: the conversation, the agent, and where the event
    the rule decides goes."""

    conversation: dict[str, Any]
    agent: AgentPrincipal
    publisher: EventPublisher

    async def answer(self, event: EventBase | None, *, unchanged: str = "") -> dict[str, Any]:
        """The response of every chat action: the events appended, or why nothing needed to change."""
        if event is None:
            return {"events": [], "unchanged": unchanged}
        return {"events": [(await self.publisher.append(event)).as_json()]}


async def get_chat_action(
    conversation: ConversationDep, agent: AgentDep, publisher: PublisherDep
) -> ChatAction:
    return ChatAction(conversation, agent, publisher)


ChatActionDep = Annotated[ChatAction, Depends(get_chat_action)]


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
