"""Read your own writes: the dependencies a read route lists to wait for the positions a client names."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from services.gateway.auth import (
    VisitorPrincipal,
)
from services.gateway.config import GatewaySettings
from services.gateway.deps.principals import AgentDep, VisitorDep
from services.gateway.deps.state import Collection, SettingsDep, ViewOf, ViewsDep
from services.gateway.errors import ApiError
from services.gateway.freshness import foreign, parse_min_positions, wait_for_view

# Read your own writes (services/gateway/freshness.py): a read route lists one of these in its decorator's
# `dependencies`, which FastAPI resolves before the route's own, so what the route loads is at least as new
# as the positions the client named.


MinPositionQuery = Annotated[
    list[str],
    Query(
        description="`<document id>:<position>`, repeatable: answer only once the view has applied "
        "these events (positions from a command's answer or a pushed event); 503 view_behind with "
        "Retry-After if it has not within a couple of seconds"
    ),
]


def parse_wanted(min_position: list[str]) -> dict[str, int]:
    try:
        return parse_min_positions(min_position)
    except ValueError as exc:
        raise ApiError(str(exc)) from None


async def _wanted(
    min_position: MinPositionQuery = [],  # noqa: B006  (FastAPI copies a default; a list query must default to one)
) -> dict[str, int]:
    return parse_wanted(min_position)


WantedDep = Annotated[dict[str, int], Depends(_wanted)]


async def _wait(
    settings: GatewaySettings, collection: Collection, tenant: str, wanted: dict[str, int]
) -> None:
    await wait_for_view(
        collection,
        tenant,
        wanted,
        timeout=settings.fresh_read_wait_seconds,
        poll=settings.fresh_read_poll_seconds,
        retry_after=settings.fresh_read_retry_after_seconds,
    )


def agent_reads(view: ViewOf) -> Any:
    """An agent's read of `view` that waits for the positions named, in the agent's team only."""

    async def wait(wanted: WantedDep, agent: AgentDep, views: ViewsDep, settings: SettingsDep) -> None:
        await _wait(settings, view(views), agent.tenant, wanted)

    return Depends(wait)


async def visitor_wait(
    settings: GatewaySettings, collection: Collection, visitor: VisitorPrincipal, wanted: dict[str, int]
) -> None:
    if others := foreign(wanted, visitor.conversation_id):
        raise ApiError(f"min_position may name your own conversation only, not {others[0][:100]!r}")
    await _wait(settings, collection, visitor.tenant, wanted)


def visitor_reads(view: ViewOf) -> Any:
    """A visitor's read of `view`: they may wait for their own conversation only."""

    async def wait(wanted: WantedDep, visitor: VisitorDep, views: ViewsDep, settings: SettingsDep) -> None:
        await visitor_wait(settings, view(views), visitor, wanted)

    return Depends(wait)


FreshConversations = agent_reads(lambda views: views.conversations)
FreshHistory = agent_reads(lambda views: views.history)  # a summary is saved after its transcript lines
FreshAgents = agent_reads(lambda views: views.agents)
FreshDepartments = agent_reads(lambda views: views.departments)
FreshCanned = agent_reads(lambda views: views.canned)
VisitorFreshHistory = visitor_reads(lambda views: views.history)
