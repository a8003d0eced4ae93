"""Business hours: whether a department is open at an instant, when it opens next, and how much of a
stretch of time fell inside its hours. Pure: instants in, instants out (aware datetimes; answers in UTC).

A department's hours are its own, else the tenant default: the hours of the department whose id is
`default` (conversations with no department use those too); with neither, it is always open.

Local wall times are turned into instants by `zoneinfo`: an opening at a time a DST change skips starts
at the instant the skipped wall time maps to (fold 0), so an interval never vanishes. Intervals are built
per local date, so 09:00-17:00 is eight wall-clock hours even on the day the clocks change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.events.department import WEEKDAYS, BusinessHours

TENANT_DEFAULT_DEPARTMENT = "default"
# next_opening looks this far ahead; a schedule closed for longer (no intervals at all) never opens.
HORIZON_DAYS = 400

Interval = tuple[datetime, datetime]


def hours_of(departments: Mapping[str, Any], department: str | None) -> BusinessHours | None:
    """The hours that apply to `department` (a mapping from department id to its configuration, whose
    `hours` is a BusinessHours or its JSON), falling back to the tenant default; None: always open."""
    for candidate in (department, TENANT_DEFAULT_DEPARTMENT):
        config = departments.get(candidate) if candidate else None
        raw = config.get("hours") if config else None
        if raw is not None:
            return raw if isinstance(raw, BusinessHours) else BusinessHours.model_validate(raw)
    return None


def _clock(value: str) -> time | None:
    """HH:MM as a time; 24:00 is None (the end of the day)."""
    if value == "24:00":
        return None
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


def _local_instant(day: date, at: time | None, zone: ZoneInfo) -> datetime:
    if at is None:
        day, at = day + timedelta(days=1), time(0, 0)
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _day_intervals(hours: BusinessHours, zone: ZoneInfo, day: date) -> list[Interval]:
    """The openings that start on local date `day`, as UTC instants."""
    if day in hours.holidays:
        return []
    weekday = WEEKDAYS[day.weekday()]
    found: list[Interval] = []
    for interval in hours.weekly:
        if interval.day != weekday:
            continue
        opens, closes = _clock(interval.open), _clock(interval.close)
        assert opens is not None  # the schema forbids opening at 24:00
        close_day = day if closes is None or closes > opens else day + timedelta(days=1)
        start, end = _local_instant(day, opens, zone), _local_instant(close_day, closes, zone)
        if end > start:
            found.append((start, end))
    return found


def intervals(hours: BusinessHours, start: datetime, end: datetime) -> list[Interval]:
    """The opening intervals overlapping [start, end), merged where they touch or overlap, clipped to it."""
    zone = ZoneInfo(hours.timezone)
    first = start.astimezone(zone).date() - timedelta(days=1)  # an overnight opening of the day before
    last = end.astimezone(zone).date()
    raw: list[Interval] = []
    day = first
    while day <= last:
        raw.extend(_day_intervals(hours, zone, day))
        day += timedelta(days=1)
    merged: list[Interval] = []
    for s, e in sorted(raw):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return [(max(s, start), min(e, end)) for s, e in merged if e > start and s < end]


def is_open(hours: BusinessHours | None, at: datetime) -> bool:
    if hours is None:
        return True
    return bool(intervals(hours, at, at + timedelta(microseconds=1)))


def next_opening(hours: BusinessHours | None, at: datetime) -> datetime | None:
    """`at` itself when open then; else when the department opens next; None if not within the horizon."""
    if is_open(hours, at):
        return at.astimezone(UTC)
    assert hours is not None
    for week in range(0, HORIZON_DAYS, 7):
        window = intervals(hours, at + timedelta(days=week), at + timedelta(days=week + 7))
        if window:
            return window[0][0]
    return None


def open_seconds_between(hours: BusinessHours | None, start: datetime, end: datetime) -> float:
    """How many seconds of [start, end) fell within opening hours (all of them when always open)."""
    if end <= start:
        return 0.0
    if hours is None:
        return (end - start).total_seconds()
    return sum((e - s).total_seconds() for s, e in intervals(hours, start, end))
