"""Where a conversation gets assigned or queued: each step records its Decision and keeps the agents' loads
and the department queues in step."""

from __future__ import annotations

from collections.abc import Collection

from services.routing.candidates import choose, free_agents, has_room, is_open_now
from services.routing.decisions import (
    DEFAULT_DEPARTMENT,
    Decision,
    FactContext,
    PositionChanged,
    seconds_between,
)
from services.routing.state import TenantState, effective_status
from shared.events.conversation import AssignmentReason


def set_assignee(ctx: FactContext, conversation_id: str, agent_id: str | None) -> None:
    conv = ctx.state.conversations[conversation_id]
    if conv["assignee"] is not None:  # only open conversations have an assignee
        ctx.loads[conv["assignee"]] -= 1
    conv["assignee"] = agent_id
    if agent_id is not None:
        ctx.loads[agent_id] += 1


def assign(
    ctx: FactContext,
    conversation_id: str,
    agent_id: str,
    reason: AssignmentReason,
    previous: str | None = None,
    forced: bool = False,
) -> None:
    state = ctx.state
    conv = state.conversations[conversation_id]
    agent = state.agents.get(agent_id)
    over = agent is not None and not has_room(ctx, agent_id, conv["department"])
    dequeue(state, conversation_id)
    set_assignee(ctx, conversation_id, agent_id)
    conv["last_assignee"] = agent_id
    if agent_id not in conv["participants"]:
        conv["participants"].append(agent_id)
    if agent is not None:
        agent["idle_since"] = ctx.at
    waited = seconds_between(conv.get("waiting_since"), ctx.at)
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


def enqueue(ctx: FactContext, conversation_id: str, reason: AssignmentReason, previous: str | None) -> None:
    state = ctx.state
    conv = state.conversations[conversation_id]
    set_assignee(ctx, conversation_id, None)
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


def dequeue(state: TenantState, conversation_id: str) -> None:
    conv = state.conversations[conversation_id]
    queue = state.queues.get(conv["department"], [])
    if conversation_id in queue:
        queue.remove(conversation_id)
        if not queue:
            del state.queues[conv["department"]]
    conv["queued_seq"] = conv["queued_at"] = conv["position"] = None


def route(
    ctx: FactContext,
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
        and has_room(ctx, prefer, conv["department"])
        and is_open_now(ctx, conv["department"])
    ):
        chosen = prefer
    if chosen is None:
        chosen = choose(ctx, conversation_id, exclude=exclude)
    previous = previous if previous is not None else prefer
    if chosen is not None:
        assign(ctx, conversation_id, chosen, reason, previous=previous)
    else:
        enqueue(ctx, conversation_id, queued_reason, previous=previous)


def drain(ctx: FactContext) -> None:
    """Hand queued conversations to whoever has a free slot now, oldest first: own department first,
    then agents of fallback departments. Pooled departments are never drained."""
    state = ctx.state
    for own_only in (True, False):
        for conversation_id in state.queue:
            if not any(free_agents(ctx, d) for d in {*state.departments, DEFAULT_DEPARTMENT}):
                return
            chosen = choose(ctx, conversation_id, own_only=own_only)
            if chosen is not None:
                assign(ctx, conversation_id, chosen, "auto")


# Visitors this near the front hear of every move at once; those further back hear their latest position on
# the router's next tick. One dequeue then costs a few events instead of one per waiting visitor: with
# hundreds waiting, announcing every move to everyone grew the log with the square of the queue.
PROMPT_POSITIONS = 3


def announce_positions(ctx: FactContext, *, everyone: bool) -> None:
    for department, queue in ctx.state.queues.items():
        for index, conversation_id in enumerate(queue):
            if index >= PROMPT_POSITIONS and not everyone:
                break
            conv = ctx.state.conversations[conversation_id]
            if conv["position"] != index + 1:
                conv["position"] = index + 1
                ctx.outputs.append(PositionChanged(conversation_id, department, index + 1, len(queue)))
