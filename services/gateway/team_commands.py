"""What the team's own commands mean: signing in, profile and availability, canned responses, departments.

Pure, like `commands.py` (which holds the conversation commands): from the current views and a request to
the event to append, or the ApiError a client should see when a rule forbids it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from services.gateway.auth import AgentPrincipal
from services.gateway.commands import View, agent_actor
from services.gateway.errors import ApiError, Conflict, Forbidden, NotFound
from services.gateway.schemas import ConfigureDepartment
from shared.events import Actor, EventBase
from shared.events.agent import (
    AgentProfileUpdated,
    AgentSessionsRevoked,
    AgentSignInReset,
    AgentStatus,
    AgentStatusChanged,
    CannedResponseCreated,
    CannedResponseDeleted,
    CannedResponseUpdated,
    DepartmentConfigured,
)
from shared.events.envelope import new_id

E = TypeVar("E", bound=EventBase)


def _by(agent: AgentPrincipal, cls: type[E], aggregate_id: str, payload: Any) -> E:
    return cls.model_validate(
        {
            "tenant": agent.tenant,
            "aggregate_id": aggregate_id,
            "actor": agent_actor(agent),
            "payload": payload,
        }
    )


def _about_me(me: View, cls: type[E], payload: Any) -> E:
    """An event an agent causes about their own account, from their view."""
    return cls.model_validate(
        {
            "tenant": me["tenant"],
            "aggregate_id": me["_id"],
            "actor": Actor(kind="agent", id=me["_id"]),
            "payload": payload,
        }
    )


def status_on_sign_in(*, me: View) -> AgentStatusChanged | None:
    """An agent who never chose a status becomes available on signing in, so a new team sees chats routed
    at once; a status the agent chose is remembered (an agent who went offline stays offline)."""
    if me.get("status_chosen", True):
        return None
    return _about_me(me, AgentStatusChanged, {"status": "available"})


def update_profile(*, me: View, changes: Mapping[str, Any]) -> AgentProfileUpdated:
    if not changes:
        raise Conflict("nothing to change: send name, avatar_url or max_concurrent_chats")
    return _about_me(me, AgentProfileUpdated, dict(changes))


def set_status(*, me: View, status: AgentStatus) -> AgentStatusChanged:
    return _about_me(me, AgentStatusChanged, {"status": status})


def _require_shortcut_free(existing: Iterable[View], shortcut: str, except_id: str | None = None) -> None:
    """`existing` is the team's canned responses; a shortcut names one of them, so typing /shortcut in the
    composer finds exactly one."""
    if any(doc["shortcut"] == shortcut and doc["_id"] != except_id for doc in existing):
        raise Conflict(f"the shortcut /{shortcut} is already used")


def _require_may_change(agent: AgentPrincipal, response: View) -> None:
    if not (agent.is_supervisor or response["created_by"] == agent.agent_id):
        raise Forbidden("only its author or a supervisor can change a canned response")


def create_canned_response(
    *, agent: AgentPrincipal, shortcut: str, text: str, existing: Iterable[View]
) -> CannedResponseCreated:
    _require_shortcut_free(existing, shortcut)
    payload = {"shortcut": shortcut, "text": text}
    return _by(agent, CannedResponseCreated, new_id(), payload)


def update_canned_response(
    *, agent: AgentPrincipal, response: View, shortcut: str, text: str, existing: Iterable[View]
) -> CannedResponseUpdated:
    _require_may_change(agent, response)
    _require_shortcut_free(existing, shortcut, except_id=response["_id"])
    payload = {"shortcut": shortcut, "text": text}
    return _by(agent, CannedResponseUpdated, response["_id"], payload)


def delete_canned_response(*, agent: AgentPrincipal, response: View) -> CannedResponseDeleted:
    _require_may_change(agent, response)
    return _by(agent, CannedResponseDeleted, response["_id"], {})


def configure_department(
    *,
    agent: AgentPrincipal,
    department_id: str,
    config: ConfigureDepartment,
    members_found: Mapping[str, View],
    fallback: View | None,
) -> DepartmentConfigured:
    """`members_found` is the agent views of `config.members` the team has; `fallback` the view of
    `config.fallback`, None when there is none. A fallback has to exist before a department names it, so
    overflow never goes nowhere."""
    if not agent.is_supervisor:
        raise Forbidden("only supervisors configure departments")
    members = list(dict.fromkeys(config.members))
    if missing := [m for m in members if m not in members_found]:
        raise NotFound(f"agents not found: {', '.join(missing)}")
    if config.fallback is not None:
        if config.fallback == department_id:
            raise ApiError("a department cannot fall back to itself")
        if fallback is None:
            raise NotFound(f"fallback department {config.fallback} not found")
    payload = {**config.model_dump(), "members": members}
    return _by(agent, DepartmentConfigured, department_id, payload)


def as_datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _supervisor_only(agent: AgentPrincipal, what: str) -> None:
    if not agent.is_supervisor:
        raise Forbidden(f"only supervisors {what}")


def unlock_sign_in(agent: AgentPrincipal, teammate: View) -> AgentSignInReset:
    _supervisor_only(agent, "lift a sign-in lock")
    return _by(agent, AgentSignInReset, teammate["_id"], {"reason": "unlocked"})


def revoke_sessions(
    agent: AgentPrincipal, teammate: View, *, reason: Literal["signed_out_everywhere", "deactivated"]
) -> AgentSessionsRevoked:
    """Every token the teammate holds stops working; deactivation (issue 14) is meant to append the same."""
    _supervisor_only(agent, "sign a teammate out everywhere")
    return _by(agent, AgentSessionsRevoked, teammate["_id"], {"reason": reason})
