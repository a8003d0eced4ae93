"""Pure folds of an account's sign-in failures, lock and revoked sessions (agent-credentials topic).

The projection folds them into the credentials view, and every gateway instance folds the same events
into memory as it sees them (its own at once, other instances' through the topic), so whichever has heard
more, the view or the instance, `merged` of both is what the instance decides on. Both folds are
idempotent and order-insensitive for events already seen: a merge of the same events is the same state.
Times are epoch seconds (floats).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from shared.events import EventBase
from shared.events import agent as agent_events

FAILURES_KEPT = 50


@dataclass(frozen=True)
class SignInState:
    failures: dict[str, float] = field(default_factory=dict)  # event id -> when, since the last reset
    locked_at: float | None = None
    locked_until: float | None = None
    lock_number: int = 0
    reset_at: float = 0.0

    def to_document(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of_document(cls, doc: dict[str, Any] | None) -> SignInState:
        if not doc:
            return cls()
        return cls(
            failures=dict(doc.get("failures") or {}),
            locked_at=doc.get("locked_at"),
            locked_until=doc.get("locked_until"),
            lock_number=doc.get("lock_number", 0),
            reset_at=doc.get("reset_at", 0.0),
        )


def _after_reset(state: SignInState) -> SignInState:
    failures = {k: at for k, at in state.failures.items() if at > state.reset_at}
    newest = dict(sorted(failures.items(), key=lambda item: (item[1], item[0]))[-FAILURES_KEPT:])
    if state.locked_at is not None and state.locked_at <= state.reset_at:
        return replace(state, failures=newest, locked_at=None, locked_until=None, lock_number=0)
    return replace(state, failures=newest)


def apply_sign_in(state: SignInState, event: EventBase) -> SignInState:
    at = event.occurred_at.timestamp()
    if isinstance(event, agent_events.AgentSignInFailed):
        return _after_reset(replace(state, failures={**state.failures, event.event_id: at}))
    if isinstance(event, agent_events.AgentSignInLocked):
        if state.locked_at is not None and state.locked_at >= at:
            return state
        locked = replace(
            state,
            locked_at=at,
            locked_until=event.payload.locked_until.timestamp(),
            lock_number=event.payload.lock_number,
        )
        return _after_reset(locked)
    if isinstance(event, agent_events.AgentSignInReset):
        return _after_reset(replace(state, reset_at=max(state.reset_at, at)))
    raise ValueError(f"{event.type} is not a sign-in event")


def merged(a: SignInState, b: SignInState) -> SignInState:
    later_lock = a if (a.locked_at or 0) >= (b.locked_at or 0) else b
    return _after_reset(
        SignInState(
            failures={**a.failures, **b.failures},
            locked_at=later_lock.locked_at,
            locked_until=later_lock.locked_until,
            lock_number=later_lock.lock_number,
            reset_at=max(a.reset_at, b.reset_at),
        )
    )


@dataclass(frozen=True)
class SessionsState:
    ended: dict[str, float] = field(default_factory=dict)  # session id -> when its token expires anyway
    revoked_before: float = 0.0  # tokens issued before this are refused

    def to_document(self) -> dict[str, Any]:
        return {"ended": self.ended, "revoked_before": self.revoked_before}

    @classmethod
    def of_document(cls, doc: dict[str, Any] | None) -> SessionsState:
        if not doc:
            return cls()
        return cls(ended=dict(doc.get("ended") or {}), revoked_before=doc.get("revoked_before", 0.0))


def apply_session(state: SessionsState, event: EventBase) -> SessionsState:
    at = event.occurred_at.timestamp()
    if isinstance(event, agent_events.AgentSessionEnded):
        # Sessions whose tokens expired by now need no record: an expired token is refused anyway.
        ended = {sid: until for sid, until in state.ended.items() if until > at}
        ended[event.payload.session_id] = event.payload.expires_at.timestamp()
        return replace(state, ended=ended)
    if isinstance(event, agent_events.AgentSessionsRevoked):
        return replace(state, revoked_before=max(state.revoked_before, at))
    raise ValueError(f"{event.type} is not a session event")


def session_revoked(state: SessionsState, session_id: str, issued_at: float) -> bool:
    return session_id in state.ended or issued_at < state.revoked_before
