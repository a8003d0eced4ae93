"""Routing and business hours: a closed department's chats wait, whoever is available, until it opens."""

from __future__ import annotations

from shared.events.department import BusinessHours
from tests.unit.routing_desk import Desk

# The Desk's clock starts on Saturday 2025-03-01 at 09:00 UTC and moves a minute per fact.
SATURDAY_9_TO_10 = BusinessHours.model_validate(
    {"timezone": "UTC", "weekly": [{"day": "sat", "open": "09:00", "close": "10:00"}]}
)
SATURDAY_10_TO_12 = BusinessHours.model_validate(
    {"timezone": "UTC", "weekly": [{"day": "sat", "open": "10:00", "close": "12:00"}]}
)


def at_minute(desk: Desk, minute: int) -> None:
    """The next fact happens `minute` minutes after 09:00 (plus the Desk's usual second)."""
    desk.minute = minute


def test_chats_queued_when_the_department_closes_wait_until_an_agent_picks_one() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.agent("bob")
    desk.department("sales", ["ann"], hours=SATURDAY_9_TO_10, fallback="support")
    desk.department("support", ["bob"], hours=SATURDAY_9_TO_10)
    desk.status("bob", "away")
    assert desk.start("c1", "sales") == [("c1", "assigned", "ann", "auto")]
    assert desk.start("c2", "sales") == [("c2", "queued", "#1", "no_agent_available")]
    at_minute(desk, 61)  # 10:01: both departments are closed
    desk.status("bob", "available")
    # Ann's slot frees and Bob is free in the fallback department: neither gets c2, because of the hours.
    assert desk.close("c1") == []
    assert desk.tick() == []
    assert desk.start("c3", "sales") == [("c3", "queued", "#2", "no_agent_available")]
    assert desk.state.queues["sales"] == ["c2", "c3"]
    # An agent may still take one at once.
    assert desk.join("c3", "ann") == [("c3", "assigned", "ann", "joined")]
    assert desk.state.queues["sales"] == ["c2"]


def test_offline_messages_waiting_for_the_opening_are_assigned_on_the_first_tick_after_it() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.agent("bob")
    desk.department("sales", ["ann", "bob"], hours=SATURDAY_10_TO_12)
    assert desk.start("m1", "sales", offline=True) == [("m1", "queued", "#1", "no_agent_available")]
    assert desk.start("m2", "sales", offline=True) == [("m2", "queued", "#2", "no_agent_available")]
    assert desk.tick() == []
    at_minute(desk, 59)  # 09:59:60 is 10:00 sharp: the first tick at the opening hands them out, oldest first
    assert desk.tick() == [("m1", "assigned", "ann", "auto"), ("m2", "assigned", "bob", "auto")]


def test_a_reopened_chat_of_a_closed_department_does_not_go_back_to_its_agent_until_it_opens() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.department("sales", ["ann"], hours=SATURDAY_9_TO_10)
    assert desk.start("c1", "sales") == [("c1", "assigned", "ann", "auto")]
    desk.close("c1")
    at_minute(desk, 70)
    assert desk.reopen("c1") == [("c1", "queued", "#1", "reopened")]


def test_the_default_departments_hours_apply_to_departments_without_their_own_and_to_chats_without_one() -> (
    None
):
    desk = Desk()
    desk.agent("ann")
    desk.department("default", [], hours=SATURDAY_10_TO_12)
    desk.department("sales", ["ann"])
    desk.department("night", ["ann"], hours=SATURDAY_9_TO_10)
    assert desk.start("c1") == [("c1", "queued", "#1", "no_agent_available")]
    assert desk.start("c2", "sales") == [("c2", "queued", "#1", "no_agent_available")]
    assert desk.start("c3", "night") == [("c3", "assigned", "ann", "auto")]
    at_minute(desk, 59)
    assert sorted(desk.tick()) == [("c1", "assigned", "ann", "auto"), ("c2", "assigned", "ann", "auto")]


def test_changing_the_hours_is_a_fact_that_routes_what_waited() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.department("sales", ["ann"], hours=SATURDAY_10_TO_12)
    assert desk.start("c1", "sales") == [("c1", "queued", "#1", "no_agent_available")]
    assert desk.department("sales", ["ann"], hours=SATURDAY_9_TO_10) == [("c1", "assigned", "ann", "auto")]
