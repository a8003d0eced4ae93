"""The router's tenant state: `decide` works on a copy, so the state it was given must never change."""

from __future__ import annotations

import copy

import pytest

from services.routing.state import (
    AGENT_LISTS,
    CONVERSATION_LISTS,
    DEPARTMENT_LISTS,
    AgentEntry,
    ConversationEntry,
    DepartmentEntry,
    TenantState,
    new_agent,
)


def busy_state() -> TenantState:
    state = TenantState()
    state.agents["ann"] = new_agent(max_chats=3)
    state.departments["sales"] = {
        "name": "Sales",
        "members": ["ann"],
        "strategy": "least_busy",
        "fallback": None,
        "default_max_chats": None,
        "rr_last": None,
        "hours": {"timezone": "UTC", "days": {"mon": [["09:00", "17:00"]]}},
    }
    for n in range(5):
        state.conversations[f"c{n}"] = {
            "open": True,
            "assignee": "ann" if n < 2 else None,
            "last_assignee": None,
            "participants": ["ann"] if n < 2 else [],
            "left": [],
            "department": "sales",
            "created_seq": n,
            "queued_seq": n if n >= 2 else None,
            "queued_at": None,
            "waiting_since": None,
            "position": None,
        }
    state.queues["sales"] = ["c2", "c3", "c4"]
    state.meta = {"seq": 5, "recent_facts": ["f1"], "sources": {"0": 12}}
    return state


def test_a_copy_equals_the_state_and_keeps_the_order_conversations_started_in() -> None:
    state = busy_state()
    copied = state.copy()
    assert copied == state
    assert list(copied.conversations) == list(state.conversations)


def test_changing_a_copy_leaves_the_state_it_came_from_as_it_was() -> None:
    state = busy_state()
    before = copy.deepcopy(state)
    copied = state.copy()
    copied.agents["ann"]["status"] = "available"
    copied.conversations["c0"]["participants"].append("bob")
    copied.conversations["c2"]["assignee"] = "ann"
    copied.departments["sales"]["members"].append("bob")
    hours = copied.departments["sales"]["hours"]
    assert hours is not None
    hours["days"]["mon"].append(["18:00", "19:00"])
    copied.queues["sales"].pop(0)
    copied.meta["sources"]["0"] = 13
    copied.meta.setdefault("recent_facts", []).append("f2")
    copied.conversations["c9"] = copied.conversations.pop("c4")
    assert state == before


def test_conversations_reached_any_way_are_the_copy_s_own() -> None:
    state = busy_state()
    before = copy.deepcopy(state)
    copied = state.copy()
    for _, conversation in copied.conversations.items():
        conversation["open"] = False
    for conversation in copied.conversations.values():
        conversation["left"].append("ann")
    taken = copied.conversations.get("c1")
    assert taken is not None
    taken["department"] = "support"
    copied.conversations.setdefault("c2", taken)["position"] = 7
    assert state == before
    # A copy of the copy: what the first copy took is shared again until taken.
    first_copy = copy.deepcopy(copied)
    again = copied.copy()
    again.conversations["c3"]["left"].clear()
    again.conversations["c3"]["participants"].append("bob")
    assert copied == first_copy
    assert state == before


def test_reading_without_taking_leaves_entries_shared() -> None:
    """What makes a copy cheap: a fact that touches one conversation copies that one, not every one."""
    state = busy_state()
    copied = state.copy()
    copied.conversations["c0"]["assignee"] = "ann"
    unchanged = [cid for cid in copied.conversations if cid != "c0"]
    assert all(copied.conversations.shared(cid) is state.conversations.shared(cid) for cid in unchanged)
    assert copied.conversations.shared("c0") is not state.conversations.shared("c0")


@pytest.mark.parametrize(
    ("entry", "lists"),
    [(AgentEntry, AGENT_LISTS), (ConversationEntry, CONVERSATION_LISTS), (DepartmentEntry, DEPARTMENT_LISTS)],
)
def test_the_copy_knows_every_list_field_of_an_entry(entry: type, lists: tuple[str, ...]) -> None:
    """A list field the copy did not know of would be shared between the states before and after a fact."""
    containers = {
        name
        for name, annotation in entry.__annotations__.items()
        if "list[" in str(annotation) or "dict[" in str(annotation)
    }
    assert containers - {"hours"} == set(lists)
