"""Teammates: search the team's agents, to reassign a chat, add someone to it, or start a direct chat.
Supervisors also see whose sign-in is locked, lift a lock, and sign a teammate out everywhere."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from services.conversation import queries as conversation_queries
from services.gateway import team_commands
from services.gateway.deps import AgentDep, FreshAgents, TeammateAccountDep, ViewsDep
from services.gateway.schemas import agent_card
from shared.capacity import limit_of_agent

router = APIRouter(prefix="/api/agent", tags=["agent: teammates"])


@router.get(
    "/agents", summary="Search teammates (to reassign, add, or start a chat)", dependencies=[FreshAgents]
)
async def search_agents(
    agent: AgentDep, views: ViewsDep, q: Annotated[str | None, Query(max_length=100)] = None
) -> dict[str, Any]:
    docs = await conversation_queries.search_agents(
        agents=views.agents, conversations=views.conversations, tenant=agent.tenant, text=q
    )
    departments = await conversation_queries.departments(departments=views.departments, tenant=agent.tenant)
    locked = (
        await conversation_queries.locked_accounts(
            credentials=views.credentials, tenant=agent.tenant, now=time.time()
        )
        if agent.is_supervisor
        else {}
    )
    items = []
    for doc in docs:
        card = agent_card(doc, doc["open_conversations"], limit_of_agent(doc, departments))
        if agent.is_supervisor:
            card["locked_until"] = team_commands.as_datetime(locked.get(doc["_id"]))
        items.append(card)
    return {"items": items}


@router.post(
    "/agents/{agent_id}/unlock",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Supervisors: lift a teammate's sign-in lock",
)
async def unlock(account: TeammateAccountDep, agent: AgentDep) -> None:
    await account.append(team_commands.unlock_sign_in(agent, account.teammate))


@router.post(
    "/agents/{agent_id}/sign-out-everywhere",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Supervisors: end every session of a teammate, on every gateway instance and socket",
)
async def sign_out_everywhere(account: TeammateAccountDep, agent: AgentDep) -> None:
    await account.append(
        team_commands.revoke_sessions(agent, account.teammate, reason="signed_out_everywhere")
    )
