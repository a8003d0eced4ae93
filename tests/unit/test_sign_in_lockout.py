"""Account lockout and revoked sessions as pure folds and rules: what the view and every gateway instance
derive from the agent-credentials events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.conversation.domain import EventOutOfPlace, apply_credentials
from services.conversation.sign_ins import (
    SessionsState,
    SignInState,
    apply_session,
    apply_sign_in,
    merged,
    session_revoked,
)
from services.gateway.lockout import (
    LockoutPolicy,
    after_failure,
    after_success,
    lock_remaining,
)
from shared.events import EventBase
from shared.events.agent import AgentPasswordSet, AgentSessionEnded, AgentSessionsRevoked, AgentSignInReset
from shared.events.envelope import SYSTEM

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC).timestamp()
POLICY = LockoutPolicy(failures=3, window_seconds=60, first_lock_seconds=10, max_lock_seconds=25)
CREDENTIALS: dict[str, Any] = {"_id": "ann", "tenant": "acme", "email": "ann@acme.test"}


def _fail(state: SignInState, now: float) -> tuple[SignInState, list[EventBase]]:
    events = after_failure(CREDENTIALS, state, now, POLICY)
    for event in events:
        state = apply_sign_in(state, event)
    return state, events


def test_failures_in_the_window_lock_the_account_for_a_growing_interval() -> None:
    state = SignInState()
    state, _ = _fail(state, T0)
    state, _ = _fail(state, T0 + 1)
    assert lock_remaining(state, T0 + 1) is None
    state, events = _fail(state, T0 + 2)
    assert [e.type for e in events] == ["agent.sign_in_failed", "agent.sign_in_locked"]
    assert lock_remaining(state, T0 + 2) == pytest.approx(10)
    assert lock_remaining(state, T0 + 12) is None
    # The failures that caused a lock do not count again: one more wrong password does not re-lock.
    state, events = _fail(state, T0 + 13)
    assert len(events) == 1
    state, _ = _fail(state, T0 + 14)
    state, events = _fail(state, T0 + 15)
    assert events[-1].payload.lock_number == 2
    assert lock_remaining(state, T0 + 15) == pytest.approx(20)  # twice the first
    for second in (40, 41, 42):
        state, events = _fail(state, T0 + second)
    assert lock_remaining(state, T0 + 42) == pytest.approx(25)  # capped


def test_failures_outside_the_window_do_not_add_up() -> None:
    state = SignInState()
    for second in (0, 100, 200, 300):
        state, events = _fail(state, T0 + second)
        assert len(events) == 1
    assert lock_remaining(state, T0 + 300) is None


def test_a_successful_sign_in_forgets_failures_and_locks() -> None:
    state = SignInState()
    assert after_success(CREDENTIALS, state) == []  # nothing to forget: no event
    for second in (0, 1, 2):
        state, _ = _fail(state, T0 + second)
    [reset] = after_success(CREDENTIALS, state)
    reset = reset.model_copy(update={"occurred_at": datetime.fromtimestamp(T0 + 20, UTC)})
    state = apply_sign_in(state, reset)
    assert state == SignInState(reset_at=T0 + 20)
    state, events = _fail(state, T0 + 21)
    assert len(events) == 1


def test_the_view_and_an_instance_merge_to_the_same_state_whatever_each_heard() -> None:
    state = SignInState()
    history: list[EventBase] = []
    for second in (0, 1, 2, 3):
        state, events = _fail(state, T0 + second)
        history += events
    view = SignInState()
    for event in history[:2]:
        view = apply_sign_in(view, event)
    local = SignInState()
    for event in history[1:]:
        local = apply_sign_in(local, event)
    assert merged(view, local) == merged(local, view) == state
    assert merged(state, state) == state


def test_the_credentials_view_keeps_the_password_and_the_sign_in_state_side_by_side() -> None:
    password = AgentPasswordSet(
        tenant="acme",
        aggregate_id="ann",
        actor=SYSTEM,
        payload={"email": "Ann@acme.test", "password_hash": "h"},
    )
    view = apply_credentials(None, password, 0)
    state, events = _fail(SignInState(), T0)
    view = apply_credentials(view, events[0], 1)
    assert SignInState.of_document(view["sign_in"]) == state
    view = apply_credentials(view, password, 2)  # a new password keeps the lock state
    assert (view["email"], view["position"], view["sign_in"]) == ("ann@acme.test", 2, state.to_document())
    with pytest.raises(EventOutOfPlace):
        apply_credentials(None, events[0], 0)


def _ended(session_id: str, at: float, expires: float) -> AgentSessionEnded:
    return AgentSessionEnded(
        tenant="acme",
        aggregate_id="ann",
        actor=SYSTEM,
        occurred_at=datetime.fromtimestamp(at, UTC),
        payload={"session_id": session_id, "expires_at": datetime.fromtimestamp(expires, UTC)},
    )


def test_a_signed_out_session_is_revoked_and_forgotten_once_its_tokens_expired() -> None:
    state = apply_session(SessionsState(), _ended("s1", T0, T0 + 3600))
    assert session_revoked(state, "s1", T0 - 10)
    assert not session_revoked(state, "s2", T0 - 10)
    state = apply_session(state, _ended("s2", T0 + 4000, T0 + 7600))
    assert set(state.ended) == {"s2"}


def test_revoking_every_session_refuses_tokens_issued_before_only() -> None:
    revoked = AgentSessionsRevoked(
        tenant="acme",
        aggregate_id="ann",
        actor=SYSTEM,
        occurred_at=datetime.fromtimestamp(T0, UTC),
        payload={"reason": "deactivated"},
    )
    state = apply_session(SessionsState(), revoked)
    assert session_revoked(state, "old", T0 - 0.001)
    assert not session_revoked(state, "new", T0 + 0.001)


def test_an_unlock_by_a_supervisor_lifts_the_lock() -> None:
    state = SignInState()
    for second in (0, 1, 2):
        state, _ = _fail(state, T0 + second)
    unlock = AgentSignInReset(
        tenant="acme",
        aggregate_id="ann",
        actor=SYSTEM,
        occurred_at=datetime.fromtimestamp(T0 + 3, UTC) + timedelta(0),
        payload={"reason": "unlocked"},
    )
    state = apply_sign_in(state, unlock)
    assert lock_remaining(state, T0 + 4) is None and state.lock_number == 0
