"""What the team's own commands mean: signing in, profile and availability, canned responses, departments,
and a supervisor managing the team's accounts (invite, one-time password links, role, chat limit,
deactivation).

Pure, like `commands.py` (which holds the conversation commands): from the current views and a request to
the event to append, or the ApiError a client should see when a rule forbids it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from services.gateway.auth import AgentPrincipal
from services.gateway.commands import View, agent_actor
from services.gateway.errors import ApiError, Conflict, Forbidden, Gone, NotFound
from services.gateway.schemas import ConfigureDepartment, InviteAgent
from shared.capacity import limit_of_agent
from shared.emails import normalized_email
from shared.events import Actor, EventBase
from shared.events import agent as agent_events
from shared.events import canned_response as canned_response_events
from shared.events import department as department_events
from shared.events.envelope import new_id
from shared.password_links import link_voided

E = TypeVar("E", bound=EventBase)

MAX_DEPARTMENT_MEMBERS = next(
    m.max_length
    for m in department_events.DepartmentConfiguredPayload.model_fields["members"].metadata
    if getattr(m, "max_length", None) is not None
)


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


def status_on_sign_in(*, me: View) -> agent_events.AgentStatusChanged | None:
    """An agent who never chose a status becomes available on signing in, so a new team sees chats routed
    at once; a status the agent chose is remembered (an agent who went offline stays offline)."""
    if me.get("status_chosen", True):
        return None
    return _about_me(me, agent_events.AgentStatusChanged, {"status": "available"})


def update_profile(
    *, me: View, changes: Mapping[str, Any], departments: Iterable[View] = ()
) -> agent_events.AgentProfileUpdated:
    """An agent may lower their own chat limit, never raise it past what the team set (a supervisor's
    setting, else the department's or team's default that applies); supervisors set any limit."""
    if not changes:
        raise Conflict("nothing to change: send name, avatar_url or max_concurrent_chats")
    wanted = changes.get("max_concurrent_chats")
    if wanted is not None and me.get("role") != "supervisor":
        ceiling = own_chat_limit_ceiling(me, departments)
        if wanted > ceiling:
            raise Forbidden(f"your chat limit can be at most {ceiling}, the limit a supervisor set")
    return _about_me(me, agent_events.AgentProfileUpdated, dict(changes))


def own_chat_limit_ceiling(me: View, departments: Iterable[View]) -> int:
    set_by_team = me.get("max_chats_set_by_team", me.get("max_concurrent_chats"))
    if set_by_team is not None:
        return int(set_by_team)
    return limit_of_agent({**me, "max_concurrent_chats": None}, departments).chats


def set_status(*, me: View, status: agent_events.AgentStatus) -> agent_events.AgentStatusChanged:
    return _about_me(me, agent_events.AgentStatusChanged, {"status": status})


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
) -> canned_response_events.CannedResponseCreated:
    _require_shortcut_free(existing, shortcut)
    payload = {"shortcut": shortcut, "text": text}
    return _by(agent, canned_response_events.CannedResponseCreated, new_id(), payload)


def update_canned_response(
    *, agent: AgentPrincipal, response: View, shortcut: str, text: str, existing: Iterable[View]
) -> canned_response_events.CannedResponseUpdated:
    _require_may_change(agent, response)
    _require_shortcut_free(existing, shortcut, except_id=response["_id"])
    payload = {"shortcut": shortcut, "text": text}
    return _by(agent, canned_response_events.CannedResponseUpdated, response["_id"], payload)


def delete_canned_response(
    *, agent: AgentPrincipal, response: View
) -> canned_response_events.CannedResponseDeleted:
    _require_may_change(agent, response)
    return _by(agent, canned_response_events.CannedResponseDeleted, response["_id"], {})


def configure_department(
    *,
    agent: AgentPrincipal,
    department_id: str,
    config: ConfigureDepartment,
    members_found: Mapping[str, View],
    fallback: View | None,
) -> department_events.DepartmentConfigured:
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
    return _by(agent, department_events.DepartmentConfigured, department_id, payload)


def as_datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _supervisor_only(agent: AgentPrincipal, what: str) -> None:
    if not agent.is_supervisor:
        raise Forbidden(f"only supervisors {what}")


def unlock_sign_in(agent: AgentPrincipal, teammate: View) -> agent_events.AgentSignInReset:
    _supervisor_only(agent, "lift a sign-in lock")
    return _by(agent, agent_events.AgentSignInReset, teammate["_id"], {"reason": "unlocked"})


def revoke_sessions(
    agent: AgentPrincipal,
    teammate: View,
    *,
    reason: Literal["signed_out_everywhere", "deactivated", "role_changed"],
) -> agent_events.AgentSessionsRevoked:
    """Every token the teammate holds stops working (sign out everywhere, deactivation, a role change)."""
    _supervisor_only(agent, "sign a teammate out everywhere")
    return _by(agent, agent_events.AgentSessionsRevoked, teammate["_id"], {"reason": reason})


# -- the team's accounts (supervisors) ------------------------------------------------------------------


def agent_id_for(tenant: str, email: str) -> str:
    """Stable per (tenant, email): registering or inviting the same person twice targets the same agent."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"parley:{tenant}:agent:{normalized_email(email)}"))


@dataclass(frozen=True, slots=True)
class NewLink:
    """A one-time link about to be issued: its id, its token's hash and when it expires."""

    link_id: str
    token_hash: str
    expires_at: datetime


def _link_issued(
    agent: AgentPrincipal, agent_id: str, email: str, link: NewLink, purpose: Literal["invite", "reset"]
) -> agent_events.AgentPasswordLinkIssued:
    payload = {
        "link_id": link.link_id,
        "email": email,
        "token_hash": link.token_hash,
        "purpose": purpose,
        "expires_at": link.expires_at,
    }
    return _by(agent, agent_events.AgentPasswordLinkIssued, agent_id, payload)


def invite_agent(
    *,
    agent: AgentPrincipal,
    invitation: InviteAgent,
    email_in_use: bool,
    departments_found: Mapping[str, View],
    link: NewLink,
) -> list[EventBase]:
    """The invited account, the departments it joins (each department's configuration with it added to
    the members) and its one-time link to set a password. `departments_found` maps the requested
    department ids the team has to their views."""
    _supervisor_only(agent, "invite teammates")
    email = normalized_email(invitation.email)
    require_email_free(email_in_use=email_in_use)
    wanted = list(dict.fromkeys(invitation.departments))
    if missing := [d for d in wanted if d not in departments_found]:
        raise NotFound(f"departments not found: {', '.join(missing)}")
    agent_id = agent_id_for(agent.tenant, email)
    account = {
        "email": email,
        "name": invitation.name,
        "role": invitation.role,
        "max_concurrent_chats": invitation.max_concurrent_chats,
    }
    events: list[EventBase] = [_by(agent, agent_events.AgentInvited, agent_id, account)]
    for department_id in wanted:
        department = departments_found[department_id]
        configuration = {
            k: v
            for k, v in department.items()
            if k in department_events.DepartmentConfiguredPayload.model_fields
        }
        members = list(dict.fromkeys([*department.get("members", []), agent_id]))
        if len(members) > MAX_DEPARTMENT_MEMBERS:
            raise Conflict(
                f"the department {department['name']} is full ({MAX_DEPARTMENT_MEMBERS} members); "
                "remove someone from it or choose another"
            )
        events.append(
            _by(
                agent,
                department_events.DepartmentConfigured,
                department_id,
                {**configuration, "members": members},
            )
        )
    events.append(_link_issued(agent, agent_id, email, link, "invite"))
    return events


EMAIL_IN_USE = "this email address is already used by an account; use another"


def require_email_free(*, email_in_use: bool) -> None:
    """An email names one account across every team (sign-in finds the account by its email alone). The
    same words whichever team has it, so an answer never tells one team about another's accounts."""
    if email_in_use:
        raise Conflict(EMAIL_IN_USE, code="email_in_use")


def issue_password_link(
    *, agent: AgentPrincipal, teammate: View, has_password: bool, link: NewLink
) -> agent_events.AgentPasswordLinkIssued:
    """A new one-time link (it replaces any earlier one): the invitation again for an account without a
    password yet, else a reset. A deactivated account is reactivated first."""
    _supervisor_only(agent, "issue password links")
    if teammate.get("deactivated"):
        raise Conflict(f"{teammate['name']} is deactivated; reactivate them first")
    purpose: Literal["invite", "reset"] = "reset" if has_password else "invite"
    return _link_issued(agent, teammate["_id"], teammate["email"], link, purpose)


def usable_password_link(
    *, link: View | None, used: bool, account: View | None, deactivated: bool, now: datetime
) -> View:
    """`link` is the account's latest link whose token matches (with `tenant` and `agent_id`), None when no
    link has this token; `used` whether this instance saw it used (or is using it right now); `account` the
    agent's view and `deactivated` whether the account is deactivated (this instance's knowledge first).
    Checked before any password is hashed."""
    if link is None:
        raise NotFound("this link is not valid; ask a supervisor for a new one")
    if used or link.get("used_at") is not None or deactivated or link_voided(link, account):
        # A deactivated account's link answers as a used one: whoever holds it learns nothing more.
        raise Gone("this link was already used; sign in, or ask a supervisor for a new one")
    if link["expires_at"] <= now:
        raise Gone("this link has expired; ask a supervisor for a new one")
    return link


def set_password_with_link(*, link: View, password_hash: str) -> list[EventBase]:
    """The account's password, set by its owner with a usable link (`usable_password_link`), which it uses
    up; every session the account held ends (whoever signed in with the old password is signed out, and
    `/auth/refresh` no longer extends their session), and any sign-in lock is lifted. For an invitation
    there is no session or lock yet, so the last two change nothing."""
    owner = {
        "tenant": link["tenant"],
        "aggregate_id": link["agent_id"],
        "actor": Actor(kind="agent", id=link["agent_id"]),
    }
    return [
        agent_events.AgentPasswordSet.model_validate(
            {
                **owner,
                "payload": {
                    "email": link["email"],
                    "password_hash": password_hash,
                    "link_id": link["link_id"],
                },
            }
        ),
        agent_events.AgentSessionsRevoked.model_validate({**owner, "payload": {"reason": "password_reset"}}),
        agent_events.AgentSignInReset.model_validate({**owner, "payload": {"reason": "password_reset"}}),
    ]


Team = Sequence[tuple[View, View | None]]
"""The team's agent views, each with its credentials view (None while an invited account's link is not in
the view yet), as `conversation_queries.team` answers them."""


def _active_supervisors(team: Team) -> set[str]:
    """Supervisors who can act: not deactivated, and with a password (an invited one may never accept)."""
    return {
        a["_id"]
        for a, credentials in team
        if a.get("role") == "supervisor"
        and not a.get("deactivated")
        and (credentials or {}).get("password_hash")
    }


def _keep_a_supervisor(team: Team, teammate: View, what: str) -> None:
    if _active_supervisors(team) <= {teammate["_id"]}:
        raise Conflict(f"{what} would leave the team without an active supervisor who can sign in")


def change_role(
    *, agent: AgentPrincipal, teammate: View, role: agent_events.AgentRole, team: Team, has_password: bool
) -> list[EventBase]:
    """The new role, and the teammate's sessions revoked so their next token carries it (a demoted
    supervisor loses supervisor rights at once)."""
    _supervisor_only(agent, "change roles")
    if teammate["role"] == role:
        raise Conflict(
            f"{teammate['name']} is already {'a supervisor' if role == 'supervisor' else 'an agent'}"
        )
    if role != "supervisor":
        _keep_a_supervisor(team, teammate, "this change")
    events: list[EventBase] = [_by(agent, agent_events.AgentRoleChanged, teammate["_id"], {"role": role})]
    if has_password:
        events.append(revoke_sessions(agent, teammate, reason="role_changed"))
    return events


def set_chat_limit(
    *, agent: AgentPrincipal, teammate: View, max_chats: int | None
) -> agent_events.AgentChatLimitSet:
    _supervisor_only(agent, "set a teammate's chat limit")
    return _by(agent, agent_events.AgentChatLimitSet, teammate["_id"], {"max_concurrent_chats": max_chats})


def deactivate_agent(
    *, agent: AgentPrincipal, teammate: View, team: Team, has_password: bool
) -> list[EventBase]:
    """Deactivated, and every session revoked at once (every gateway instance refuses the tokens and
    closes the sockets); the router hands their chats on when it reads the deactivation."""
    _supervisor_only(agent, "deactivate teammates")
    if teammate.get("deactivated"):
        raise Conflict(f"{teammate['name']} is already deactivated")
    _keep_a_supervisor(team, teammate, "deactivating them")
    events: list[EventBase] = [_by(agent, agent_events.AgentDeactivated, teammate["_id"], {})]
    if has_password:
        events.append(revoke_sessions(agent, teammate, reason="deactivated"))
    return events


AccountState = Literal["deactivated", "invited", "active"]


def account_state(agent: View, credentials: View | None) -> AccountState:
    """What the Team page says of an account: deactivated, invited (no password yet) or active."""
    if agent.get("deactivated"):
        return "deactivated"
    if not (credentials or {}).get("password_hash"):
        return "invited"
    return "active"


def require_may_sign_in(*, deactivated: bool) -> None:
    """Asked only once the password was right: anyone else gets the usual "wrong email or password"."""
    if deactivated:
        raise Forbidden("this account is deactivated; ask a supervisor", code="account_deactivated")


def require_may_take_chats(teammate: View) -> None:
    """A deactivated agent is given no chat, added to none, and has no direct chats."""
    if teammate.get("deactivated"):
        raise Conflict(f"{teammate['name']} is deactivated")


def reactivate_agent(*, agent: AgentPrincipal, teammate: View) -> agent_events.AgentReactivated:
    _supervisor_only(agent, "reactivate teammates")
    if not teammate.get("deactivated"):
        raise Conflict(f"{teammate['name']} is not deactivated")
    return _by(agent, agent_events.AgentReactivated, teammate["_id"], {})
