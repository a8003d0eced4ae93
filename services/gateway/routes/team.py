"""Supervisors manage the team: the accounts with their state, invitations, one-time password links, role,
chat limit, deactivation. Every change is an event; the link's token is shown once, in the answer that
issued it, and only its hash is kept (on the restricted agent-credentials topic)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, status

from services.conversation import queries as conversation_queries
from services.gateway import team_commands
from services.gateway.config import GatewaySettings
from services.gateway.credential_record import TeammateAccount
from services.gateway.deps import (
    CredentialRecordDep,
    FreshAgents,
    FreshDepartments,
    PublisherDep,
    SettingsDep,
    SupervisorDep,
    TeamMemberDep,
    ViewsDep,
)
from services.gateway.schemas import ChangeRole, InviteAgent, SetChatLimit, agent_card
from shared.capacity import limit_of_agent
from shared.events.envelope import new_id
from shared.password_links import hash_link_token, link_path, link_token

router = APIRouter(prefix="/api/agent/team", tags=["agent: team (supervisors)"])


def _new_link(settings: GatewaySettings) -> tuple[str, team_commands.NewLink]:
    """A new link's token (shown once; the mailer derives the same to email it) and what is recorded of it."""
    link_id = new_id()
    token = link_token(settings.link_key(), link_id)
    expires = datetime.now(UTC) + timedelta(hours=settings.password_link_hours)
    return token, team_commands.NewLink(link_id, hash_link_token(token), expires)


def _link_answer(
    token: str, link: team_commands.NewLink, purpose: str, settings: GatewaySettings
) -> dict[str, Any]:
    return {
        "url": link_path(token),
        "purpose": purpose,
        "expires_at": link.expires_at,
        "emailed": settings.email_configured,
    }


def member(
    doc: dict[str, Any],
    credentials: dict[str, Any] | None,
    departments: list[dict[str, Any]],
    open_conversations: int,
    now: float,
) -> dict[str, Any]:
    """One row of the Team page: the agent's card with their account's state (never a hash or token)."""
    card = agent_card(doc, open_conversations, limit_of_agent(doc, departments))
    link = (credentials or {}).get("password_link")
    locked_until = ((credentials or {}).get("sign_in") or {}).get("locked_until")
    card.update(
        account=team_commands.account_state(doc, credentials),
        departments=[
            {"id": d["_id"], "name": d["name"]} for d in departments if doc["_id"] in d.get("members", [])
        ],
        locked_until=team_commands.as_datetime(locked_until) if locked_until and locked_until > now else None,
        password_link=(
            {
                "purpose": link["purpose"],
                "expires_at": link["expires_at"],
                "used": link.get("used_at") is not None,
                "emailed": link.get("emailed"),  # the mailer's last outcome: sent, retrying or failed
            }
            if link
            else None
        ),
        deactivated_at=doc.get("deactivated_at"),
    )
    return card


@router.get(
    "",
    summary="The team: every account with its role, limit, departments and state",
    dependencies=[FreshAgents],
)
async def list_team(supervisor: SupervisorDep, views: ViewsDep) -> dict[str, Any]:
    rows = await conversation_queries.team(
        agents=views.agents, credentials=views.credentials, tenant=supervisor.tenant
    )
    departments = await conversation_queries.departments(
        departments=views.departments, tenant=supervisor.tenant
    )
    counts = await conversation_queries.open_counts(
        conversations=views.conversations, tenant=supervisor.tenant
    )
    now = time.time()
    return {"items": [member(doc, creds, departments, counts.get(doc["_id"], 0), now) for doc, creds in rows]}


@router.post(
    "/invitations",
    status_code=status.HTTP_201_CREATED,
    summary="Invite a teammate: the account, its departments, and a one-time link to set a password",
    # The invitation rewrites each department's members from the view: a client that just changed a
    # department names its position (min_position), so the rewrite starts from that change.
    dependencies=[FreshDepartments],
)
async def invite(
    body: InviteAgent,
    supervisor: SupervisorDep,
    views: ViewsDep,
    publisher: PublisherDep,
    record: CredentialRecordDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    email_in_use = await conversation_queries.agent_by_email(
        agents=views.agents, tenant=supervisor.tenant, email=body.email
    ) is not None or await conversation_queries.email_taken(credentials=views.credentials, email=body.email)
    departments = await conversation_queries.departments(
        departments=views.departments, tenant=supervisor.tenant
    )
    token, link = _new_link(settings)
    events = team_commands.invite_agent(
        agent=supervisor,
        invitation=body,
        email_in_use=email_in_use,
        departments_found={d["_id"]: d for d in departments if d["_id"] in body.departments},
        link=link,
    )
    account = TeammateAccount({"_id": events[0].aggregate_id}, publisher, record)
    return {
        "id": events[0].aggregate_id,
        "link": _link_answer(token, link, "invite", settings),
        "events": await account.append(*events),
    }


@router.post(
    "/{agent_id}/password-link",
    status_code=status.HTTP_201_CREATED,
    summary="A new one-time link to set the password (the invitation again, or a reset); earlier links stop working",
)
async def password_link(
    account: TeamMemberDep, supervisor: SupervisorDep, settings: SettingsDep
) -> dict[str, Any]:
    token, link = _new_link(settings)
    event = team_commands.issue_password_link(
        agent=supervisor, teammate=account.teammate, has_password=account.has_password, link=link
    )
    return {
        "link": _link_answer(token, link, event.payload.purpose, settings),
        "events": await account.append(event),
    }


@router.put("/{agent_id}/role", summary="Change a teammate's role (they sign in again to use it)")
async def change_role(
    body: ChangeRole, account: TeamMemberDep, supervisor: SupervisorDep, views: ViewsDep
) -> dict[str, Any]:
    team = await conversation_queries.team(
        agents=views.agents, credentials=views.credentials, tenant=supervisor.tenant
    )
    events = team_commands.change_role(
        agent=supervisor,
        teammate=account.teammate,
        role=body.role,
        team=team,
        has_password=account.has_password,
    )
    return {"events": await account.append(*events)}


@router.put(
    "/{agent_id}/chat-limit", summary="Set a teammate's chat limit (null: the department's or team's)"
)
async def set_chat_limit(
    body: SetChatLimit, account: TeamMemberDep, supervisor: SupervisorDep
) -> dict[str, Any]:
    event = team_commands.set_chat_limit(
        agent=supervisor, teammate=account.teammate, max_chats=body.max_concurrent_chats
    )
    return {"events": await account.append(event)}


@router.post(
    "/{agent_id}/deactivate",
    summary="Deactivate a teammate: no sign-in, every session ends, their open chats are routed again at once",
)
async def deactivate(account: TeamMemberDep, supervisor: SupervisorDep, views: ViewsDep) -> dict[str, Any]:
    team = await conversation_queries.team(
        agents=views.agents, credentials=views.credentials, tenant=supervisor.tenant
    )
    events = team_commands.deactivate_agent(
        agent=supervisor, teammate=account.teammate, team=team, has_password=account.has_password
    )
    return {"events": await account.append(*events)}


@router.post("/{agent_id}/reactivate", summary="Let a deactivated teammate sign in again")
async def reactivate(account: TeamMemberDep, supervisor: SupervisorDep) -> dict[str, Any]:
    event = team_commands.reactivate_agent(agent=supervisor, teammate=account.teammate)
    return {"events": await account.append(event)}
