"""Closed-conversation history with search, and the supervisors' reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from services.conversation import queries as conversation_queries
from services.gateway.deps import AgentDep, FreshHistory, SupervisorDep, ViewsDep
from services.gateway.errors import ApiError
from services.gateway.schemas import public
from services.history import queries as history_queries

# A report reads its window one day at a time; a year is the longest a dashboard asks for.
MAX_REPORT_WINDOW = timedelta(days=366)

router = APIRouter(prefix="/api/agent", tags=["agent: history and reports"])


@router.get(
    "/history",
    summary="Closed conversations, newest first, searchable, a page at a time",
    dependencies=[FreshHistory],
)
async def closed_history(
    agent: AgentDep, views: ViewsDep, search: Annotated[history_queries.ClosedSearch, Query()]
) -> dict[str, Any]:
    result = await history_queries.search_closed(
        conversations=views.history, tenant=agent.tenant, now=datetime.now(UTC), search=search
    )
    return {**result, "items": [public(item) for item in result["items"]]}


@router.get(
    "/reports",
    summary="Supervisors: handled conversations, response and resolution times, CSAT",
    dependencies=[FreshHistory],
)
async def reports(
    agent: SupervisorDep,
    views: ViewsDep,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> dict[str, Any]:
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=30)
    if since > until:
        raise ApiError("since must be before until")
    if until - since > MAX_REPORT_WINDOW:
        raise ApiError(f"a report covers at most {MAX_REPORT_WINDOW.days} days")
    departments = await conversation_queries.departments(departments=views.departments, tenant=agent.tenant)
    figures: dict[str, Any] = await history_queries.report(
        conversations=views.history,
        tenant=agent.tenant,
        since=since,
        until=until,
        departments={doc["_id"]: doc for doc in departments},  # their business hours
    )
    return {"since": since, "until": until, **figures}
