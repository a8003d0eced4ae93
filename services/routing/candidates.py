"""Who may take a conversation: the agents of its department who are available with a free slot, picked
by the department's strategy, else those of its fallback departments; nobody while the department is closed."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from services.routing.decisions import FactContext, parse_instant
from services.routing.state import AgentEntry, TenantState, effective_status, new_agent
from shared.business_hours import hours_of, is_open

FALLBACK_HOPS = 5


def agent_entry(state: TenantState, agent_id: str) -> AgentEntry:
    # Registration precedes profile and status facts on the agent's partition; tolerate its absence anyway.
    return state.agents.setdefault(agent_id, new_agent())


def is_open_now(ctx: FactContext, department: str) -> bool:
    """Whether the department's business hours (else the tenant default's) have it open now. A closed
    department's chats wait in its queue, and go to nobody by strategy or fallback, until a fact at or after
    the opening (the router's tick at the latest) drains the queue; an agent may still take one by joining."""
    known = ctx.open_now.get(department)
    if known is None:
        known = is_open(hours_of(ctx.state.departments, department), parse_instant(ctx.at))
        ctx.open_now[department] = known
    return known


def has_room(ctx: FactContext, agent_id: str, department: str) -> bool:
    agent = ctx.state.agents.get(agent_id)
    if agent is None or agent.get("deactivated"):
        return False
    return ctx.loads[agent_id] < ctx.state.capacity(agent_id, department)


def free_agents(ctx: FactContext, department: str, exclude: Collection[str] = ()) -> list[str]:
    state = ctx.state
    return [
        agent_id
        for agent_id in state.members(department)
        if agent_id in state.agents
        and effective_status(state.agents[agent_id]) == "available"
        and has_room(ctx, agent_id, department)
        and agent_id not in exclude
    ]


def pick(ctx: FactContext, department: str, free: list[str]) -> str | None:
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


def fallbacks(state: TenantState, department: str) -> Iterable[str]:
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


def choose(
    ctx: FactContext, conversation_id: str, *, own_only: bool = False, exclude: Collection[str] = ()
) -> str | None:
    """Whom the department's strategy picks among its free members, else the fallback departments'."""
    state = ctx.state
    conv = state.conversations[conversation_id]
    department = conv["department"]
    if state.strategy(department) == "pooled" or not is_open_now(ctx, department):
        return None  # agents take from the pool themselves; a closed department's chats wait for the opening
    avoid = {*conv["left"], *exclude}
    chosen = pick(ctx, department, free_agents(ctx, department, avoid))
    if chosen is not None or own_only:
        return chosen
    for fallback in fallbacks(state, department):
        if state.strategy(fallback) == "pooled" or not is_open_now(ctx, fallback):
            continue
        chosen = pick(ctx, fallback, free_agents(ctx, fallback, avoid))
        if chosen is not None:
            return chosen
    return None
