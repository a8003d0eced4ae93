"""Agents: sign-in, profile, availability, teammate search, and the team's canned responses."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, status

from services.conversation import queries as conversation_queries
from services.gateway import commands
from services.gateway.auth import AgentPrincipal, agent_token, verify_password
from services.gateway.deps import AgentDep, CorrelationDep, PublisherDep, SettingsDep, ViewsDep
from services.gateway.errors import Conflict, Forbidden, NotFound, Unauthorized
from services.gateway.schemas import CannedResponseBody, Login, SetStatus, UpdateProfile, agent_card, public
from shared.capacity import limit_of_agent
from shared.events import EventBase
from shared.events.agent import (
    AgentProfileUpdated,
    AgentStatusChanged,
    CannedResponseCreated,
    CannedResponseDeleted,
    CannedResponseUpdated,
)
from shared.events.envelope import Actor, new_id

router = APIRouter(prefix="/api/agent", tags=["agent: team"])
E = TypeVar("E", bound=EventBase)


def _agent_event(
    cls: type[E], agent: AgentPrincipal, aggregate_id: str, correlation_id: str | None, payload: Any
) -> E:
    return cls.model_validate(
        {
            "tenant": agent.tenant,
            "aggregate_id": aggregate_id,
            "actor": Actor(kind="agent", id=agent.agent_id),
            "correlation_id": correlation_id,
            "payload": payload,
        }
    )


@router.post("/auth/login", summary="Sign in with email and password")
async def login(
    body: Login,
    settings: SettingsDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    credentials = await conversation_queries.credentials_by_email(
        credentials=views.credentials, email=body.email
    )
    if credentials is None or not verify_password(credentials["password_hash"], body.password):
        raise Unauthorized("wrong email or password")
    agent = await conversation_queries.get_agent(
        agents=views.agents, tenant=credentials["tenant"], agent_id=credentials["_id"]
    )
    if agent is None:
        raise Unauthorized("this account is being set up; retry in a moment")
    principal = AgentPrincipal(agent_id=agent["_id"], tenant=agent["tenant"], role=agent["role"])
    token, expires = agent_token(settings, principal)
    card = agent_card(agent)
    if (first_status := commands.status_on_sign_in(agent=agent, correlation_id=correlation_id)) is not None:
        await publisher.append(first_status)
        card["status"] = first_status.payload.status
    return {"access_token": token, "token_type": "bearer", "expires_at": expires, "agent": card}


@router.post("/auth/refresh", summary="Exchange a valid token for a fresh one")
async def refresh(agent: AgentDep, settings: SettingsDep) -> dict[str, Any]:
    token, expires = agent_token(settings, agent)
    return {"access_token": token, "token_type": "bearer", "expires_at": expires}


async def _me(views: ViewsDep, agent: AgentPrincipal) -> dict[str, Any]:
    me = await conversation_queries.get_agent(
        agents=views.agents, tenant=agent.tenant, agent_id=agent.agent_id
    )
    if me is None:
        raise NotFound("your agent profile was not found")
    return me


@router.get("/me", summary="My profile, with the chat limit that applies to me and where it comes from")
async def my_profile(agent: AgentDep, views: ViewsDep) -> dict[str, Any]:
    counts = await conversation_queries.open_counts(conversations=views.conversations, tenant=agent.tenant)
    departments = await conversation_queries.departments(departments=views.departments, tenant=agent.tenant)
    me = await _me(views, agent)
    return agent_card(me, counts.get(agent.agent_id, 0), limit_of_agent(me, departments))


@router.patch("/me", summary="Update my profile (name, avatar, max concurrent chats)")
async def update_profile(
    body: UpdateProfile,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    await _me(views, agent)
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise Conflict("nothing to change: send name, avatar_url or max_concurrent_chats")
    event = _agent_event(AgentProfileUpdated, agent, agent.agent_id, correlation_id, changes)
    return {"events": [(await publisher.append(event)).as_json()]}


@router.put("/me/status", summary="Set my availability: available, away or offline")
async def set_status(
    body: SetStatus, agent: AgentDep, views: ViewsDep, publisher: PublisherDep, correlation_id: CorrelationDep
) -> dict[str, Any]:
    await _me(views, agent)
    event = _agent_event(AgentStatusChanged, agent, agent.agent_id, correlation_id, {"status": body.status})
    return {"status": body.status, "events": [(await publisher.append(event)).as_json()]}


@router.get("/agents", summary="Search teammates (to reassign, add, or start a chat)")
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


@router.get("/canned-responses", summary="Canned responses, searchable by shortcut or text")
async def list_canned(
    agent: AgentDep, views: ViewsDep, q: Annotated[str | None, Query(max_length=100)] = None
) -> dict[str, Any]:
    docs = await conversation_queries.canned_responses(canned=views.canned, tenant=agent.tenant, text=q)
    return {"items": [public(doc, drop=("deleted",)) for doc in docs]}


async def _shortcut_taken(views: ViewsDep, tenant: str, shortcut: str, except_id: str | None = None) -> bool:
    docs = await conversation_queries.canned_responses(canned=views.canned, tenant=tenant, text=None)
    return any(doc["shortcut"] == shortcut and doc["_id"] != except_id for doc in docs)


@router.post("/canned-responses", status_code=status.HTTP_201_CREATED, summary="Create a canned response")
async def create_canned(
    body: CannedResponseBody,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    if await _shortcut_taken(views, agent.tenant, body.shortcut):
        raise Conflict(f"the shortcut /{body.shortcut} is already used")
    event = _agent_event(CannedResponseCreated, agent, new_id(), correlation_id, body.model_dump())
    return {"id": event.aggregate_id, "events": [(await publisher.append(event)).as_json()]}


CannedId = Annotated[str, Path(min_length=1, max_length=100)]


async def _canned(views: ViewsDep, agent: AgentPrincipal, response_id: str) -> dict[str, Any]:
    doc = await conversation_queries.get_canned_response(
        canned=views.canned, tenant=agent.tenant, response_id=response_id
    )
    if doc is None:
        raise NotFound(f"canned response {response_id} not found")
    if not (agent.is_supervisor or doc["created_by"] == agent.agent_id):
        raise Forbidden("only its author or a supervisor can change a canned response")
    return doc


@router.put("/canned-responses/{response_id}", summary="Update a canned response")
async def update_canned(
    response_id: CannedId,
    body: CannedResponseBody,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    await _canned(views, agent, response_id)
    if await _shortcut_taken(views, agent.tenant, body.shortcut, except_id=response_id):
        raise Conflict(f"the shortcut /{body.shortcut} is already used")
    event = _agent_event(CannedResponseUpdated, agent, response_id, correlation_id, body.model_dump())
    return {"events": [(await publisher.append(event)).as_json()]}


@router.delete("/canned-responses/{response_id}", summary="Delete a canned response")
async def delete_canned(
    response_id: CannedId,
    agent: AgentDep,
    views: ViewsDep,
    publisher: PublisherDep,
    correlation_id: CorrelationDep,
) -> dict[str, Any]:
    await _canned(views, agent, response_id)
    event = _agent_event(CannedResponseDeleted, agent, response_id, correlation_id, {})
    return {"events": [(await publisher.append(event)).as_json()]}
