"""The account lockout rule (pure): failed sign-ins in a window lock the account, each lock since the last
successful sign-in twice as long as the one before (up to a cap); a successful sign-in resets it all.

The state comes from `services/conversation/sign_ins.py` (the view merged with what this instance heard);
times are epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.conversation.sign_ins import SignInState, apply_sign_in
from services.gateway.config import GatewaySettings
from shared.events import EventBase
from shared.events.agent import AgentSignInFailed, AgentSignInLocked, AgentSignInReset
from shared.events.envelope import SYSTEM


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    failures: int
    window_seconds: float
    first_lock_seconds: float
    max_lock_seconds: float

    @classmethod
    def of_settings(cls, settings: GatewaySettings) -> LockoutPolicy:
        return cls(
            failures=settings.lockout_failures,
            window_seconds=settings.lockout_window_seconds,
            first_lock_seconds=settings.lockout_first_seconds,
            max_lock_seconds=settings.lockout_max_seconds,
        )


@dataclass(frozen=True, slots=True)
class Lock:
    until: float
    failures: int
    lock_number: int


def lock_remaining(state: SignInState, now: float) -> float | None:
    """Seconds until the account may try again; None when it is not locked."""
    if state.locked_until is None or state.locked_until <= now:
        return None
    return state.locked_until - now


def lock_after_failure(state: SignInState, now: float, policy: LockoutPolicy) -> Lock | None:
    """Given the state with the new failure in it: the lock to record, if this failure reaches the limit.
    Failures before the last lock already cost a lock and do not count twice."""
    since = max(now - policy.window_seconds, state.locked_at or float("-inf"))
    recent = sum(1 for at in state.failures.values() if at > since)
    if recent < policy.failures:
        return None
    number = state.lock_number + 1
    seconds = min(policy.max_lock_seconds, policy.first_lock_seconds * 2 ** (number - 1))
    return Lock(until=now + seconds, failures=recent, lock_number=number)


def needs_reset(state: SignInState) -> bool:
    """A successful sign-in records a reset only when there is something to forget."""
    return bool(state.failures) or state.lock_number > 0


def after_failure(
    credentials: dict[str, Any], state: SignInState, now: float, policy: LockoutPolicy
) -> list[EventBase]:
    """The events of a wrong password: the failure, and the lock when it reaches the limit."""
    envelope = {"tenant": credentials["tenant"], "aggregate_id": credentials["_id"], "actor": SYSTEM}
    failed = AgentSignInFailed(**envelope, occurred_at=datetime.fromtimestamp(now, UTC), payload={})
    lock = lock_after_failure(apply_sign_in(state, failed), now, policy)
    if lock is None:
        return [failed]
    locked = AgentSignInLocked(
        **envelope,
        occurred_at=failed.occurred_at,
        payload={
            "locked_until": datetime.fromtimestamp(lock.until, UTC),
            "failures": lock.failures,
            "lock_number": lock.lock_number,
        },
    )
    return [failed, locked]


def after_success(credentials: dict[str, Any], state: SignInState) -> list[EventBase]:
    if not needs_reset(state):
        return []
    envelope = {"tenant": credentials["tenant"], "aggregate_id": credentials["_id"], "actor": SYSTEM}
    return [AgentSignInReset(**envelope, payload={"reason": "signed_in"})]
