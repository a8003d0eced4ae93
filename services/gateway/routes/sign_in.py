"""Agents sign in with email and password, and exchange a valid token for a fresh one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.conversation import queries as conversation_queries
from services.gateway import team_commands
from services.gateway.auth import AgentPrincipal, agent_token, verify_password
from services.gateway.deps import AgentDep, PublisherDep, SettingsDep, ViewsDep
from services.gateway.errors import Unauthorized
from services.gateway.schemas import Login, agent_card

router = APIRouter(prefix="/api/agent/auth", tags=["agent: sign-in"])


@router.post("/login", summary="Sign in with email and password")
async def login(
    body: Login, settings: SettingsDep, views: ViewsDep, publisher: PublisherDep
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
    first_status = team_commands.status_on_sign_in(me=agent)
    if first_status is not None:
        await publisher.append(first_status)
        card["status"] = first_status.payload.status
    return {"access_token": token, "token_type": "bearer", "expires_at": expires, "agent": card}


@router.post("/refresh", summary="Exchange a valid token for a fresh one")
async def refresh(agent: AgentDep, settings: SettingsDep) -> dict[str, Any]:
    token, expires = agent_token(settings, agent)
    return {"access_token": token, "token_type": "bearer", "expires_at": expires}
