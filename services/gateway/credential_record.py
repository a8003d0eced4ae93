"""What this gateway instance knows of sign-in failures, locks, ended sessions, one-time password links and
deactivated accounts, from the events it published and those the live hub sees on the agent-credentials and
agent-events topics (other instances' too). Decisions merge it with the views, so they never wait for the
projection to catch up with this instance's own events, and an instance started later learns the rest from
the views.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from services.conversation import sign_ins
from services.conversation.sign_ins import SessionsState, SignInState
from services.gateway.publisher import EventPublisher
from shared.emails import normalized_email
from shared.events import EventBase
from shared.events import agent as agent_events

ACCOUNTS_KEPT = 10_000
LINKS_KEPT = 10_000


class CredentialRecord:
    def __init__(self, accounts_kept: int = ACCOUNTS_KEPT) -> None:
        self._sign_ins: OrderedDict[str, SignInState] = OrderedDict()
        self._sessions: dict[str, SessionsState] = {}
        # agent id -> their latest one-time link, as the credentials view keeps it (plus tenant, agent_id)
        self._links: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._agent_of_link_token: dict[str, str] = {}  # token hash -> agent id
        self._used_links: OrderedDict[str, None] = OrderedDict()
        # Links a request of this instance is using right now (claimed before it awaits the append).
        self._claimed_links: set[str] = set()
        self._deactivated: dict[str, bool] = {}  # agent id -> deactivated, for every account this knows of
        self._kept = accounts_kept
        # For /metrics: every argon2 verification this instance ran, the locks it recorded, the sign-ins a
        # lock refused.
        self.password_checks = 0
        self.accounts_locked = 0
        self.refused_while_locked = 0

    def apply(self, event: EventBase) -> None:
        agent_id = event.aggregate_id
        if isinstance(event, agent_events.SIGN_IN_EVENTS):
            self._sign_ins[agent_id] = sign_ins.apply_sign_in(
                self._sign_ins.pop(agent_id, SignInState()), event
            )
            if len(self._sign_ins) > self._kept:
                self._sign_ins.popitem(last=False)  # the view still has it
        elif isinstance(event, agent_events.SESSION_EVENTS):
            self._sessions[agent_id] = sign_ins.apply_session(
                self._sessions.get(agent_id, SessionsState()), event
            )
        elif isinstance(event, agent_events.AgentPasswordLinkIssued):
            self._note_link(event)
        elif isinstance(event, agent_events.AgentPasswordSet) and event.payload.link_id is not None:
            self._used_links[event.payload.link_id] = None
            if len(self._used_links) > LINKS_KEPT:
                self._used_links.popitem(last=False)
        elif isinstance(event, agent_events.AgentDeactivated | agent_events.AgentReactivated):
            self._deactivated[agent_id] = isinstance(event, agent_events.AgentDeactivated)

    def _note_link(self, event: agent_events.AgentPasswordLinkIssued) -> None:
        p = event.payload
        previous = self._links.pop(event.aggregate_id, None)
        if previous is not None:
            self._agent_of_link_token.pop(previous["token_hash"], None)
        self._links[event.aggregate_id] = {
            "tenant": event.tenant,
            "agent_id": event.aggregate_id,
            "link_id": p.link_id,
            "token_hash": p.token_hash,
            "purpose": p.purpose,
            "email": normalized_email(p.email),
            "expires_at": p.expires_at,
            "issued_at": event.occurred_at,
            "used_at": None,
        }
        self._agent_of_link_token[p.token_hash] = event.aggregate_id
        if len(self._links) > LINKS_KEPT:
            _, oldest = self._links.popitem(last=False)
            self._agent_of_link_token.pop(oldest["token_hash"], None)

    def password_link(self, token_hash: str, view: dict[str, Any] | None) -> dict[str, Any] | None:
        """The link whose token hashes to `token_hash`, if it is still its account's latest link; `view` is
        the credentials document whose link has this token hash, None when the view has none. A link this
        instance saw issued is known before the projection shows it; one it saw replaced is not valid."""
        agent_id = self._agent_of_link_token.get(token_hash)
        if agent_id is not None:
            return self._links[agent_id]
        if view is None or view["_id"] in self._links:  # unknown, or replaced by a link issued since
            return None
        return {**view["password_link"], "tenant": view["tenant"], "agent_id": view["_id"]}

    def link_used(self, link_id: str) -> bool:
        return link_id in self._used_links or link_id in self._claimed_links

    def claim_link(self, link_id: str) -> bool:
        """Marks the link as being used, before the request awaits anything: a second request on this
        instance then finds it used. False when it was already used or claimed. Two instances can still
        both claim the same link in the same moment (each learns of the other's use only from the topic):
        that needs the same token twice at once, from whoever holds it, and ends with the later password."""
        if self.link_used(link_id):
            return False
        self._claimed_links.add(link_id)
        return True

    def release_link(self, link_id: str) -> None:
        """The claim ends: the link is used (the `agent.password_set` was applied) or may be tried again
        (its append failed)."""
        self._claimed_links.discard(link_id)

    def load_deactivated(self, agents: Iterable[dict[str, Any]]) -> None:
        """Deactivated accounts from the agents view, at start: those deactivated before this instance ran."""
        for doc in agents:
            self._deactivated.setdefault(doc["_id"], bool(doc.get("deactivated")))

    def is_deactivated(self, agent_id: str, view: dict[str, Any] | None = None) -> bool:
        """This instance's knowledge first (it saw every change since it started); else the agent's view."""
        known = self._deactivated.get(agent_id)
        if known is not None:
            return known
        return bool(view and view.get("deactivated"))

    def sign_in_state(self, agent_id: str, credentials: dict[str, Any]) -> SignInState:
        view = SignInState.of_document(credentials.get("sign_in"))
        known = self._sign_ins.get(agent_id)
        return view if known is None else sign_ins.merged(view, known)

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
        """A signed-out or revoked session, or any token of a deactivated account (one minted in the moment
        between the deactivation and the views showing it is refused too)."""
        if self._deactivated.get(agent_id):
            return True
        state = self._sessions.get(agent_id)
        return state is not None and sign_ins.session_revoked(state, session_id, issued_at)


class TeammateAccount:
    """A teammate's account (`credentials`: its credentials view, None for an invited account whose link
    the view does not show yet), and how to append events about it: to the topics, then at once to this
    instance's record."""

    def __init__(
        self,
        teammate: dict[str, Any],
        publisher: EventPublisher,
        record: CredentialRecord,
        credentials: dict[str, Any] | None = None,
    ) -> None:
        self.teammate = teammate
        self.credentials = credentials
        self._publisher = publisher
        self._record = record

    @property
    def has_password(self) -> bool:
        return bool(self.credentials and self.credentials.get("password_hash"))

    async def append(self, *events: EventBase) -> list[dict[str, Any]]:
        """Appends in order, then folds each into this instance's record; the positions, as a command
        answers them."""
        appended = await self._publisher.append_all(*events)
        for event in events:
            self._record.apply(event)
        return [a.as_json() for a in appended]
