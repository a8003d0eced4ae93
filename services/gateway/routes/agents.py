"""Teammates: search the team's agents, to reassign a chat, add someone to it, or start a direct chat."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.conversation import queries as conversation_queries
from services.gateway.deps import AgentDep, FreshAgents, ViewsDep
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
    return {
        "items": [
            agent_card(doc, doc["open_conversations"], limit_of_agent(doc, departments)) for doc in docs
        ]
    }
