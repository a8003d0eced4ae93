"""Departments (teams): who is in them, how chats are distributed, where overflow goes.

Transferring a conversation to a department is a conversation action: `routes/conversations.py`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from services.conversation import queries as conversation_queries
from services.gateway import team_commands
from services.gateway.deps import AgentDep, FreshDepartments, PublisherDep, ViewsDep
from services.gateway.schemas import ConfigureDepartment, public

router = APIRouter(prefix="/api/agent/departments", tags=["agent: departments"])
DepartmentId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$", description="e.g. sales, support")]


@router.get(
    "", summary="Departments with their members and routing strategy", dependencies=[FreshDepartments]
)
async def list_departments(agent: AgentDep, views: ViewsDep) -> dict[str, Any]:
    docs = await conversation_queries.departments(departments=views.departments, tenant=agent.tenant)
    return {"items": [public(doc) for doc in docs]}


@router.put("/{department_id}", summary="Supervisors: create or reconfigure a department")
async def configure_department(
    department_id: DepartmentId,
    body: ConfigureDepartment,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
) -> dict[str, Any]:
    members = await conversation_queries.agents_by_id(
        agents=views.agents, tenant=agent.tenant, agent_ids=body.members
    )
    fallback = (
        await conversation_queries.get_department(
            departments=views.departments, tenant=agent.tenant, department_id=body.fallback
        )
        if body.fallback is not None
        else None
    )
    event = team_commands.configure_department(
        agent=agent, department_id=department_id, config=body, members_found=members, fallback=fallback
    )
    return {"events": [(await publisher.append(event)).as_json()]}
