"""The team's canned responses: saved replies an agent inserts by typing /shortcut in the composer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from services.conversation import queries as conversation_queries
from services.gateway import team_commands
from services.gateway.auth import AgentPrincipal
from services.gateway.deps import AgentDep, FreshCanned, PublisherDep, ViewsDep
from services.gateway.errors import NotFound
from services.gateway.schemas import CannedResponseBody, public

router = APIRouter(prefix="/api/agent/canned-responses", tags=["agent: canned responses"])
CannedId = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("", summary="Canned responses, searchable by shortcut or text", dependencies=[FreshCanned])
async def list_canned(
    agent: AgentDep, views: ViewsDep, q: Annotated[str | None, Query(max_length=100)] = None
) -> dict[str, Any]:
    docs = await conversation_queries.canned_responses(canned=views.canned, tenant=agent.tenant, text=q)
    return {"items": [public(doc, drop=("deleted",)) for doc in docs]}


async def _all(views: ViewsDep, agent: AgentPrincipal) -> list[dict[str, Any]]:
    return await conversation_queries.canned_responses(canned=views.canned, tenant=agent.tenant, text=None)


async def _one(views: ViewsDep, agent: AgentPrincipal, response_id: str) -> dict[str, Any]:
    doc = await conversation_queries.get_canned_response(
        canned=views.canned, tenant=agent.tenant, response_id=response_id
    )
    if doc is None:
        raise NotFound(f"canned response {response_id} not found")
    return doc


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a canned response")
async def create_canned(
    body: CannedResponseBody, agent: AgentDep, views: ViewsDep, publisher: PublisherDep
) -> dict[str, Any]:
    event = team_commands.create_canned_response(
        agent=agent, shortcut=body.shortcut, text=body.text, existing=await _all(views, agent)
    )
    return {"id": event.aggregate_id, "events": [(await publisher.append(event)).as_json()]}


@router.put("/{response_id}", summary="Update a canned response")
async def update_canned(
    response_id: CannedId, body: CannedResponseBody, agent: AgentDep, views: ViewsDep, publisher: PublisherDep
) -> dict[str, Any]:
    event = team_commands.update_canned_response(
        agent=agent,
        response=await _one(views, agent, response_id),
        shortcut=body.shortcut,
        text=body.text,
        existing=await _all(views, agent),
    )
    return {"events": [(await publisher.append(event)).as_json()]}


@router.delete("/{response_id}", summary="Delete a canned response")
async def delete_canned(
    response_id: CannedId, agent: AgentDep, views: ViewsDep, publisher: PublisherDep
) -> dict[str, Any]:
    response = await _one(views, agent, response_id)
    event = team_commands.delete_canned_response(agent=agent, response=response)
    return {"events": [(await publisher.append(event)).as_json()]}
