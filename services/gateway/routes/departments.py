"""Departments (teams): who is in them, how chats are distributed, where overflow goes; and transfers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from services.conversation import queries as conversation_queries
from services.gateway import commands
from services.gateway.deps import AgentDep, CorrelationDep, PublisherDep, ViewsDep
from services.gateway.errors import ApiError, Forbidden, NotFound
from services.gateway.routes.conversations import load_conversation
from services.gateway.schemas import ConfigureDepartment, Transfer, public
from shared.events.agent import DepartmentConfigured
from shared.events.envelope import Actor

router = APIRouter(prefix="/api/agent", tags=["agent: departments"])
DepartmentId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$", description="e.g. sales, support")]


@router.get("/departments", summary="Departments with their members and routing strategy")
async def list_departments(agent: AgentDep, views: ViewsDep) -> dict[str, Any]:
    docs = await conversation_queries.departments(departments=views.departments, tenant=agent.tenant)
    return {"items": [public(doc) for doc in docs]}


@router.put("/departments/{department_id}", summary="Supervisors: create or reconfigure a department")
async def configure_department(
    department_id: DepartmentId,
    body: ConfigureDepartment,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    if not agent.is_supervisor:
        raise Forbidden("only supervisors configure departments")
    members = list(dict.fromkeys(body.members))
    found = await conversation_queries.agents_by_id(
        agents=views.agents, tenant=agent.tenant, agent_ids=members
    )
    if missing := [m for m in members if m not in found]:
        raise NotFound(f"agents not found: {', '.join(missing)}")
    if body.fallback is not None:
        if body.fallback == department_id:
            raise ApiError("a department cannot fall back to itself")
        fallback = await conversation_queries.get_department(
            departments=views.departments, tenant=agent.tenant, department_id=body.fallback
        )
        if fallback is None:
            raise NotFound(f"fallback department {body.fallback} not found")
    event = DepartmentConfigured(
        tenant=agent.tenant,
        aggregate_id=department_id,
        actor=Actor(kind="agent", id=agent.agent_id),
        correlation_id=correlation_id,
        payload={**body.model_dump(), "members": members},
    )
    return {"events": [(await publisher.append(event)).as_json()]}


@router.post("/conversations/{conversation_id}/transfer", summary="Transfer to another department")
async def transfer(
    conversation_id: Annotated[str, Path(min_length=1, max_length=100)],
    body: Transfer,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    conversation = await load_conversation(views, agent.tenant, conversation_id)
    department = await conversation_queries.get_department(
        departments=views.departments, tenant=agent.tenant, department_id=body.department
    )
    if department is None:
        raise NotFound(f"department {body.department} not found")
    event = commands.transfer(
        conversation=conversation,
        agent=agent,
        department=department,
        reason=body.reason,
        correlation_id=correlation_id,
    )
    return {"events": [(await publisher.append(event)).as_json()]}
