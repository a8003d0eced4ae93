"""My profile (name, avatar, chat limit) and my availability: everything under /api/agent/me."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.conversation import queries as conversation_queries
from services.gateway import team_commands
from services.gateway.deps import AgentDep, FreshAgents, MyProfileDep, PublisherDep, ViewsDep
from services.gateway.schemas import SetStatus, UpdateProfile, agent_card
from shared.capacity import limit_of_agent

router = APIRouter(prefix="/api/agent/me", tags=["agent: my profile"])


@router.get(
    "",
    summary="My profile, with the chat limit that applies to me and where it comes from",
    dependencies=[FreshAgents],
)
async def my_profile(me: MyProfileDep, agent: AgentDep, views: ViewsDep) -> dict[str, Any]:
    counts = await conversation_queries.open_counts(conversations=views.conversations, tenant=agent.tenant)
    departments = await conversation_queries.departments(departments=views.departments, tenant=agent.tenant)
    return agent_card(me, counts.get(agent.agent_id, 0), limit_of_agent(me, departments))


@router.patch(
    "", summary="Update my profile (name, avatar, max concurrent chats up to the limit a supervisor set)"
)
async def update_profile(
    body: UpdateProfile, me: MyProfileDep, views: ViewsDep, publisher: PublisherDep
) -> dict[str, Any]:
    departments = await conversation_queries.departments(departments=views.departments, tenant=me["tenant"])
    event = team_commands.update_profile(
        me=me, changes=body.model_dump(exclude_none=True), departments=departments
    )
    return {"events": [(await publisher.append(event)).as_json()]}


@router.put("/status", summary="Set my availability: available, away or offline")
async def set_status(body: SetStatus, me: MyProfileDep, publisher: PublisherDep) -> dict[str, Any]:
    event = team_commands.set_status(me=me, status=body.status)
    return {"status": body.status, "events": [(await publisher.append(event)).as_json()]}
