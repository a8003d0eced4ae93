"""Routing policy: who gets a conversation. Pure: no I/O, no clock, so replaying facts replays decisions.

One tenant's routing state is a plain JSON-able dict (`TenantState.to_dict`) because it lives as one
value in the router's faust table, recovered from the changelog after a restart. Agent load is derived
from the open conversations rather than stored, so it can never drift from the assignments.

Every fact is applied at most once: the transitions are no-ops when the state already reflects them,
and the event ids of recent facts are remembered, because faust commits offsets and table changes
separately and a crash replays a few facts whose effects are already in the table.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from shared.events import EventBase
from shared.events.agent import AgentProfileUpdated, AgentRegistered, AgentStatusChanged
from shared.events.conversation import (
    AssignmentReason,
    ConversationClosed,
    ConversationReopened,
    ConversationStarted,
    ParticipantJoined,
    ParticipantLeft,
    ReassignmentRequested,
    TeammateInvited,
)

Outcome = Literal["assigned", "queued", "unassigned"]

# Facts the router consumes; the re-keyer forwards exactly these types to routing-facts.
ROUTING_FACT_TYPES: frozenset[str] = frozenset(
    cls.model_fields["type"].default
    for cls in (
        ConversationStarted,
        ConversationClosed,
        ConversationReopened,
        ParticipantJoined,
        ParticipantLeft,
        TeammateInvited,
        ReassignmentRequested,
        AgentRegistered,
        AgentProfileUpdated,
        AgentStatusChanged,
    )
)

# Bounds on the state, which is rewritten to the changelog as a whole on every fact.
RECENT_FACTS_KEPT = 256
CLOSED_CONVERSATIONS_KEPT = 500
DEFAULT_MAX_CHATS = 5


@dataclass(frozen=True, slots=True)
class Decision:
    conversation_id: str
    outcome: Outcome
    agent_id: str | None
    previous_agent_id: str | None
    reason: AssignmentReason
    queue_position: int | None = None
    # A manual reassignment past the agent's max chats; the wire payload has no field for it yet.
    over_capacity: bool = False


@dataclass
class TenantState:
    # agent id -> {"status", "max_chats", "idle_since"}; idle_since is an ISO UTC string or None.
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    # conversation id -> {"open", "assignee", "last_assignee", "participants", "left"}, insertion-ordered.
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    queue: list[str] = field(default_factory=list)
    recent_facts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agents": self.agents,
            "conversations": self.conversations,
            "queue": self.queue,
            "recent_facts": self.recent_facts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TenantState:
        data = copy.deepcopy(data or {})
        return cls(
            agents=data.get("agents", {}),
            conversations=data.get("conversations", {}),
            queue=data.get("queue", []),
            recent_facts=data.get("recent_facts", []),
        )

    def open_count(self, agent_id: str) -> int:
        return sum(1 for c in self.conversations.values() if c["open"] and c["assignee"] == agent_id)


def _instant(at: datetime) -> str:
    # Fixed-width UTC ISO strings sort chronologically, so idle-longest is a string comparison.
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def decide(state: TenantState, event: EventBase) -> tuple[TenantState, list[Decision]]:
    """Apply one routing fact; returns the new state (the given one is left untouched) and decisions."""
    if event.event_id in state.recent_facts:
        return state, []
    new = copy.deepcopy(state)
    decisions: list[Decision] = []
    _apply(new, event, _instant(event.occurred_at), decisions)
    new.recent_facts = [*new.recent_facts, event.event_id][-RECENT_FACTS_KEPT:]
    _prune_closed(new)
    return new, decisions


def _apply(s: TenantState, event: EventBase, at: str, out: list[Decision]) -> None:
    conv = s.conversations.get(event.aggregate_id)
    if isinstance(event, ConversationStarted):
        if conv is None:
            s.conversations[event.aggregate_id] = {
                "open": True,
                "assignee": None,
                "last_assignee": None,
                "participants": [],
                "left": [],
            }
            _route(s, event.aggregate_id, at, out, reason="auto", queued_reason="no_agent_available")
    elif isinstance(event, ConversationClosed):
        if conv is not None and conv["open"]:
            conv["open"] = False
            conv["assignee"] = None
            _dequeue(s, event.aggregate_id)
            _drain(s, at, out)
    elif isinstance(event, ConversationReopened):
        if conv is not None and not conv["open"]:
            conv["open"] = True
            prefer = conv["last_assignee"]
            _route(s, event.aggregate_id, at, out, reason="reopened", queued_reason="reopened", prefer=prefer)
    elif isinstance(event, ParticipantJoined | TeammateInvited):
        reason: AssignmentReason = "joined" if isinstance(event, ParticipantJoined) else "manual_reassign"
        if conv is not None:
            _join(s, event.aggregate_id, event.payload.agent_id, at, out, reason)
    elif isinstance(event, ParticipantLeft):
        if conv is not None:
            _leave(s, event.aggregate_id, event.payload.agent_id, at, out)
    elif isinstance(event, ReassignmentRequested):
        if conv is not None and conv["open"]:
            _reassign(s, event.aggregate_id, event.payload.agent_id, at, out)
    elif isinstance(event, AgentRegistered):
        if event.aggregate_id not in s.agents:
            s.agents[event.aggregate_id] = {
                "status": "offline",
                "max_chats": event.payload.max_concurrent_chats,
                "idle_since": None,
            }
    elif isinstance(event, AgentProfileUpdated):
        agent = _agent(s, event.aggregate_id)
        if event.payload.max_concurrent_chats is not None:
            agent["max_chats"] = event.payload.max_concurrent_chats
            _drain(s, at, out)  # a raised limit may let this agent take queued visitors
    elif isinstance(event, AgentStatusChanged):
        _status(s, event.aggregate_id, event.payload.status, at, out)


def _agent(s: TenantState, agent_id: str) -> dict[str, Any]:
    # Registration precedes profile and status facts on the agent's partition; tolerate its absence anyway.
    return s.agents.setdefault(
        agent_id, {"status": "offline", "max_chats": DEFAULT_MAX_CHATS, "idle_since": None}
    )


def _least_busy(s: TenantState, candidates: list[str]) -> str | None:
    """Fewest open conversations, then idle longest, then agent id so every replay picks the same."""
    if not candidates:
        return None
    return min(candidates, key=lambda a: (s.open_count(a), s.agents[a]["idle_since"] or "", a))


def _free_agents(s: TenantState, exclude: Collection[str] = ()) -> list[str]:
    return [
        agent_id
        for agent_id, agent in s.agents.items()
        if agent["status"] == "available"
        and s.open_count(agent_id) < agent["max_chats"]
        and agent_id not in exclude
    ]


def _assign(
    s: TenantState,
    conversation_id: str,
    agent_id: str,
    at: str,
    out: list[Decision],
    reason: AssignmentReason,
    previous: str | None = None,
) -> None:
    conv = s.conversations[conversation_id]
    agent = s.agents.get(agent_id)
    over = agent is not None and s.open_count(agent_id) >= agent["max_chats"]
    _dequeue(s, conversation_id)
    conv["assignee"] = conv["last_assignee"] = agent_id
    if agent_id not in conv["participants"]:
        conv["participants"].append(agent_id)
    if agent is not None:
        agent["idle_since"] = at
    out.append(Decision(conversation_id, "assigned", agent_id, previous, reason, over_capacity=over))


def _enqueue(
    s: TenantState, conversation_id: str, out: list[Decision], reason: AssignmentReason, previous: str | None
) -> None:
    s.conversations[conversation_id]["assignee"] = None
    if conversation_id not in s.queue:
        s.queue.append(conversation_id)
    position = s.queue.index(conversation_id) + 1
    out.append(Decision(conversation_id, "queued", None, previous, reason, queue_position=position))


def _dequeue(s: TenantState, conversation_id: str) -> None:
    if conversation_id in s.queue:
        s.queue.remove(conversation_id)


def _route(
    s: TenantState,
    conversation_id: str,
    at: str,
    out: list[Decision],
    *,
    reason: AssignmentReason,
    queued_reason: AssignmentReason,
    prefer: str | None = None,
) -> None:
    free = _free_agents(s, exclude=s.conversations[conversation_id]["left"])
    chosen = prefer if prefer in free else _least_busy(s, free)
    if chosen is not None:
        _assign(s, conversation_id, chosen, at, out, reason, previous=prefer)
    else:
        _enqueue(s, conversation_id, out, queued_reason, previous=prefer)


def _drain(s: TenantState, at: str, out: list[Decision]) -> None:
    """Hand queued conversations, oldest first, to whoever has a free slot now."""
    for conversation_id in list(s.queue):
        if not _free_agents(s):
            return
        chosen = _least_busy(s, _free_agents(s, exclude=s.conversations[conversation_id]["left"]))
        if chosen is not None:
            _assign(s, conversation_id, chosen, at, out, "auto")


def _join(
    s: TenantState,
    conversation_id: str,
    agent_id: str,
    at: str,
    out: list[Decision],
    reason: AssignmentReason,
) -> None:
    conv = s.conversations[conversation_id]
    if agent_id in conv["left"]:
        conv["left"].remove(agent_id)  # coming back on purpose lifts the "do not route back" mark
    if agent_id not in conv["participants"]:
        conv["participants"].append(agent_id)
    if conv["open"] and conv["assignee"] is None:
        _assign(s, conversation_id, agent_id, at, out, reason)


def _leave(s: TenantState, conversation_id: str, agent_id: str, at: str, out: list[Decision]) -> None:
    conv = s.conversations[conversation_id]
    if agent_id not in conv["participants"] and conv["assignee"] != agent_id:
        return
    if agent_id in conv["participants"]:
        conv["participants"].remove(agent_id)
    if agent_id not in conv["left"]:
        conv["left"].append(agent_id)  # the drain below must not hand the conversation straight back
    if not conv["open"] or conv["assignee"] != agent_id:
        return
    conv["assignee"] = None
    others = [a for a in conv["participants"] if a in s.agents and s.agents[a]["status"] != "offline"]
    successor = _least_busy(s, others)
    if successor is not None:
        _assign(s, conversation_id, successor, at, out, "takeover", previous=agent_id)
    else:
        _enqueue(s, conversation_id, out, "agent_left", previous=agent_id)
    _drain(s, at, out)


def _reassign(s: TenantState, conversation_id: str, agent_id: str, at: str, out: list[Decision]) -> None:
    conv = s.conversations[conversation_id]
    if agent_id in conv["left"]:
        conv["left"].remove(agent_id)
    if conv["assignee"] == agent_id:
        return
    previous = conv["assignee"]
    _assign(s, conversation_id, agent_id, at, out, "manual_reassign", previous=previous)
    if previous is not None:
        _drain(s, at, out)  # the previous assignee got a slot back


def _status(s: TenantState, agent_id: str, status: str, at: str, out: list[Decision]) -> None:
    agent = _agent(s, agent_id)
    if agent["status"] == status:
        return
    agent["status"] = status
    if status == "available":
        agent["idle_since"] = at
        _drain(s, at, out)
    elif status == "offline":
        mine = [cid for cid, c in s.conversations.items() if c["open"] and c["assignee"] == agent_id]
        for conversation_id in mine:
            s.conversations[conversation_id]["assignee"] = None
            chosen = _least_busy(s, _free_agents(s, exclude=s.conversations[conversation_id]["left"]))
            if chosen is not None:
                _assign(s, conversation_id, chosen, at, out, "agent_offline", previous=agent_id)
            else:
                _enqueue(s, conversation_id, out, "agent_offline", previous=agent_id)


def _prune_closed(s: TenantState) -> None:
    """Forget the oldest closed conversations past a bound: they only serve reopen and duplicate checks."""
    closed = [cid for cid, c in s.conversations.items() if not c["open"]]
    for conversation_id in closed[: max(0, len(closed) - CLOSED_CONVERSATIONS_KEPT)]:
        del s.conversations[conversation_id]
