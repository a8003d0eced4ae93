"""Agents sign in with email and password, exchange a valid token for a fresh one, and sign out.

A locked account (too many wrong passwords, `services/gateway/lockout.py`) is refused before its password
is checked, so a flood against it costs no argon2 work; per-address and per-account rate limits come first.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, status

from services.conversation import queries as conversation_queries
from services.gateway import lockout, team_commands
from services.gateway.auth import AgentPrincipal, agent_token, spend_a_password_check, verify_password
from services.gateway.credential_record import CredentialRecord
from services.gateway.deps import (
    AgentDep,
    CredentialRecordDep,
    PublisherDep,
    RateLimitsDep,
    SettingsDep,
    SignInAddressLimit,
    ViewsDep,
)
from services.gateway.errors import TooManyRequests, Unauthorized
from services.gateway.publisher import EventPublisher
from services.gateway.rate_limits import retry_after_header
from services.gateway.schemas import Login, agent_card
from shared.emails import normalized_email
from shared.events import EventBase
from shared.events.agent import AgentSessionEnded
from shared.events.envelope import Actor

router = APIRouter(prefix="/api/agent/auth", tags=["agent: sign-in"])


@router.post("/login", summary="Sign in with email and password", dependencies=[SignInAddressLimit])
async def login(
    body: Login,
    settings: SettingsDep,
    views: ViewsDep,
    publisher: PublisherDep,
    limits: RateLimitsDep,
    record: CredentialRecordDep,
) -> dict[str, Any]:
    limits.enforce("Too many sign-in attempts", ("sign_ins_per_account", normalized_email(body.email)))
    credentials = await conversation_queries.credentials_by_email(
        credentials=views.credentials, email=body.email
    )
    if credentials is None or not credentials.get("password_hash"):
        record.password_checks += 1
        spend_a_password_check(body.password)
        raise Unauthorized("wrong email or password")
    now = time.time()
    state = record.sign_in_state(credentials["_id"], credentials)
    if (wait := lockout.lock_remaining(state, now)) is not None:
        record.refused_while_locked += 1
        seconds = retry_after_header(wait)
        raise TooManyRequests(
            f"This account is locked after too many failed sign-ins; try again in {seconds} s.",
            retry_after=int(seconds),
            code="account_locked",
        )
    record.password_checks += 1
    if not verify_password(credentials["password_hash"], body.password):
        events = lockout.after_failure(credentials, state, now, lockout.LockoutPolicy.of_settings(settings))
        await _record(publisher, record, events)
        raise Unauthorized("wrong email or password")
    agent = await conversation_queries.get_agent(
        agents=views.agents, tenant=credentials["tenant"], agent_id=credentials["_id"]
    )
    if agent is None:
        raise Unauthorized("this account is being set up; retry in a moment")
    team_commands.require_may_sign_in(deactivated=record.is_deactivated(agent["_id"], agent))
    await _record(publisher, record, lockout.after_success(credentials, state))
    principal = AgentPrincipal(agent_id=agent["_id"], tenant=agent["tenant"], role=agent["role"])
    token, expires = agent_token(settings, principal)
    card = agent_card(agent)
    first_status = team_commands.status_on_sign_in(me=agent)
    if first_status is not None:
        await publisher.append(first_status)
        card["status"] = first_status.payload.status
    return {"access_token": token, "token_type": "bearer", "expires_at": expires, "agent": card}


async def _record(publisher: EventPublisher, record: CredentialRecord, events: list[EventBase]) -> None:
    """Appends, then folds into this instance's record at once: its next decision does not wait for the
    live hub or the projection to bring its own events back."""
    if not events:
        return
    await publisher.append_all(*events)
    for event in events:
        record.apply(event)
        if event.type == "agent.sign_in_locked":
            record.accounts_locked += 1


@router.post("/refresh", summary="Exchange a valid token for a fresh one (same session)")
async def refresh(agent: AgentDep, settings: SettingsDep) -> dict[str, Any]:
    token, expires = agent_token(settings, agent, agent.session_id or None)
    return {"access_token": token, "token_type": "bearer", "expires_at": expires}


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out: this session's tokens stop working at once, on every gateway instance",
)
async def logout(
    agent: AgentDep, settings: SettingsDep, publisher: PublisherDep, record: CredentialRecordDep
) -> None:
    # Every token of the session (refreshes included) expires within one token lifetime from now.
    expires = datetime.now(UTC) + timedelta(minutes=settings.agent_token_minutes)
    ended = AgentSessionEnded(
        tenant=agent.tenant,
        aggregate_id=agent.agent_id,
        actor=Actor(kind="agent", id=agent.agent_id),
        payload={"session_id": agent.session_id or "none", "expires_at": expires},
    )
    await _record(publisher, record, [ended])
