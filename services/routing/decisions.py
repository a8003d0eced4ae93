"""What the routing policy produces, and the one fact it is applying.

`Decision` and `PositionChanged` are the policy's outputs (`outputs.py` publishes them); `FactContext` is
what every step of applying one fact shares: the copy of the state it changes, the fact's instant, the
outputs so far and the open chats per agent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from services.routing.state import TenantState
from shared.events.conversation import AssignmentReason

Outcome = Literal["assigned", "queued", "unassigned"]
# Conversations with no department, or one nobody configured yet, wait here; every agent serves it.
DEFAULT_DEPARTMENT = ""


@dataclass(frozen=True, slots=True)
class Decision:
    conversation_id: str
    outcome: Outcome
    agent_id: str | None
    previous_agent_id: str | None
    reason: AssignmentReason
    queue_position: int | None = None
    # Past the agent's max chats: only a forced handover (a supervisor's reassign, a teammate taking over
    # on Leave) does that.
    over_capacity: bool = False
    forced: bool = False
    department: str = DEFAULT_DEPARTMENT
    # For assignments: seconds since the conversation started waiting (time to assignment).
    waited_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class PositionChanged:
    """A queued conversation moved in its department's queue."""

    conversation_id: str
    department: str
    position: int
    queue_length: int


Output = Decision | PositionChanged


def instant(at: datetime) -> str:
    # Fixed-width UTC ISO strings sort chronologically, so idle-longest is a string comparison.
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def parse_instant(at: str) -> datetime:
    return datetime.fromisoformat(at)


def seconds_between(start: str | None, end: str) -> float | None:
    return None if start is None else max(0.0, (parse_instant(end) - parse_instant(start)).total_seconds())


@dataclass
class FactContext:
    """One fact being applied: the copy of the state it changes, its instant, the outputs so far, and open
    chats per agent (kept up to date as conversations move, rather than counted again at every choice)."""

    state: TenantState
    at: str
    outputs: list[Output]
    loads: Counter[str]
    # department -> open at `at` by its business hours (asked once per department per fact)
    open_now: dict[str, bool] = field(default_factory=dict)
