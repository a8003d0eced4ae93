"""Routing policy: who gets a conversation. Pure: no I/O, no clock, so replaying facts replays decisions.

One tenant's routing state is plain JSON (`TenantState.to_entries`): the router keeps it in a faust table
backed by a changelog, one entry per agent, conversation, department and queue, so a fact rewrites only
what it changed. All of a tenant's queues share one writer on purpose: an agent can belong to several
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
from typing import Any, Literal

from shared.capacity import chat_limit
from shared.events import EventBase
from shared.events.agent import (
    AgentHeartbeat,
    AgentProfileUpdated,
    AgentRegistered,
    AgentStatusChanged,
    DepartmentConfigured,
    RoutingTick,
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
        AgentProfileUpdated,
        AgentStatusChanged,
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


def _new_agent(max_chats: int | None = None) -> dict[str, Any]:
    return {
        "status": "offline",  # what the agent declared
        "max_chats": max_chats,  # None: the department default applies
        "idle_since": None,  # last assignment or last became available: the least-busy tie-break
        "last_seen": None,  # last presence heartbeat; None: presence not tracked for this agent
        "presence_lost": False,  # heartbeats stopped for longer than the timeout
        "offline_since": None,  # when the agent became (effectively) offline: the grace period runs from here
    }


@dataclass
class TenantState:
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    # conversation id -> {"open", "assignee", "last_assignee", "participants", "left", "department",
    #                     "queued_seq", "queued_at", "waiting_since", "position"}; insertion-ordered.
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # department id -> {"name", "members", "strategy", "fallback", "default_max_chats", "rr_last"}
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    # department id -> conversation ids, FIFO
    queues: dict[str, list[str]] = field(default_factory=dict)
    # "now", "seq" (enqueue counter), "recent_facts", "sources" (source partition -> last applied offset)
    meta: dict[str, Any] = field(default_factory=dict)

    # -- persistence: one JSON value per entry ------------------------------------------------------------

    def to_entries(self) -> dict[str, Any]:
        entries: dict[str, Any] = {"meta": self.meta}
        entries.update({f"agent/{k}": v for k, v in self.agents.items()})
        entries.update({f"conv/{k}": v for k, v in self.conversations.items()})
        entries.update({f"dept/{k}": v for k, v in self.departments.items()})
        entries.update({f"queue/{k}": v for k, v in self.queues.items() if v})
        return entries

    @classmethod
    def from_entries(cls, entries: dict[str, Any]) -> TenantState:
        state = cls()
        state.meta = copy.deepcopy(entries.get("meta") or {})
        convs: list[tuple[int, str, dict[str, Any]]] = []
        for key, value in entries.items():
            kind, _, ident = key.partition("/")
            value = copy.deepcopy(value)
            if kind == "agent":
                state.agents[ident] = value
            elif kind == "conv":
                convs.append((value.get("created_seq", 0), ident, value))
            elif kind == "dept":
                state.departments[ident] = value
            elif kind == "queue":
                state.queues[ident] = value
        for _, ident, value in sorted(convs, key=lambda item: (item[0], item[1])):
            state.conversations[ident] = value
        return state

    def to_dict(self) -> dict[str, Any]:
        return self.to_entries()

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TenantState:
        return cls.from_entries(data or {})

    # -- read helpers -------------------------------------------------------------------------------------

    @property
    def queue(self) -> list[str]:
        """Every queued conversation, oldest first (across departments)."""
        queued = [cid for q in self.queues.values() for cid in q]
        return sorted(queued, key=lambda cid: self.conversations[cid]["queued_seq"])

    def open_count(self, agent_id: str) -> int:
        return sum(1 for c in self.conversations.values() if c["open"] and c["assignee"] == agent_id)

    def loads(self) -> Counter[str]:
        return Counter(c["assignee"] for c in self.conversations.values() if c["open"] and c["assignee"])


def _instant(at: datetime) -> str:
    # Fixed-width UTC ISO strings sort chronologically, so idle-longest is a string comparison.
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _parse(at: str) -> datetime:
    return datetime.fromisoformat(at)


def _seconds_between(start: str | None, end: str) -> float | None:
    return None if start is None else max(0.0, (_parse(end) - _parse(start)).total_seconds())


@dataclass
class _Ctx:
    s: TenantState
    at: str
    out: list[Output]
    loads: Counter[str]


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
    return new, ctx.out


def _apply(ctx: _Ctx, event: EventBase) -> None:
    s, at = ctx.s, ctx.at
    conv = s.conversations.get(event.aggregate_id)
    if isinstance(event, ConversationStarted):
        if conv is None:
            s.meta["seq"] += 1
            s.conversations[event.aggregate_id] = {
                "open": True,
                "assignee": None,
                "last_assignee": None,
                "participants": [],
                "left": [],
                "department": event.payload.department or DEFAULT_DEPARTMENT,
                "created_seq": s.meta["seq"],
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
            _dequeue(s, event.aggregate_id)
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
    elif isinstance(event, AgentRegistered):
        if event.aggregate_id not in s.agents:
            s.agents[event.aggregate_id] = _new_agent(event.payload.max_concurrent_chats)
    elif isinstance(event, AgentProfileUpdated):
        agent = _agent(s, event.aggregate_id)
        if event.payload.max_concurrent_chats is not None:
            agent["max_chats"] = event.payload.max_concurrent_chats
    elif isinstance(event, AgentStatusChanged):
        _status(ctx, event.aggregate_id, event.payload.status)
    elif isinstance(event, AgentHeartbeat):
        _heartbeat(ctx, event.aggregate_id)
    elif isinstance(event, DepartmentConfigured):
        _configure(ctx, event.aggregate_id, event)
    elif isinstance(event, RoutingTick):
        _tick(ctx, event.payload.offline_grace_seconds, event.payload.heartbeat_timeout_seconds)


# -- agents and departments ---------------------------------------------------------------------------


def _agent(s: TenantState, agent_id: str) -> dict[str, Any]:
    # Registration precedes profile and status facts on the agent's partition; tolerate its absence anyway.
    return s.agents.setdefault(agent_id, _new_agent())


def effective_status(agent: dict[str, Any]) -> str:
    """Declared status, except that an agent whose presence heartbeats stopped counts as offline."""
    return "offline" if agent["presence_lost"] else str(agent["status"])


def _capacity(s: TenantState, agent_id: str, department: str) -> int:
    dept = s.departments.get(department)
    return chat_limit(
        s.agents[agent_id]["max_chats"],
        department_default=dept.get("default_max_chats") if dept else None,
        member_defaults=(d["default_max_chats"] for d in s.departments.values() if agent_id in d["members"]),
    ).chats


def _members(s: TenantState, department: str) -> list[str]:
    dept = s.departments.get(department)
    return list(dept["members"]) if dept is not None else list(s.agents)


def _has_room(ctx: _Ctx, agent_id: str, department: str) -> bool:
    return agent_id in ctx.s.agents and ctx.loads[agent_id] < _capacity(ctx.s, agent_id, department)


def _free_agents(ctx: _Ctx, department: str, exclude: Collection[str] = ()) -> list[str]:
    s = ctx.s
    return [
        agent_id
        for agent_id in _members(s, department)
        if agent_id in s.agents
        and effective_status(s.agents[agent_id]) == "available"
        and _has_room(ctx, agent_id, department)
        and agent_id not in exclude
    ]


def _strategy(s: TenantState, department: str) -> str:
    dept = s.departments.get(department)
    return str(dept["strategy"]) if dept is not None else "least_busy"


def _pick(ctx: _Ctx, department: str, free: list[str]) -> str | None:
    """The department's strategy: least busy (then idle longest, then id) or the next member in turn."""
    if not free:
        return None
    s = ctx.s
    if _strategy(s, department) == "round_robin":
        dept = s.departments[department]
        members: list[str] = dept["members"]
        start = members.index(dept["rr_last"]) + 1 if dept.get("rr_last") in members else 0
        for offset in range(len(members)):
            candidate = members[(start + offset) % len(members)]
            if candidate in free:
                dept["rr_last"] = candidate
                return candidate
        return None
    return min(free, key=lambda a: (ctx.loads[a], s.agents[a]["idle_since"] or "", a))


def _fallbacks(s: TenantState, department: str) -> Iterable[str]:
    """The department's fallback chain, without cycles, bounded."""
    seen = {department}
    current = s.departments.get(department)
    for _ in range(FALLBACK_HOPS):
        nxt = current.get("fallback") if current else None
        if nxt is None or nxt in seen:
            return
        seen.add(nxt)
        yield nxt
        current = s.departments.get(nxt)


def _choose(
    ctx: _Ctx, conversation_id: str, *, own_only: bool = False, exclude: Collection[str] = ()
) -> str | None:
    """Whom the department's strategy picks among its free members, else the fallback departments'."""
    s = ctx.s
    conv = s.conversations[conversation_id]
    department = conv["department"]
    if _strategy(s, department) == "pooled":
        return None  # agents take from the pool themselves
    avoid = {*conv["left"], *exclude}
    chosen = _pick(ctx, department, _free_agents(ctx, department, avoid))
    if chosen is not None or own_only:
        return chosen
    for fallback in _fallbacks(s, department):
        if _strategy(s, fallback) == "pooled":
            continue
        chosen = _pick(ctx, fallback, _free_agents(ctx, fallback, avoid))
        if chosen is not None:
            return chosen
    return None


# -- assignment primitives ----------------------------------------------------------------------------


def _set_assignee(ctx: _Ctx, conversation_id: str, agent_id: str | None) -> None:
    conv = ctx.s.conversations[conversation_id]
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
    s = ctx.s
    conv = s.conversations[conversation_id]
    agent = s.agents.get(agent_id)
    over = agent is not None and not _has_room(ctx, agent_id, conv["department"])
    _dequeue(s, conversation_id)
    _set_assignee(ctx, conversation_id, agent_id)
    conv["last_assignee"] = agent_id
    if agent_id not in conv["participants"]:
        conv["participants"].append(agent_id)
    if agent is not None:
        agent["idle_since"] = ctx.at
    waited = _seconds_between(conv.get("waiting_since"), ctx.at)
    conv["waiting_since"] = None
    ctx.out.append(
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
    s = ctx.s
    conv = s.conversations[conversation_id]
    _set_assignee(ctx, conversation_id, None)
    queue = s.queues.setdefault(conv["department"], [])
    if conversation_id not in queue:
        s.meta["seq"] += 1
        conv["queued_seq"] = s.meta["seq"]
        conv["queued_at"] = ctx.at
        queue.append(conversation_id)
    if conv.get("waiting_since") is None:
        conv["waiting_since"] = ctx.at
    position = queue.index(conversation_id) + 1
    conv["position"] = position
    ctx.out.append(
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


def _dequeue(s: TenantState, conversation_id: str) -> None:
    conv = s.conversations[conversation_id]
    queue = s.queues.get(conv["department"], [])
    if conversation_id in queue:
        queue.remove(conversation_id)
        if not queue:
            del s.queues[conv["department"]]
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
    s = ctx.s
    conv = s.conversations[conversation_id]
    chosen: str | None = None
    if (
        prefer is not None
        and prefer in s.agents
        and prefer not in conv["left"]
        and prefer not in exclude
        and effective_status(s.agents[prefer]) == "available"
        and _has_room(ctx, prefer, conv["department"])
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
    s = ctx.s
    for own_only in (True, False):
        for conversation_id in s.queue:
            if not any(_free_agents(ctx, d) for d in {*s.departments, DEFAULT_DEPARTMENT}):
                return
            chosen = _choose(ctx, conversation_id, own_only=own_only)
            if chosen is not None:
                _assign(ctx, conversation_id, chosen, "auto")


# Visitors this near the front hear of every move at once; those further back hear their latest position on
# the router's next tick. One dequeue then costs a few events instead of one per waiting visitor: with
# hundreds waiting, announcing every move to everyone grew the log with the square of the queue.
PROMPT_POSITIONS = 3


def _announce_positions(ctx: _Ctx, *, everyone: bool) -> None:
    for department, queue in ctx.s.queues.items():
        for index, conversation_id in enumerate(queue):
            if index >= PROMPT_POSITIONS and not everyone:
                break
            conv = ctx.s.conversations[conversation_id]
            if conv["position"] != index + 1:
                conv["position"] = index + 1
                ctx.out.append(PositionChanged(conversation_id, department, index + 1, len(queue)))


# -- transitions --------------------------------------------------------------------------------------


def _join(ctx: _Ctx, conversation_id: str, agent_id: str, reason: AssignmentReason) -> None:
    conv = ctx.s.conversations[conversation_id]
    if agent_id in conv["left"]:
        conv["left"].remove(agent_id)  # coming back on purpose lifts the "do not route back" mark
    if agent_id not in conv["participants"]:
        conv["participants"].append(agent_id)
    # Taking an unassigned (or pooled) conversation needs a free slot; otherwise the agent only participates.
    if conv["open"] and conv["assignee"] is None and _has_room(ctx, agent_id, conv["department"]):
        _assign(ctx, conversation_id, agent_id, reason)


def _leave(ctx: _Ctx, conversation_id: str, agent_id: str) -> None:
    s = ctx.s
    conv = s.conversations[conversation_id]
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
    successor = leave_successor(s, conversation_id, agent_id, ctx.loads)
    if successor is not None:
        # Leaving is a deliberate handover to a teammate already in the chat, like a supervisor's forced
        # reassign: it may take them past their max chats, and it never waits behind the queue.
        _assign(ctx, conversation_id, successor, "takeover", previous=agent_id, forced=True)
    else:
        _enqueue(ctx, conversation_id, "agent_left", previous=agent_id)


def leave_successor(
    s: TenantState, conversation_id: str, leaving: str, loads: Counter[str] | None = None
) -> str | None:
    """Who takes over when `leaving` leaves: the least busy remaining participant who is present
    (available or away), whatever their load; None sends the conversation back to the queue."""
    loads = s.loads() if loads is None else loads
    present: list[str] = [
        a
        for a in s.conversations[conversation_id]["participants"]
        if a != leaving and a in s.agents and effective_status(s.agents[a]) != "offline"
    ]
    if not present:
        return None
    return min(present, key=lambda a: (loads[a], str(s.agents[a]["idle_since"] or ""), a))


def _reassign(ctx: _Ctx, conversation_id: str, agent_id: str, *, forced: bool) -> None:
    conv = ctx.s.conversations[conversation_id]
    if conv["assignee"] == agent_id:
        return
    if not forced and agent_id in ctx.s.agents and not _has_room(ctx, agent_id, conv["department"]):
        return  # only a supervisor may push an agent past their max chats; the gateway says so first
    if agent_id in conv["left"]:
        conv["left"].remove(agent_id)
    _assign(ctx, conversation_id, agent_id, "manual_reassign", previous=conv["assignee"], forced=forced)


def _transfer(ctx: _Ctx, conversation_id: str, department: str) -> None:
    s = ctx.s
    conv = s.conversations[conversation_id]
    if conv["department"] == department:
        return
    previous = conv["assignee"]
    _dequeue(s, conversation_id)
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


def _status(ctx: _Ctx, agent_id: str, status: str) -> None:
    agent = _agent(ctx.s, agent_id)
    before = effective_status(agent)
    agent["status"] = status
    # A status change is the agent acting: they are present, whatever their heartbeats said.
    agent["presence_lost"] = False
    if agent["last_seen"] is not None and agent["last_seen"] < ctx.at:
        agent["last_seen"] = ctx.at
    _after_presence_change(ctx, agent, before)


def _heartbeat(ctx: _Ctx, agent_id: str) -> None:
    agent = _agent(ctx.s, agent_id)
    before = effective_status(agent)
    if agent["last_seen"] is None or agent["last_seen"] < ctx.at:
        agent["last_seen"] = ctx.at
    agent["presence_lost"] = False
    _after_presence_change(ctx, agent, before)


def _after_presence_change(ctx: _Ctx, agent: dict[str, Any], before: str) -> None:
    now = effective_status(agent)
    if now == "offline":
        if agent["offline_since"] is None:
            agent["offline_since"] = ctx.at  # the grace period starts; the agent keeps their chats for now
    else:
        agent["offline_since"] = None  # back within the grace period: nothing was taken away
        if now == "available" and before != "available":
            agent["idle_since"] = ctx.at


def _configure(ctx: _Ctx, department: str, event: DepartmentConfigured) -> None:
    s = ctx.s
    previous = s.departments.get(department, {})
    payload = event.payload
    s.departments[department] = {
        "name": payload.name,
        "members": list(dict.fromkeys(payload.members)),
        "strategy": payload.strategy,
        "fallback": payload.fallback,
        "default_max_chats": payload.default_max_chats,
        "rr_last": previous.get("rr_last"),
    }


def _tick(ctx: _Ctx, grace_seconds: float, heartbeat_timeout_seconds: float) -> None:
    """The router's clock: heartbeat silence counts as offline; offline past the grace period loses chats."""
    s = ctx.s
    now = max(ctx.at, s.meta.get("now") or ctx.at)
    s.meta["now"] = now
    ctx.at = now
    timeout = timedelta(seconds=heartbeat_timeout_seconds)
    for agent in s.agents.values():
        last_seen = agent["last_seen"]
        if last_seen is not None and not agent["presence_lost"] and _parse(now) - _parse(last_seen) > timeout:
            before = effective_status(agent)
            agent["presence_lost"] = True
            if before != "offline":
                agent["offline_since"] = _instant(_parse(last_seen) + timeout)
    grace = timedelta(seconds=grace_seconds)
    expired = {
        agent_id
        for agent_id, agent in s.agents.items()
        if effective_status(agent) == "offline"
        and agent["offline_since"] is not None
        and _parse(now) - _parse(agent["offline_since"]) >= grace
    }
    if not expired:
        return
    for conversation_id, conv in list(s.conversations.items()):
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


def _prune_closed(s: TenantState) -> None:
    """Forget the oldest closed conversations past a bound: they only serve reopen and duplicate checks."""
    closed = [cid for cid, c in s.conversations.items() if not c["open"]]
    for conversation_id in closed[: max(0, len(closed) - CLOSED_CONVERSATIONS_KEPT)]:
        del s.conversations[conversation_id]
