"""What the widget shows before a chat starts: open or closed, whether anyone can answer, the offline text
and the opening hours. Pure: the department views, who is available and the instant in; the answer out.

The opening hours go out as UTC instants for the week ahead: the widget writes them in the visitor's own
time zone (`Intl.DateTimeFormat`), so nobody has to convert "09:00 Europe/Paris" in their head.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from shared.business_hours import hours_of, intervals, is_open, next_opening
from shared.events.department import BusinessHours

HOURS_SHOWN = timedelta(days=7)


def resolve_department(departments: Mapping[str, Mapping[str, Any]], requested: str | None) -> str | None:
    """The department a page asks for, as routing and business hours know it: its id. The widget's tag
    names departments as people read them (`data-departments="Sales,Support"`) while the dashboard keys
    them by id (`sales`), so an id or a display name matches, ignoring case. A name nobody configured stays
    as it is: routing serves it with every agent until a supervisor configures it."""
    if not requested or requested in departments:
        return requested or None
    wanted = requested.casefold()
    for department_id in sorted(departments):
        doc = departments[department_id]
        if wanted in (department_id.casefold(), str(doc.get("name", "")).casefold()):
            return department_id
    return requested


def availability(
    *,
    departments: Mapping[str, Mapping[str, Any]],
    department: str | None,
    available_agents: Collection[str],
    at: datetime,
) -> dict[str, Any]:
    """`departments` maps ids to department views; `available_agents` are the ids of the team's agents who
    are available. A department nobody configured (or none) is served by every agent, as routing does."""
    department = resolve_department(departments, department)
    hours = hours_of(departments, department)
    config = departments.get(department) if department else None
    serving = set(config["members"]) if config is not None else None
    anyone = any(serving is None or agent in serving for agent in available_agents)
    open_now = is_open(hours, at)
    offer_form = not open_now or (not anyone and hours is not None and hours.offline_form_when_unavailable)
    upcoming = next_opening(hours, at) if hours is not None and not open_now else None
    return {
        "department": department,
        "open": open_now,
        "agents_available": anyone,
        "offer_offline_form": offer_form,
        "offline_text": hours.offline_text if hours is not None and offer_form else None,
        "timezone": hours.timezone if hours is not None else None,
        "next_opening": upcoming.isoformat() if upcoming is not None else None,
        "opening_hours": [
            {"opens": start.isoformat(), "closes": end.isoformat()}
            for start, end in (_week_ahead(hours, at) if hours is not None else [])
        ],
    }


def _week_ahead(hours: BusinessHours, at: datetime) -> list[tuple[datetime, datetime]]:
    """Openings that have not ended yet, the current one from its real start (not clipped to `at`)."""
    return [(s, e) for s, e in intervals(hours, at - timedelta(days=1), at + HOURS_SHOWN) if e > at]
