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

from collections import Counter
from datetime import timedelta

from services.routing.assignment import (
    announce_positions,
    assign,
    dequeue,
    drain,
    enqueue,
    route,
    set_assignee,
)
from services.routing.candidates import agent_entry, choose, has_room
from services.routing.decisions import (
    DEFAULT_DEPARTMENT,
    FactContext,
    Output,
    instant,
    parse_instant,
)
from services.routing.state import AgentEntry, TenantState, effective_status, new_agent
from shared.events import EventBase
from shared.events import agent as agent_events
from shared.events import conversation as conversation_events
from shared.events import department as department_events
from shared.events import routing as routing_events

# Facts the re-keyer forwards to routing-facts; routing.tick is published there by the router itself.
ROUTING_FACT_TYPES: frozenset[str] = frozenset(
    cls.model_fields["type"].default
    for cls in (
        conversation_events.ConversationStarted,
        conversation_events.ConversationClosed,
        conversation_events.ConversationReopened,
        conversation_events.ParticipantJoined,
        conversation_events.ParticipantLeft,
        conversation_events.TeammateInvited,
        conversation_events.ReassignmentRequested,
        conversation_events.TransferRequested,
        agent_events.AgentRegistered,
        agent_events.AgentInvited,
        agent_events.AgentProfileUpdated,
        agent_events.AgentChatLimitSet,
        agent_events.AgentStatusChanged,
        agent_events.AgentDeactivated,
        agent_events.AgentReactivated,
        agent_events.AgentHeartbeat,
        department_events.DepartmentConfigured,
    )
)

RECENT_FACTS_KEPT = 256
CLOSED_CONVERSATIONS_KEPT = 500


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
    new = state.copy()
    ctx = FactContext(new, instant(event.occurred_at), [], new.loads())
    meta = new.meta
    meta.setdefault("seq", 0)
    _apply(ctx, event)
    drain(ctx)
    announce_positions(ctx, everyone=isinstance(event, routing_events.RoutingTick))
    if source is not None:
        meta["sources"] = {**sources, source[0]: source[1]}
    else:
        meta["recent_facts"] = [*meta.get("recent_facts", []), event.event_id][-RECENT_FACTS_KEPT:]
    _prune_closed(new)
    return new, ctx.outputs


def _apply(ctx: FactContext, event: EventBase) -> None:
    state, at = ctx.state, ctx.at
    conv = state.conversations.get(event.aggregate_id)
    if isinstance(event, conversation_events.ConversationStarted):
        if conv is None:
            _arrived(ctx, event.aggregate_id, event.payload.department or DEFAULT_DEPARTMENT)
            route(ctx, event.aggregate_id, reason="auto", queued_reason="no_agent_available")
    elif isinstance(event, conversation_events.ConversationClosed):
        if conv is not None and conv["open"]:
            conv["open"] = False
            set_assignee(ctx, event.aggregate_id, None)
            dequeue(state, event.aggregate_id)
    elif isinstance(event, conversation_events.ConversationReopened):
        if conv is None:
            # Closed long ago: the router forgot it (only the latest closed ones are kept), or never saw it
            # start. The visitor is back all the same, so it is routed as a new arrival; its department
            # went with the forgotten entry, so it goes to the team's default one.
            _arrived(ctx, event.aggregate_id, DEFAULT_DEPARTMENT)
            route(ctx, event.aggregate_id, reason="reopened", queued_reason="reopened")
        elif not conv["open"]:
            conv["open"] = True
            conv["waiting_since"] = at
            prefer = conv["last_assignee"]
            route(ctx, event.aggregate_id, reason="reopened", queued_reason="reopened", prefer=prefer)
    elif isinstance(event, conversation_events.ParticipantJoined | conversation_events.TeammateInvited):
        reason: conversation_events.AssignmentReason = (
            "joined" if isinstance(event, conversation_events.ParticipantJoined) else "manual_reassign"
        )
        if conv is not None:
            _join(ctx, event.aggregate_id, event.payload.agent_id, reason)
    elif isinstance(event, conversation_events.ParticipantLeft):
        if conv is not None:
            _leave(ctx, event.aggregate_id, event.payload.agent_id)
    elif isinstance(event, conversation_events.ReassignmentRequested):
        if conv is not None and conv["open"]:
            _reassign(ctx, event.aggregate_id, event.payload.agent_id, forced=event.payload.forced)
    elif isinstance(event, conversation_events.TransferRequested):
        if conv is not None and conv["open"]:
            _transfer(ctx, event.aggregate_id, event.payload.department)
    elif isinstance(event, agent_events.AgentRegistered | agent_events.AgentInvited):
        if event.aggregate_id not in state.agents:
            state.agents[event.aggregate_id] = new_agent(event.payload.max_concurrent_chats)
    elif isinstance(event, agent_events.AgentProfileUpdated):
        agent = agent_entry(state, event.aggregate_id)
        if event.payload.max_concurrent_chats is not None:
            agent["max_chats"] = event.payload.max_concurrent_chats
    elif isinstance(event, agent_events.AgentChatLimitSet):
        agent_entry(state, event.aggregate_id)["max_chats"] = event.payload.max_concurrent_chats
    elif isinstance(event, agent_events.AgentDeactivated):
        _deactivate(ctx, event.aggregate_id)
    elif isinstance(event, agent_events.AgentReactivated):
        agent_entry(state, event.aggregate_id)["deactivated"] = False
    elif isinstance(event, agent_events.AgentStatusChanged):
        _status(ctx, event.aggregate_id, event.payload.status)
    elif isinstance(event, agent_events.AgentHeartbeat):
        _heartbeat(ctx, event.aggregate_id)
    elif isinstance(event, department_events.DepartmentConfigured):
        _configure(ctx, event.aggregate_id, event)
    elif isinstance(event, routing_events.RoutingTick):
        _tick(ctx, event.payload.offline_grace_seconds, event.payload.heartbeat_timeout_seconds)


# -- transitions --------------------------------------------------------------------------------------


def _arrived(ctx: FactContext, conversation_id: str, department: str) -> None:
    """An open conversation, waiting for an agent from now."""
    state = ctx.state
    state.meta["seq"] += 1
    state.conversations[conversation_id] = {
        "open": True,
        "assignee": None,
        "last_assignee": None,
        "participants": [],
        "left": [],
        "department": department,
        "created_seq": state.meta["seq"],
        "queued_seq": None,
        "queued_at": None,
        "waiting_since": ctx.at,
        "position": None,
    }


def _join(
    ctx: FactContext, conversation_id: str, agent_id: str, reason: conversation_events.AssignmentReason
) -> None:
    conv = ctx.state.conversations[conversation_id]
    if agent_id in conv["left"]:
        conv["left"].remove(agent_id)  # coming back on purpose lifts the "do not route back" mark
    if agent_id not in conv["participants"]:
        conv["participants"].append(agent_id)
    # Taking an unassigned (or pooled) conversation needs a free slot; otherwise the agent only participates.
    if conv["open"] and conv["assignee"] is None and has_room(ctx, agent_id, conv["department"]):
        assign(ctx, conversation_id, agent_id, reason)


def _leave(ctx: FactContext, conversation_id: str, agent_id: str) -> None:
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
    set_assignee(ctx, conversation_id, None)
    conv["waiting_since"] = ctx.at
    successor = _leave_successor(state, conversation_id, agent_id, ctx.loads)
    if successor is not None:
        # Leaving is a deliberate handover to a teammate already in the chat, like a supervisor's forced
        # reassign: it may take them past their max chats, and it never waits behind the queue.
        assign(ctx, conversation_id, successor, "takeover", previous=agent_id, forced=True)
    else:
        enqueue(ctx, conversation_id, "agent_left", previous=agent_id)


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


def _reassign(ctx: FactContext, conversation_id: str, agent_id: str, *, forced: bool) -> None:
    conv = ctx.state.conversations[conversation_id]
    target = ctx.state.agents.get(agent_id)
    if conv["assignee"] == agent_id or (target is not None and target.get("deactivated")):
        return  # a deactivated agent takes no chat, forced or not; the gateway says so first
    if not forced and agent_id in ctx.state.agents and not has_room(ctx, agent_id, conv["department"]):
        return  # only a supervisor may push an agent past their max chats; the gateway says so first
    if agent_id in conv["left"]:
        conv["left"].remove(agent_id)
    assign(ctx, conversation_id, agent_id, "manual_reassign", previous=conv["assignee"], forced=forced)


def _transfer(ctx: FactContext, conversation_id: str, department: str) -> None:
    state = ctx.state
    conv = state.conversations[conversation_id]
    if conv["department"] == department:
        return
    previous = conv["assignee"]
    dequeue(state, conversation_id)
    set_assignee(ctx, conversation_id, None)
    conv["department"] = department
    conv["waiting_since"] = ctx.at
    # The agent who hands it over does not get it back through the new department (unless they rejoin).
    if previous is not None and previous not in conv["left"]:
        conv["left"].append(previous)
    chosen = choose(ctx, conversation_id)
    if chosen is not None:
        assign(ctx, conversation_id, chosen, "transfer", previous=previous)
    else:
        enqueue(ctx, conversation_id, "transfer", previous=previous)


def _status(ctx: FactContext, agent_id: str, status: agent_events.AgentStatus) -> None:
    agent = agent_entry(ctx.state, agent_id)
    before = effective_status(agent)
    agent["status"] = status
    # A status change is the agent acting: they are present, whatever their heartbeats said.
    agent["presence_lost"] = False
    if agent["last_seen"] is not None and agent["last_seen"] < ctx.at:
        agent["last_seen"] = ctx.at
    _after_presence_change(ctx, agent, before)


def _deactivate(ctx: FactContext, agent_id: str) -> None:
    """A deactivated agent is offline for good (until reactivated): every open chat they hold or take part
    in is handed on at once, exactly as if they had left it (a teammate present in it takes over, else it
    is queued and the drain gives it to whoever is free)."""
    agent = agent_entry(ctx.state, agent_id)
    if agent.get("deactivated"):
        return
    agent["deactivated"] = True
    agent["status"] = "offline"
    agent["offline_since"] = ctx.at
    for conversation_id, conv in list(ctx.state.conversations.items()):
        if conv["open"] and (conv["assignee"] == agent_id or agent_id in conv["participants"]):
            _leave(ctx, conversation_id, agent_id)


def _heartbeat(ctx: FactContext, agent_id: str) -> None:
    agent = agent_entry(ctx.state, agent_id)
    before = effective_status(agent)
    if agent["last_seen"] is None or agent["last_seen"] < ctx.at:
        agent["last_seen"] = ctx.at
    agent["presence_lost"] = False
    _after_presence_change(ctx, agent, before)


def _after_presence_change(ctx: FactContext, agent: AgentEntry, before: str) -> None:
    now = effective_status(agent)
    if now == "offline":
        if agent["offline_since"] is None:
            agent["offline_since"] = ctx.at  # the grace period starts; the agent keeps their chats for now
    else:
        agent["offline_since"] = None  # back within the grace period: nothing was taken away
        if now == "available" and before != "available":
            agent["idle_since"] = ctx.at


def _configure(ctx: FactContext, department: str, event: department_events.DepartmentConfigured) -> None:
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


def _tick(ctx: FactContext, grace_seconds: float, heartbeat_timeout_seconds: float) -> None:
    """The router's clock: heartbeat silence counts as offline; offline past the grace period loses chats."""
    state = ctx.state
    now = max(ctx.at, state.meta.get("now") or ctx.at)
    state.meta["now"] = now
    ctx.at = now
    ctx.open_now.clear()
    timeout = timedelta(seconds=heartbeat_timeout_seconds)
    for agent in state.agents.values():
        last_seen = agent["last_seen"]
        if (
            last_seen is not None
            and not agent["presence_lost"]
            and parse_instant(now) - parse_instant(last_seen) > timeout
        ):
            before = effective_status(agent)
            agent["presence_lost"] = True
            if before != "offline":
                agent["offline_since"] = instant(parse_instant(last_seen) + timeout)
    grace = timedelta(seconds=grace_seconds)
    expired = {
        agent_id
        for agent_id, agent in state.agents.items()
        if effective_status(agent) == "offline"
        and agent["offline_since"] is not None
        and parse_instant(now) - parse_instant(agent["offline_since"]) >= grace
    }
    if not expired:
        return
    for conversation_id, conv in list(state.conversations.items()):
        previous = conv["assignee"]
        if conv["open"] and previous in expired:
            set_assignee(ctx, conversation_id, None)
            conv["waiting_since"] = now
            route(
                ctx,
                conversation_id,
                reason="agent_offline",
                queued_reason="agent_offline",
                previous=previous,
                exclude=expired,
            )


def _prune_closed(state: TenantState) -> None:
    """Forget the oldest closed conversations past a bound: they only serve reopen and duplicate checks."""
    closed = [cid for cid, c in state.conversations.shared_items() if not c["open"]]
    for conversation_id in closed[: max(0, len(closed) - CLOSED_CONVERSATIONS_KEPT)]:
        del state.conversations[conversation_id]
