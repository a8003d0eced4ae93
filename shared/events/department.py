"""Events of departments (departments topic, keyed by department id): members, routing strategy, chat
limits and business hours."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Literal
from zoneinfo import available_timezones

from pydantic import Field, field_validator, model_validator

from shared.events.envelope import EventBase, Strict

RoutingStrategy = Literal["least_busy", "round_robin", "pooled"]


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class OpeningInterval(Strict):
    """One weekly opening, in the schedule's time zone. A close at or before the open runs past midnight
    (fri 22:00-02:00 closes on Saturday at 02:00); 24:00 closes at the end of the day."""

    day: Weekday
    open: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, local time")
    close: str = Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$", description="HH:MM, local time")

    @model_validator(mode="after")
    def _not_empty(self) -> OpeningInterval:
        if self.open == self.close:
            raise ValueError("an opening interval cannot open and close at the same time")
        return self


class BusinessHours(Strict):
    """When a department answers chats. Outside these hours its chats wait and the widget offers a message."""

    timezone: str = Field(max_length=64, description="IANA time zone, e.g. Europe/Paris")
    weekly: list[OpeningInterval] = Field(default_factory=list, max_length=50)
    holidays: list[date] = Field(
        default_factory=list,
        max_length=400,
        description="Local dates closed all day (openings that start on them).",
    )
    offline_text: str = Field(
        default="We're away right now. Leave a message and we'll reply by email.", max_length=1000
    )
    offline_form_when_unavailable: bool = Field(
        default=False,
        description="Offer the leave-a-message form while open too, when no agent is available.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        # The installed IANA names only: ZoneInfo alone would also open a directory ("Europe") or a data file.
        if value not in _time_zones():
            raise ValueError(f"unknown time zone {value!r}")
        return value


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


class DepartmentConfiguredPayload(Strict):
    name: str = Field(min_length=1, max_length=200)
    members: list[str] = Field(
        default_factory=list, max_length=1000, description="Agent ids, in round-robin order."
    )
    strategy: RoutingStrategy = Field(
        default="least_busy",
        description="least_busy: fewest open chats, then idle longest; round_robin: next member in turn; "
        "pooled: nobody is auto-assigned, agents take from the queue.",
    )
    fallback: str | None = Field(
        default=None, max_length=100, description="Department whose agents take chats nobody here can take."
    )
    default_max_chats: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Max concurrent chats for members with no setting of their own.",
    )
    hours: BusinessHours | None = Field(
        default=None,
        description="Business hours; null: the tenant default (the `default` department's hours), else always open.",
    )


class DepartmentConfigured(EventBase):
    """A department (team) was created or reconfigured; the aggregate id is the department id (departments topic)."""

    type: Literal["department.configured"] = "department.configured"
    payload: DepartmentConfiguredPayload


DEPARTMENT_EVENTS = (DepartmentConfigured,)
