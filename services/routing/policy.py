"""Routing policy: who gets a conversation. Pure: no I/O, no clock, so replaying facts replays decisions.

One tenant's routing state (`state.py`) is plain JSON: the router keeps it in a faust table backed by a
changelog, one entry per agent, conversation, department and queue, so a fact rewrites only what it
changed. All of a tenant's queues share one writer on purpose: an agent can belong to several
departments and their max chats counts every open chat, so a writer per department would let two writers
fill the same agent past their limit.

Time only moves on facts: the occurred_at of each fact, and `routing.tick` facts that the router publishes
to itself (carrying the grace period and heartbeat timeout in force), so the grace-period and presence
rules give the same decisions on every replay.

Every fact is applied at most once: facts copied by the re-keyer carry their source topic, partition and
offset, and the highest applied offset per source partition is part of the state; other facts (ticks) are
checked against the ids of recent facts. Transitions are also no-ops when the state already says the same.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from services.routing.state import AgentEntry, TenantState, effective_status, new_agent
from shared.business_hours import hours_of, is_open
from shared.events import EventBase
from shared.events.agent import (
    AgentChatLimitSet,
    AgentDeactivated,
    AgentHeartbeat,
    AgentInvited,
    AgentProfileUpdated,
    AgentReactivated,
    AgentRegistered,
    AgentStatus,
    AgentStatusChanged,
)
from shared.events.conversation import (
    AssignmentReason,
    ConversationClosed,
    ConversationReopened,
    ConversationStarted,
    ParticipantJoined,
    ParticipantLeft,
    ReassignmentRequested,
    TeammateInvited,
    TransferRequested,
)
from shared.events.department import DepartmentConfigured
from shared.events.routing import RoutingTick

Outcome = Literal["assigned", "queued", "unassigned"]

# Facts the re-keyer forwards to routing-facts; routing.tick is published there by the router itself.
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
        TransferRequested,
        AgentRegistered,
        AgentInvited,
        AgentProfileUpdated,
        AgentChatLimitSet,
        AgentStatusChanged,
        AgentDeactivated,
        AgentReactivated,
        AgentHeartbeat,
        DepartmentConfigured,
    )
)

RECENT_FACTS_KEPT = 256
CLOSED_CONVERSATIONS_KEPT = 500
# Conversations with no department, or one nobody configured yet, wait here; every agent serves it.
DEFAULT_DEPARTMENT = ""
FALLBACK_HOPS = 5


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


def _instant(at: datetime) -> str:
    # Fixed-width UTC ISO strings sort chronologically, so idle-longest is a string comparison.
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _parse(at: str) -> datetime:
    return datetime.fromisoformat(at)


def _seconds_between(start: str | None, end: str) -> float | None:
    return None if start is None else max(0.0, (_parse(end) - _parse(start)).total_seconds())


@dataclass
class _Ctx:
    """One fact being applied: the copy of the state it changes, its instant, the outputs so far, and open
    chats per agent (kept up to date as conversations move, rather than counted again at every choice)."""

    state: TenantState
    at: str
    outputs: list[Output]
    loads: Counter[str]
    # department -> open at `at` by its business hours (asked once per department per fact)
    open_now: dict[str, bool] = field(default_factory=dict)


def decide(
    state: TenantState, event: EventBase, source: tuple[str, int] | None = None
) -> tuple[TenantState, list[Output]]:
    """Apply one routing fact; returns the new state (the given one is left untouched) and the outputs.

    `source` is (source partition, offset) for facts copied from another topic: a fact at or below the
    highest offset already applied from that partition is a re-delivery and changes nothing.
    """
    sources = state.meta.get("sources", {})
    if source is not None:
        if source[1] <= sources.get(source[0], -1):
            return state, []
    elif event.event_id in state.meta.get("recent_facts", []):
        return state, []
    new = copy.deepcopy(state)
    ctx = _Ctx(new, _instant(event.occurred_at), [], new.loads())
    meta = new.meta
    meta.setdefault("seq", 0)
    _apply(ctx, event)
    _drain(ctx)
    _announce_positions(ctx, everyone=isinstance(event, RoutingTick))
    if source is not None:
        meta["sources"] = {**sources, source[0]: source[1]}
    else:
        meta["recent_facts"] = [*meta.get("recent_facts", []), event.event_id][-RECENT_FACTS_KEPT:]
    _prune_closed(new)
    return new, ctx.outputs


def _apply(ctx: _Ctx, event: EventBase) -> None:
    state, at = ctx.state, ctx.at
    conv = state.conversations.get(event.aggregate_id)
    if isinstance(event, ConversationStarted):
        if conv is None:
            state.meta["seq"] += 1
            state.conversations[event.aggregate_id] = {
                "open": True,
                "assignee": None,
                "last_assignee": None,
                "participants": [],
                "left": [],
                "department": event.payload.department or DEFAULT_DEPARTMENT,
                "created_seq": state.meta["seq"],
                "queued_seq": None,
                "queued_at": None,
                "waiting_since": at,
                "position": None,
            }
            _route(ctx, event.aggregate_id, reason="auto", queued_reason="no_agent_available")
    elif isinstance(event, ConversationClosed):
        if conv is not None and conv["open"]:
            conv["open"] = False
            _set_assignee(ctx, event.aggregate_id, None)
            _dequeue(state, event.aggregate_id)
    elif isinstance(event, ConversationReopened):
        if conv is not None and not conv["open"]:
            conv["open"] = True
            conv["waiting_since"] = at
            prefer = conv["last_assignee"]
            _route(ctx, event.aggregate_id, reason="reopened", queued_reason="reopened", prefer=prefer)
    elif isinstance(event, ParticipantJoined | TeammateInvited):
        reason: AssignmentReason = "joined" if isinstance(event, ParticipantJoined) else "manual_reassign"
        if conv is not None:
            _join(ctx, event.aggregate_id, event.payload.agent_id, reason)
    elif isinstance(event, ParticipantLeft):
        if conv is not None:
            _leave(ctx, event.aggregate_id, event.payload.agent_id)
    elif isinstance(event, ReassignmentRequested):
        if conv is not None and conv["open"]:
            _reassign(ctx, event.aggregate_id, event.payload.agent_id, forced=event.payload.forced)
    elif isinstance(event, TransferRequested):
        if conv is not None and conv["open"]:
            _transfer(ctx, event.aggregate_id, event.payload.department)
    elif isinstance(event, AgentRegistered | AgentInvited):
        if event.aggregate_id not in state.agents:
            state.agents[event.aggregate_id] = new_agent(event.payload.max_concurrent_chats)
    elif isinstance(event, AgentProfileUpdated):
        agent = _agent(state, event.aggregate_id)
        if event.payload.max_concurrent_chats is not None:
            agent["max_chats"] = event.payload.max_concurrent_chats
    elif isinstance(event, AgentChatLimitSet):
        _agent(state, event.aggregate_id)["max_chats"] = event.payload.max_concurrent_chats
    elif isinstance(event, AgentDeactivated):
        _deactivate(ctx, event.aggregate_id)
    elif isinstance(event, AgentReactivated):
        _agent(state, event.aggregate_id)["deactivated"] = False
    elif isinstance(event, AgentStatusChanged):
        _status(ctx, event.aggregate_id, event.payload.status)
    elif isinstance(event, AgentHeartbeat):
        _heartbeat(ctx, event.aggregate_id)
    elif isinstance(event, DepartmentConfigured):
        _configure(ctx, event.aggregate_id, event)
    elif isinstance(event, RoutingTick):
        _tick(ctx, event.payload.offline_grace_seconds, event.payload.heartbeat_timeout_seconds)


# -- agents and departments ---------------------------------------------------------------------------


def _agent(state: TenantState, agent_id: str) -> AgentEntry:
    # Registration precedes profile and status facts on the agent's partition; tolerate its absence anyway.
    return state.agents.setdefault(agent_id, new_agent())


def _open(ctx: _Ctx, department: str) -> bool:
    """Whether the department's business hours (else the tenant default's) have it open now. A closed
    department's chats wait in its queue, and go to nobody by strategy or fallback, until a fact at or after
    the opening (the router's tick at the latest) drains the queue; an agent may still take one by joining."""
    known = ctx.open_now.get(department)
    if known is None:
        known = is_open(hours_of(ctx.state.departments, department), _parse(ctx.at))
        ctx.open_now[department] = known
    return known


def _has_room(ctx: _Ctx, agent_id: str, department: str) -> bool:
    agent = ctx.state.agents.get(agent_id)
    if agent is None or agent.get("deactivated"):
        return False
    return ctx.loads[agent_id] < ctx.state.capacity(agent_id, department)


def _free_agents(ctx: _Ctx, department: str, exclude: Collection[str] = ()) -> list[str]:
    state = ctx.state
    return [
        agent_id
        for agent_id in state.members(department)
        if agent_id in state.agents
        and effective_status(state.agents[agent_id]) == "available"
        and _has_room(ctx, agent_id, department)
        and agent_id not in exclude
    ]


def _pick(ctx: _Ctx, department: str, free: list[str]) -> str | None:
    """The department's strategy: least busy (then idle longest, then id) or the next member in turn."""
    if not free:
        return None
    state = ctx.state
    if state.strategy(department) == "round_robin":
        dept = state.departments[department]
        members: list[str] = dept["members"]
        last = dept.get("rr_last")
        start = members.index(last) + 1 if last is not None and last in members else 0
        for offset in range(len(members)):
            candidate = members[(start + offset) % len(members)]
            if candidate in free:
                dept["rr_last"] = candidate
                return candidate
        return None
    return min(free, key=lambda a: (ctx.loads[a], state.agents[a]["idle_since"] or "", a))


def _fallbacks(state: TenantState, department: str) -> Iterable[str]:
    """The department's fallback chain, without cycles, bounded."""
    seen = {department}
    current = state.departments.get(department)
    for _ in range(FALLBACK_HOPS):
        nxt = current.get("fallback") if current else None
        if nxt is None or nxt in seen:
            return
        seen.add(nxt)
        yield nxt
        current = state.departments.get(nxt)


def _choose(
    ctx: _Ctx, conversation_id: str, *, own_only: bool = False, exclude: Collection[str] = ()
) -> str | None:
    """Whom the department's strategy picks among its free members, else the fallback departments'."""
    state = ctx.state
    conv = state.conversations[conversation_id]
    department = conv["department"]
    if state.strategy(department) == "pooled" or not _open(ctx, department):
        return None  # agents take from the pool themselves; a closed department's chats wait for the opening
    avoid = {*conv["left"], *exclude}
    chosen = _pick(ctx, department, _free_agents(ctx, department, avoid))
    if chosen is not None or own_only:
        return chosen
    for fallback in _fallbacks(state, department):
        if state.strategy(fallback) == "pooled" or not _open(ctx, fallback):
            continue
        chosen = _pick(ctx, fallback, _free_agents(ctx, fallback, avoid))
        if chosen is not None:
            return chosen
    return None


# -- assignment primitives ----------------------------------------------------------------------------


def _set_assignee(ctx: _Ctx, conversation_id: str, agent_id: str | None) -> None:
    conv = ctx.state.conversations[conversation_id]
    if conv["assignee"] is not None:  # only open conversations have an assignee
        ctx.loads[conv["assignee"]] -= 1
    conv["assignee"] = agent_id
    if agent_id is not None:
        ctx.loads[agent_id] += 1


def _assign(
    ctx: _Ctx,
    conversation_id: str,
    agent_id: str,
    reason: AssignmentReason,
    previous: str | None = None,
    forced: bool = False,
) -> None:
    state = ctx.state
    conv = state.conversations[conversation_id]
    agent = state.agents.get(agent_id)
    over = agent is not None and not _has_room(ctx, agent_id, conv["department"])
    _dequeue(state, conversation_id)
    _set_assignee(ctx, conversation_id, agent_id)
    conv["last_assignee"] = agent_id
    if agent_id not in conv["participants"]:
        conv["participants"].append(agent_id)
    if agent is not None:
        agent["idle_since"] = ctx.at
    waited = _seconds_between(conv.get("waiting_since"), ctx.at)
    conv["waiting_since"] = None
    ctx.outputs.append(
        Decision(
            conversation_id,
            "assigned",
            agent_id,
            previous,
            reason,
            over_capacity=over,
            forced=forced,
            department=conv["department"],
            waited_seconds=waited,
        )
    )


def _enqueue(ctx: _Ctx, conversation_id: str, reason: AssignmentReason, previous: str | None) -> None:
    state = ctx.state
    conv = state.conversations[conversation_id]
    _set_assignee(ctx, conversation_id, None)
    queue = state.queues.setdefault(conv["department"], [])
    if conversation_id not in queue:
        state.meta["seq"] += 1
        conv["queued_seq"] = state.meta["seq"]
        conv["queued_at"] = ctx.at
        queue.append(conversation_id)
    if conv.get("waiting_since") is None:
        conv["waiting_since"] = ctx.at
    position = queue.index(conversation_id) + 1
    conv["position"] = position
    ctx.outputs.append(
        Decision(
            conversation_id,
            "queued",
            None,
            previous,
            reason,
            queue_position=position,
            department=conv["department"],
        )
    )


def _dequeue(state: TenantState, conversation_id: str) -> None:
    conv = state.conversations[conversation_id]
    queue = state.queues.get(conv["department"], [])
    if conversation_id in queue:
        queue.remove(conversation_id)
        if not queue:
            del state.queues[conv["department"]]
    conv["queued_seq"] = conv["queued_at"] = conv["position"] = None


def _route(
    ctx: _Ctx,
    conversation_id: str,
    *,
    reason: AssignmentReason,
    queued_reason: AssignmentReason,
    prefer: str | None = None,
    previous: str | None = None,
    exclude: Collection[str] = (),
) -> None:
    """Back to the preferred agent if they are available with room, else by strategy, else the queue."""
    state = ctx.state
    conv = state.conversations[conversation_id]
    chosen: str | None = None
    if (
        prefer is not None
        and prefer in state.agents
        and prefer not in conv["left"]
        and prefer not in exclude
        and effective_status(state.agents[prefer]) == "available"
        and _has_room(ctx, prefer, conv["department"])
        and _open(ctx, conv["department"])
    ):
        chosen = prefer
    if chosen is None:
        chosen = _choose(ctx, conversation_id, exclude=exclude)
    previous = previous if previous is not None else prefer
    if chosen is not None:
        _assign(ctx, conversation_id, chosen, reason, previous=previous)
    else:
        _enqueue(ctx, conversation_id, queued_reason, previous=previous)


def _drain(ctx: _Ctx) -> None:
    """Hand queued conversations to whoever has a free slot now, oldest first: own department first,
    then agents of fallback departments. Pooled departments are never drained."""
    state = ctx.state
    for own_only in (True, False):
        for conversation_id in state.queue:
            if not any(_free_agents(ctx, d) for d in {*state.departments, DEFAULT_DEPARTMENT}):
                return
            chosen = _choose(ctx, conversation_id, own_only=own_only)
            if chosen is not None:
                _assign(ctx, conversation_id, chosen, "auto")


# Visitors this near the front hear of every move at once; those further back hear their latest position on
# the router's next tick. One dequeue then costs a few events instead of one per waiting visitor: with
# hundreds waiting, announcing every move to everyone grew the log with the square of the queue.
PROMPT_POSITIONS = 3


def _announce_positions(ctx: _Ctx, *, everyone: bool) -> None:
    for department, queue in ctx.state.queues.items():
        for index, conversation_id in enumerate(queue):
            if index >= PROMPT_POSITIONS and not everyone:
                break
            conv = ctx.state.conversations[conversation_id]
            if conv["position"] != index + 1:
                conv["position"] = index + 1
                ctx.outputs.append(PositionChanged(conversation_id, department, index + 1, len(queue)))


# -- transitions --------------------------------------------------------------------------------------


def _join(ctx: _Ctx, conversation_id: str, agent_id: str, reason: AssignmentReason) -> None:
    conv = ctx.state.conversations[conversation_id]
    if agent_id in conv["left"]:
        conv["left"].remove(agent_id)  # coming back on purpose lifts the "do not route back" mark
    if agent_id not in conv["participants"]:
        conv["participants"].append(agent_id)
    # Taking an unassigned (or pooled) conversation needs a free slot; otherwise the agent only participates.
    if conv["open"] and conv["assignee"] is None and _has_room(ctx, agent_id, conv["department"]):
        _assign(ctx, conversation_id, agent_id, reason)


def _leave(ctx: _Ctx, conversation_id: str, agent_id: str) -> None:
    state = ctx.state
    conv = state.conversations[conversation_id]
    if agent_id not in conv["participants"] and conv["assignee"] != agent_id:
        return
    if agent_id in conv["participants"]:
        conv["participants"].remove(agent_id)
    if agent_id not in conv["left"]:
        conv["left"].append(agent_id)  # the drain must not hand the conversation straight back
    if not conv["open"] or conv["assignee"] != agent_id:
        return
    _set_assignee(ctx, conversation_id, None)
    conv["waiting_since"] = ctx.at
    successor = _leave_successor(state, conversation_id, agent_id, ctx.loads)
    if successor is not None:
        # Leaving is a deliberate handover to a teammate already in the chat, like a supervisor's forced
        # reassign: it may take them past their max chats, and it never waits behind the queue.
        _assign(ctx, conversation_id, successor, "takeover", previous=agent_id, forced=True)
    else:
        _enqueue(ctx, conversation_id, "agent_left", previous=agent_id)


def _leave_successor(
    state: TenantState, conversation_id: str, leaving: str, loads: Counter[str]
) -> str | None:
    """Who takes over when `leaving` leaves: the least busy remaining participant who is present
    (available or away), whatever their load; None sends the conversation back to the queue."""
    present: list[str] = [
        a
        for a in state.conversations[conversation_id]["participants"]
        if a != leaving and a in state.agents and effective_status(state.agents[a]) != "offline"
    ]
    if not present:
        return None
    return min(present, key=lambda a: (loads[a], str(state.agents[a]["idle_since"] or ""), a))


def _reassign(ctx: _Ctx, conversation_id: str, agent_id: str, *, forced: bool) -> None:
    conv = ctx.state.conversations[conversation_id]
    target = ctx.state.agents.get(agent_id)
    if conv["assignee"] == agent_id or (target is not None and target.get("deactivated")):
        return  # a deactivated agent takes no chat, forced or not; the gateway says so first
    if not forced and agent_id in ctx.state.agents and not _has_room(ctx, agent_id, conv["department"]):
        return  # only a supervisor may push an agent past their max chats; the gateway says so first
    if agent_id in conv["left"]:
        conv["left"].remove(agent_id)
    _assign(ctx, conversation_id, agent_id, "manual_reassign", previous=conv["assignee"], forced=forced)


def _transfer(ctx: _Ctx, conversation_id: str, department: str) -> None:
    state = ctx.state
    conv = state.conversations[conversation_id]
    if conv["department"] == department:
        return
    previous = conv["assignee"]
    _dequeue(state, conversation_id)
    _set_assignee(ctx, conversation_id, None)
    conv["department"] = department
    conv["waiting_since"] = ctx.at
    # The agent who hands it over does not get it back through the new department (unless they rejoin).
    if previous is not None and previous not in conv["left"]:
        conv["left"].append(previous)
    chosen = _choose(ctx, conversation_id)
    if chosen is not None:
        _assign(ctx, conversation_id, chosen, "transfer", previous=previous)
    else:
        _enqueue(ctx, conversation_id, "transfer", previous=previous)


def _status(ctx: _Ctx, agent_id: str, status: AgentStatus) -> None:
    agent = _agent(ctx.state, agent_id)
    before = effective_status(agent)
    agent["status"] = status
    # A status change is the agent acting: they are present, whatever their heartbeats said.
    agent["presence_lost"] = False
    if agent["last_seen"] is not None and agent["last_seen"] < ctx.at:
        agent["last_seen"] = ctx.at
    _after_presence_change(ctx, agent, before)


def _deactivate(ctx: _Ctx, agent_id: str) -> None:
    """A deactivated agent is offline for good (until reactivated): every open chat they hold or take part
    in is handed on at once, exactly as if they had left it (a teammate present in it takes over, else it
    is queued and the drain gives it to whoever is free)."""
    agent = _agent(ctx.state, agent_id)
    if agent.get("deactivated"):
        return
    agent["deactivated"] = True
    agent["status"] = "offline"
    agent["offline_since"] = ctx.at
    for conversation_id, conv in list(ctx.state.conversations.items()):
        if conv["open"] and (conv["assignee"] == agent_id or agent_id in conv["participants"]):
            _leave(ctx, conversation_id, agent_id)


def _heartbeat(ctx: _Ctx, agent_id: str) -> None:
    agent = _agent(ctx.state, agent_id)
    before = effective_status(agent)
    if agent["last_seen"] is None or agent["last_seen"] < ctx.at:
        agent["last_seen"] = ctx.at
    agent["presence_lost"] = False
    _after_presence_change(ctx, agent, before)


def _after_presence_change(ctx: _Ctx, agent: AgentEntry, before: str) -> None:
    now = effective_status(agent)
    if now == "offline":
        if agent["offline_since"] is None:
            agent["offline_since"] = ctx.at  # the grace period starts; the agent keeps their chats for now
    else:
        agent["offline_since"] = None  # back within the grace period: nothing was taken away
        if now == "available" and before != "available":
            agent["idle_since"] = ctx.at


def _configure(ctx: _Ctx, department: str, event: DepartmentConfigured) -> None:
    state = ctx.state
    previous = state.departments.get(department)
    payload = event.payload
    state.departments[department] = {
        "name": payload.name,
        "members": list(dict.fromkeys(payload.members)),
        "strategy": payload.strategy,
        "fallback": payload.fallback,
        "default_max_chats": payload.default_max_chats,
        "rr_last": previous.get("rr_last") if previous else None,
        "hours": payload.hours.model_dump(mode="json") if payload.hours is not None else None,
    }
    ctx.open_now.clear()  # these hours, or the tenant default's, may have changed


def _tick(ctx: _Ctx, grace_seconds: float, heartbeat_timeout_seconds: float) -> None:
    """The router's clock: heartbeat silence counts as offline; offline past the grace period loses chats."""
    state = ctx.state
    now = max(ctx.at, state.meta.get("now") or ctx.at)
    state.meta["now"] = now
    ctx.at = now
    ctx.open_now.clear()
    timeout = timedelta(seconds=heartbeat_timeout_seconds)
    for agent in state.agents.values():
        last_seen = agent["last_seen"]
        if last_seen is not None and not agent["presence_lost"] and _parse(now) - _parse(last_seen) > timeout:
            before = effective_status(agent)
            agent["presence_lost"] = True
            if before != "offline":
                agent["offline_since"] = _instant(_parse(last_seen) + timeout)
    grace = timedelta(seconds=grace_seconds)
    expired = {
        agent_id
        for agent_id, agent in state.agents.items()
        if effective_status(agent) == "offline"
        and agent["offline_since"] is not None
        and _parse(now) - _parse(agent["offline_since"]) >= grace
    }
    if not expired:
        return
    for conversation_id, conv in list(state.conversations.items()):
        previous = conv["assignee"]
        if conv["open"] and previous in expired:
            _set_assignee(ctx, conversation_id, None)
            conv["waiting_since"] = now
            _route(
                ctx,
                conversation_id,
                reason="agent_offline",
                queued_reason="agent_offline",
                previous=previous,
                exclude=expired,
            )


def _prune_closed(state: TenantState) -> None:
    """Forget the oldest closed conversations past a bound: they only serve reopen and duplicate checks."""
    closed = [cid for cid, c in state.conversations.items() if not c["open"]]
    for conversation_id in closed[: max(0, len(closed) - CLOSED_CONVERSATIONS_KEPT)]:
        del state.conversations[conversation_id]
