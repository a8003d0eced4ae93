"""What this gateway instance knows of sign-in failures, locks and ended sessions, from the events it
published and those the live hub sees on the agent-credentials topic (other instances' too). Decisions
merge it with the credentials view, so they never wait for the projection to catch up with this instance's
own events, and an instance started later learns the rest from the view.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from services.conversation.sign_ins import (
    SessionsState,
    SignInState,
    apply_session,
    apply_sign_in,
    merged,
    session_revoked,
)
from services.gateway.publisher import EventPublisher
from shared.events import EventBase
from shared.events.agent import SESSION_EVENTS, SIGN_IN_EVENTS

ACCOUNTS_KEPT = 10_000


class CredentialRecord:
    def __init__(self, accounts_kept: int = ACCOUNTS_KEPT) -> None:
        self._sign_ins: OrderedDict[str, SignInState] = OrderedDict()
        self._sessions: dict[str, SessionsState] = {}
        self._kept = accounts_kept
        # For /metrics: every argon2 verification this instance ran, the locks it recorded, the sign-ins a
        # lock refused.
        self.password_checks = 0
        self.accounts_locked = 0
        self.refused_while_locked = 0

    def apply(self, event: EventBase) -> None:
        agent_id = event.aggregate_id
        if isinstance(event, SIGN_IN_EVENTS):
            self._sign_ins[agent_id] = apply_sign_in(self._sign_ins.pop(agent_id, SignInState()), event)
            if len(self._sign_ins) > self._kept:
                self._sign_ins.popitem(last=False)  # the view still has it
        elif isinstance(event, SESSION_EVENTS):
            self._sessions[agent_id] = apply_session(self._sessions.get(agent_id, SessionsState()), event)

    def sign_in_state(self, agent_id: str, credentials: dict[str, Any]) -> SignInState:
        view = SignInState.of_document(credentials.get("sign_in"))
        known = self._sign_ins.get(agent_id)
        return view if known is None else merged(view, known)

    def load_sessions(self, credentials: Iterable[dict[str, Any]]) -> None:
        """Ended sessions from the view, at start: revocations from before this instance ran."""
        for doc in credentials:
            if doc.get("sessions"):
                view = SessionsState.of_document(doc["sessions"])
                known = self._sessions.get(doc["_id"], SessionsState())
                self._sessions[doc["_id"]] = SessionsState(
                    ended={**view.ended, **known.ended},
                    revoked_before=max(view.revoked_before, known.revoked_before),
                )

    def is_revoked(self, agent_id: str, session_id: str, issued_at: float) -> bool:
        state = self._sessions.get(agent_id)
        return state is not None and session_revoked(state, session_id, issued_at)


class TeammateAccount:
    """A teammate's account, which has a password (so the credentials view can fold events about it), and
    how to append such an event: to the topic, then at once to this instance's record."""

    def __init__(self, teammate: dict[str, Any], publisher: EventPublisher, record: CredentialRecord) -> None:
        self.teammate = teammate
        self._publisher = publisher
        self._record = record

    async def append(self, event: EventBase) -> None:
        await self._publisher.append(event)
        self._record.apply(event)
