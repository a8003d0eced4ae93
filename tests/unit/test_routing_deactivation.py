"""Routing and deactivated agents: their open chats go on at once, as if they had left each, and they are
never assigned again until a supervisor reactivates them."""

from __future__ import annotations

from services.routing.policy import ROUTING_FACT_TYPES
from shared.events import agent as agent_events
from tests.unit.routing_desk import Brief, Desk


def deactivate(desk: Desk, agent_id: str) -> list[Brief]:
    return desk.apply(
        agent_events.AgentDeactivated(**desk._env(agent_id), payload=agent_events.AgentDeactivatedPayload())
    )


def reactivate(desk: Desk, agent_id: str) -> list[Brief]:
    return desk.apply(
        agent_events.AgentReactivated(**desk._env(agent_id), payload=agent_events.AgentReactivatedPayload())
    )


def test_the_team_events_reach_the_router() -> None:
    for event in (
        agent_events.AgentInvited,
        agent_events.AgentChatLimitSet,
        agent_events.AgentDeactivated,
        agent_events.AgentReactivated,
    ):
        assert event.model_fields["type"].default in ROUTING_FACT_TYPES


def test_a_deactivated_agents_chats_go_to_an_available_teammate_at_once() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.agent("bob")
    desk.start("c1")  # ann
    desk.start("c2")  # bob
    desk.start("c3")  # ann
    assert deactivate(desk, "ann") == [
        ("c1", "queued", "#1", "agent_left"),
        ("c3", "queued", "#2", "agent_left"),
        ("c1", "assigned", "bob", "auto"),
        ("c3", "assigned", "bob", "auto"),
    ]
    assert desk.state.loads() == {"bob": 3}


def test_with_nobody_free_the_deactivated_agents_chat_waits_in_the_queue() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.agent("bob", status="away")
    desk.start("c1")
    assert deactivate(desk, "ann") == [("c1", "queued", "#1", "agent_left")]
    assert desk.status("bob", "available") == [("c1", "assigned", "bob", "auto")]


def test_a_teammate_present_in_the_chat_takes_it_over_as_on_leave() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.agent("bob", max_chats=1)
    desk.start("c1")  # ann
    desk.start("c2")  # bob, now full
    desk.invite("c1", "bob")
    assert deactivate(desk, "ann") == [("c1", "assigned", "bob", "takeover")]


def test_a_deactivated_agent_is_never_assigned_whatever_their_status_or_heartbeats_say() -> None:
    desk = Desk()
    desk.agent("ann")
    deactivate(desk, "ann")
    desk.heartbeat("ann")  # a dashboard tab's last beat, in flight when they were deactivated
    desk.status("ann", "available")
    assert desk.start("c1") == [("c1", "queued", "#1", "no_agent_available")]
    assert desk.join("c1", "ann") == []  # a participant at most, never the assignee
    assert desk.reassign("c1", "ann", forced=True) == []
    desk.agent("bob")
    assert desk.assignee("c1") == "bob"


def test_a_reactivated_agent_gets_chats_again_once_available() -> None:
    desk = Desk()
    desk.agent("ann")
    deactivate(desk, "ann")
    assert desk.start("c1") == [("c1", "queued", "#1", "no_agent_available")]
    assert reactivate(desk, "ann") == []  # offline until they sign in
    assert desk.status("ann", "available") == [("c1", "assigned", "ann", "auto")]


def test_deactivating_twice_changes_nothing_the_second_time() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.agent("bob")
    desk.start("c1")
    deactivate(desk, "ann")
    assert deactivate(desk, "ann") == []


def test_an_invited_agent_counts_with_the_limit_the_supervisor_set() -> None:
    desk = Desk()
    payload = agent_events.AgentInvitedPayload(email="cat@acme.test", name="Cat", max_concurrent_chats=1)
    desk.apply(agent_events.AgentInvited(**desk._env("cat"), payload=payload))
    desk.status("cat", "available")
    assert desk.start("c1") == [("c1", "assigned", "cat", "auto")]
    assert desk.start("c2") == [("c2", "queued", "#1", "no_agent_available")]
    limit = agent_events.AgentChatLimitSetPayload(max_concurrent_chats=2)
    assert desk.apply(agent_events.AgentChatLimitSet(**desk._env("cat"), payload=limit)) == [
        ("c2", "assigned", "cat", "auto")
    ]
