"""Business hours: open or closed at an instant, the next opening, time inside hours, in real time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.business_hours import hours_of, intervals, is_open, next_opening, open_seconds_between
from shared.events.department import BusinessHours

WEEKDAYS_9_TO_5 = [{"day": d, "open": "09:00", "close": "17:00"} for d in ("mon", "tue", "wed", "thu", "fri")]


def paris(**extra: Any) -> BusinessHours:
    return BusinessHours.model_validate({"timezone": "Europe/Paris", "weekly": WEEKDAYS_9_TO_5, **extra})


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_open_within_the_local_weekly_interval_and_closed_outside_it() -> None:
    hours = paris()
    # Wednesday 2026-01-14: Paris is UTC+1 in winter, so 09:00-17:00 local is 08:00-16:00 UTC.
    assert not is_open(hours, utc(2026, 1, 14, 7, 59))
    assert is_open(hours, utc(2026, 1, 14, 8, 0))
    assert is_open(hours, utc(2026, 1, 14, 15, 59))
    assert not is_open(hours, utc(2026, 1, 14, 16, 0))
    # Saturday: no interval.
    assert not is_open(hours, utc(2026, 1, 17, 12, 0))


def test_the_same_wall_clock_hours_move_in_utc_across_a_dst_change() -> None:
    hours = paris()
    # Summer (UTC+2): 09:00 local is 07:00 UTC.
    assert is_open(hours, utc(2026, 7, 15, 7, 0))
    assert not is_open(hours, utc(2026, 7, 15, 15, 0))
    # Europe switched to summer time on Sunday 2026-03-29: Monday 30th opens at 07:00 UTC, Friday 27th at 08:00.
    assert not is_open(hours, utc(2026, 3, 27, 7, 30))
    assert is_open(hours, utc(2026, 3, 30, 7, 30))


def test_an_interval_on_the_night_of_a_dst_change_keeps_its_wall_clock_length() -> None:
    night = BusinessHours.model_validate(
        {"timezone": "Europe/Paris", "weekly": [{"day": "sat", "open": "22:00", "close": "06:00"}]}
    )
    # Saturday 28 March 22:00 (UTC+1) to Sunday 29 March 06:00 (UTC+2): 21:00 to 04:00 UTC, 7 hours.
    assert intervals(night, utc(2026, 3, 28), utc(2026, 3, 30)) == [
        (utc(2026, 3, 28, 21), utc(2026, 3, 29, 4))
    ]


def test_an_interval_that_closes_before_it_opens_runs_past_midnight() -> None:
    hours = BusinessHours.model_validate(
        {"timezone": "America/New_York", "weekly": [{"day": "fri", "open": "22:00", "close": "02:00"}]}
    )
    # Friday 2026-01-16 22:00 EST = Saturday 03:00 UTC; closes Saturday 02:00 EST = 07:00 UTC.
    assert is_open(hours, utc(2026, 1, 17, 3, 0))
    assert is_open(hours, utc(2026, 1, 17, 6, 59))
    assert not is_open(hours, utc(2026, 1, 17, 7, 0))
    assert not is_open(hours, utc(2026, 1, 16, 12, 0))


def test_24_00_closes_at_the_end_of_the_day_and_touching_intervals_merge() -> None:
    hours = BusinessHours.model_validate(
        {
            "timezone": "UTC",
            "weekly": [
                {"day": "mon", "open": "12:00", "close": "24:00"},
                {"day": "tue", "open": "00:00", "close": "06:00"},
            ],
        }
    )
    assert intervals(hours, utc(2026, 1, 12), utc(2026, 1, 14)) == [
        (utc(2026, 1, 12, 12), utc(2026, 1, 13, 6))
    ]
    assert is_open(hours, utc(2026, 1, 12, 23, 59))
    assert is_open(hours, utc(2026, 1, 13, 0, 0))


def test_a_holiday_closes_the_openings_that_start_on_it() -> None:
    hours = paris(holidays=["2026-01-14"])
    assert not is_open(hours, utc(2026, 1, 14, 10, 0))
    assert is_open(hours, utc(2026, 1, 15, 10, 0))


def test_next_opening_is_now_when_open_else_the_next_start_skipping_weekends_and_holidays() -> None:
    hours = paris(holidays=[date(2026, 1, 19)])
    assert next_opening(hours, utc(2026, 1, 14, 10)) == utc(2026, 1, 14, 10)
    # Friday evening -> Monday is a holiday -> Tuesday 09:00 Paris (08:00 UTC).
    assert next_opening(hours, utc(2026, 1, 16, 18)) == utc(2026, 1, 20, 8)
    assert next_opening(None, utc(2026, 1, 16, 18)) == utc(2026, 1, 16, 18)
    never = BusinessHours(timezone="UTC")
    assert next_opening(never, utc(2026, 1, 16)) is None
    assert not is_open(never, utc(2026, 1, 16))


def test_time_inside_hours_counts_only_the_open_stretches() -> None:
    hours = paris()
    # Friday 15:00 UTC (16:00 Paris) to Monday 10:00 UTC (11:00 Paris): 1 h on Friday + 2 h on Monday.
    assert open_seconds_between(hours, utc(2026, 1, 16, 15), utc(2026, 1, 19, 10)) == 3 * 3600
    assert open_seconds_between(None, utc(2026, 1, 16, 15), utc(2026, 1, 16, 16)) == 3600
    assert open_seconds_between(hours, utc(2026, 1, 16, 16), utc(2026, 1, 16, 15)) == 0


def test_no_hours_means_always_open() -> None:
    assert is_open(None, utc(2026, 1, 17, 3))


def test_a_department_without_hours_takes_the_tenant_default_departments() -> None:
    default = {"hours": paris().model_dump(mode="json")}
    own = {"hours": {"timezone": "UTC", "weekly": []}}
    departments = {"default": default, "sales": {"hours": None}, "vip": own}
    assert hours_of(departments, "sales") == paris()
    assert hours_of(departments, None) == paris()
    assert hours_of(departments, "vip") == BusinessHours(timezone="UTC")
    assert hours_of({"sales": {"hours": None}}, "sales") is None


@pytest.mark.parametrize(
    "bad",
    [
        {"timezone": "Mars/Olympus"},
        {"timezone": "Europe"},  # a folder of the zone database, not a zone
        {"timezone": "../../etc/passwd"},
        {"timezone": "UTC", "weekly": [{"day": "mon", "open": "09:00", "close": "09:00"}]},
        {"timezone": "UTC", "weekly": [{"day": "mon", "open": "25:00", "close": "26:00"}]},
        {"timezone": "UTC", "weekly": [{"day": "monday", "open": "09:00", "close": "10:00"}]},
        {"timezone": "UTC", "weekly": [{"day": "mon", "open": "24:00", "close": "10:00"}]},
        {"timezone": "UTC", "holidays": ["not a date"]},
    ],
)
def test_a_schedule_that_means_nothing_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        BusinessHours.model_validate(bad)
