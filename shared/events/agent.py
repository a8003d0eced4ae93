"""Events of agents (agent-events topic, keyed by agent id), their credentials (agent-credentials topic,
restricted) and their presence (presence topic)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, HttpUrl

from shared.events.envelope import EventBase, Strict
from shared.events.transcript import EmailFailedFields, EmailSentFields

AgentStatus = Literal["available", "away", "offline"]
AgentRole = Literal["agent", "supervisor"]


class AgentRegisteredPayload(Strict):
    email: str = Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    name: str = Field(min_length=1, max_length=200)
    role: AgentRole = "agent"
    max_concurrent_chats: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="The agent's own chat limit; null: their department's default applies, else the team's.",
    )


class AgentRegistered(EventBase):
    type: Literal["agent.registered"] = "agent.registered"
    payload: AgentRegisteredPayload


class AgentInvitedPayload(AgentRegisteredPayload):
    """The same account fields as agent.registered; the account has no password until the invitation's
    one-time link is used (agent.password_link_issued, agent.password_set). Department membership is the
    department.configured events appended with it."""


class AgentInvited(EventBase):
    """A supervisor invited a teammate (the actor is the supervisor)."""

    type: Literal["agent.invited"] = "agent.invited"
    payload: AgentInvitedPayload


class AgentRoleChangedPayload(Strict):
    role: AgentRole


class AgentRoleChanged(EventBase):
    """A supervisor changed a teammate's role; their sessions are revoked with it, so the next token says it."""

    type: Literal["agent.role_changed"] = "agent.role_changed"
    payload: AgentRoleChangedPayload


class AgentChatLimitSetPayload(Strict):
    max_concurrent_chats: int | None = Field(
        ge=1,
        le=100,
        description="The limit a supervisor set; null: their department's default applies, else the team's. "
        "The agent may lower their own limit, never raise it past this.",
    )


class AgentChatLimitSet(EventBase):
    """A supervisor set a teammate's chat limit."""

    type: Literal["agent.chat_limit_set"] = "agent.chat_limit_set"
    payload: AgentChatLimitSetPayload


class AgentDeactivatedPayload(Strict):
    pass


class AgentDeactivated(EventBase):
    """A supervisor deactivated a teammate: they cannot sign in, their sessions are revoked
    (agent.sessions_revoked, reason deactivated), the router hands their open chats on at once, as if they
    had left each, and never assigns them a chat again until they are reactivated."""

    type: Literal["agent.deactivated"] = "agent.deactivated"
    payload: AgentDeactivatedPayload


class AgentReactivatedPayload(Strict):
    pass


class AgentReactivated(EventBase):
    """A deactivated teammate may sign in again; they are offline until they do."""

    type: Literal["agent.reactivated"] = "agent.reactivated"
    payload: AgentReactivatedPayload


class AgentProfileUpdatedPayload(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    avatar_url: HttpUrl | None = None
    max_concurrent_chats: int | None = Field(default=None, ge=1, le=100)


class AgentProfileUpdated(EventBase):
    type: Literal["agent.profile_updated"] = "agent.profile_updated"
    payload: AgentProfileUpdatedPayload


class AgentStatusChangedPayload(Strict):
    status: AgentStatus


class AgentStatusChanged(EventBase):
    type: Literal["agent.status_changed"] = "agent.status_changed"
    payload: AgentStatusChangedPayload


class AgentHeartbeatPayload(Strict):
    status: AgentStatus = Field(description="The status the dashboard shows when it beats.")


class AgentHeartbeat(EventBase):
    """An open dashboard is alive (on the presence topic, every ~20 s); silence means the tab is gone."""

    type: Literal["agent.heartbeat"] = "agent.heartbeat"
    payload: AgentHeartbeatPayload


class AgentPasswordSetPayload(Strict):
    email: str = Field(max_length=320)
    password_hash: str = Field(description="argon2id hash; the clear password never leaves the gateway.")
    link_id: str | None = Field(
        default=None,
        max_length=100,
        description="The one-time link the password was set with (agent.password_link_issued); it is used up.",
    )


class AgentPasswordLinkIssuedPayload(Strict):
    link_id: str = Field(min_length=1, max_length=100)
    email: str = Field(max_length=320)
    token_hash: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the link's token (hex); the token itself is shown once and never stored.",
    )
    purpose: Literal["invite", "reset"]
    expires_at: datetime


class AgentPasswordLinkIssued(EventBase):
    """A supervisor issued a one-time link to set the password (an invitation or a reset). Only the latest
    link of an account is valid, once, until it expires (restricted agent-credentials topic). Its token is
    HMAC-SHA256 of the link id under the deployment's secret key, so only the gateway and the mailer (which
    emails it when SMTP is configured) can name it; the event holds the token's SHA-256 only."""

    type: Literal["agent.password_link_issued"] = "agent.password_link_issued"
    payload: AgentPasswordLinkIssuedPayload


class AgentPasswordSet(EventBase):
    """On the restricted agent-credentials topic only, so analytics consumers never see hashes."""

    type: Literal["agent.password_set"] = "agent.password_set"
    payload: AgentPasswordSetPayload


class AgentPasswordLinkEmailedPayload(EmailSentFields):
    link_id: str = Field(min_length=1, max_length=100)


class AgentPasswordLinkEmailed(EventBase):
    """Written only by the mailer (when SMTP is configured): the server accepted the email with the link."""

    type: Literal["agent.password_link_emailed"] = "agent.password_link_emailed"
    payload: AgentPasswordLinkEmailedPayload


class AgentPasswordLinkEmailFailedPayload(EmailFailedFields):
    link_id: str = Field(min_length=1, max_length=100)


class AgentPasswordLinkEmailFailed(EventBase):
    """Written only by the mailer: an attempt to email the link failed. With `next_attempt_at` it is also the
    retry's schedule, read back by whichever mailer instance owns the partition."""

    type: Literal["agent.password_link_email_failed"] = "agent.password_link_email_failed"
    payload: AgentPasswordLinkEmailFailedPayload


class AgentSignInFailedPayload(Strict):
    pass


class AgentSignInFailed(EventBase):
    """A wrong password for this account (agent-credentials topic): failures in a window lock the account."""

    type: Literal["agent.sign_in_failed"] = "agent.sign_in_failed"
    payload: AgentSignInFailedPayload


class AgentSignInLockedPayload(Strict):
    locked_until: datetime = Field(
        description="Sign-in is refused, without checking the password, until then."
    )
    failures: int = Field(ge=1, description="Failed sign-ins in the window that led to the lock.")
    lock_number: int = Field(
        ge=1, description="Locks since the last successful sign-in; each lasts twice the last."
    )


class AgentSignInLocked(EventBase):
    type: Literal["agent.sign_in_locked"] = "agent.sign_in_locked"
    payload: AgentSignInLockedPayload


class AgentSignInResetPayload(Strict):
    reason: Literal["signed_in", "unlocked", "password_reset"] = Field(
        description="signed_in: the right password after failures; unlocked: a supervisor lifted the lock; "
        "password_reset: the owner set a new password with a one-time link."
    )


class AgentSignInReset(EventBase):
    """Failed sign-ins and any lock are forgotten: the next lock starts again at the shortest interval."""

    type: Literal["agent.sign_in_reset"] = "agent.sign_in_reset"
    payload: AgentSignInResetPayload


class AgentSessionEndedPayload(Strict):
    session_id: str = Field(min_length=1, max_length=100)
    expires_at: datetime = Field(description="When the session's token expires anyway; forgotten after.")


class AgentSessionEnded(EventBase):
    """An agent signed out: the token of this session is refused at once by every gateway instance."""

    type: Literal["agent.session_ended"] = "agent.session_ended"
    payload: AgentSessionEndedPayload


class AgentSessionsRevokedPayload(Strict):
    reason: Literal["signed_out_everywhere", "deactivated", "role_changed", "password_reset"]


class AgentSessionsRevoked(EventBase):
    """Every token this agent was issued before the event is refused (sign out everywhere, deactivation, a
    role change: the next sign-in's token carries the new role; a password set with a one-time link: whoever
    held a session with the old password loses it)."""

    type: Literal["agent.sessions_revoked"] = "agent.sessions_revoked"
    payload: AgentSessionsRevokedPayload


ACCOUNT_ACTIVITY_EVENTS = (AgentDeactivated, AgentReactivated)
AGENT_EVENTS = (
    AgentRegistered,
    AgentInvited,
    AgentProfileUpdated,
    AgentStatusChanged,
    AgentRoleChanged,
    AgentChatLimitSet,
    *ACCOUNT_ACTIVITY_EVENTS,
)
SIGN_IN_EVENTS = (AgentSignInFailed, AgentSignInLocked, AgentSignInReset)
SESSION_EVENTS = (AgentSessionEnded, AgentSessionsRevoked)
LINK_EMAIL_EVENTS = (AgentPasswordLinkEmailed, AgentPasswordLinkEmailFailed)
CREDENTIAL_EVENTS = (
    AgentPasswordSet,
    AgentPasswordLinkIssued,
    *LINK_EMAIL_EVENTS,
    *SIGN_IN_EVENTS,
    *SESSION_EVENTS,
)
PRESENCE_EVENTS = (AgentHeartbeat,)
