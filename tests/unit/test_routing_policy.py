"""Who gets which conversation, as a support team would notice it: pure decide(), no broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from services.routing.app import decision_event
from services.routing.policy import Decision, TenantState, decide
from shared.events import Actor, EventBase, serialize
from shared.events.agent import (
    AgentProfileUpdated,
    AgentProfileUpdatedPayload,
    AgentRegistered,
    AgentRegisteredPayload,
    AgentStatus,
    AgentStatusChanged,
    AgentStatusChangedPayload,
)
from shared.events.conversation import (
    ConversationClosed,
    ConversationClosedPayload,
    ConversationReopened,
    ConversationReopenedPayload,
    ConversationStarted,
    ConversationStartedPayload,
    DirectConversationStarted,
    DirectConversationStartedPayload,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantPayload,
    ReassignmentRequested,
    ReassignmentRequestedPayload,
    TeammateInvited,
    VisitorInfo,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
SUPERVISOR = Actor(kind="agent", id="sup")


class Desk:
    """One tenant's help desk, driven fact by fact with a clock that ticks a minute per fact."""

    def __init__(self) -> None:
        self.state = TenantState()
        self.minute = 0
        self.history: list[EventBase] = []

    def apply(self, event: EventBase) -> list[tuple[str, str, str | None, str]]:
        self.state, decisions = decide(self.state, event)
        self.history.append(event)
        return [brief(d) for d in decisions]

    def _env(self, aggregate_id: str) -> dict[str, Any]:
        self.minute += 1
        at = T0 + timedelta(minutes=self.minute)
        return {"tenant": "acme", "aggregate_id": aggregate_id, "actor": SUPERVISOR, "occurred_at": at}

    def agent(self, agent_id: str, max_chats: int = 5, status: AgentStatus = "available") -> None:
        payload = AgentRegisteredPayload(
            email=f"{agent_id}@acme.test", name=agent_id, max_concurrent_chats=max_chats
        )
        self.apply(AgentRegistered(**self._env(agent_id), payload=payload))
        self.status(agent_id, status)

    def status(self, agent_id: str, status: AgentStatus) -> list[tuple[str, str, str | None, str]]:
        return self.apply(
            AgentStatusChanged(**self._env(agent_id), payload=AgentStatusChangedPayload(status=status))
        )

    def capacity(self, agent_id: str, max_chats: int) -> list[tuple[str, str, str | None, str]]:
        payload = AgentProfileUpdatedPayload(max_concurrent_chats=max_chats)
        return self.apply(AgentProfileUpdated(**self._env(agent_id), payload=payload))

    def start(self, cid: str) -> list[tuple[str, str, str | None, str]]:
        payload = ConversationStartedPayload(visitor_id=f"v-{cid}", visitor=VisitorInfo(name="Vera"))
        return self.apply(ConversationStarted(**self._env(cid), payload=payload))

    def close(self, cid: str) -> list[tuple[str, str, str | None, str]]:
        return self.apply(ConversationClosed(**self._env(cid), payload=ConversationClosedPayload()))

    def reopen(self, cid: str) -> list[tuple[str, str, str | None, str]]:
        return self.apply(ConversationReopened(**self._env(cid), payload=ConversationReopenedPayload()))

    def join(self, cid: str, agent_id: str) -> list[tuple[str, str, str | None, str]]:
        return self.apply(ParticipantJoined(**self._env(cid), payload=ParticipantPayload(agent_id=agent_id)))

    def invite(self, cid: str, agent_id: str) -> list[tuple[str, str, str | None, str]]:
        return self.apply(TeammateInvited(**self._env(cid), payload=ParticipantPayload(agent_id=agent_id)))

    def leave(self, cid: str, agent_id: str) -> list[tuple[str, str, str | None, str]]:
        return self.apply(ParticipantLeft(**self._env(cid), payload=ParticipantPayload(agent_id=agent_id)))

    def reassign(self, cid: str, agent_id: str) -> list[tuple[str, str, str | None, str]]:
        payload = ReassignmentRequestedPayload(agent_id=agent_id)
        return self.apply(ReassignmentRequested(**self._env(cid), payload=payload))

    def decide_raw(self, event: EventBase) -> list[Decision]:
        self.state, decisions = decide(self.state, event)
        return decisions


def brief(d: Decision) -> tuple[str, str, str | None, str]:
    """(conversation, outcome, agent, reason); queued ones show their position as the agent column."""
    who = d.agent_id if d.outcome != "queued" else f"#{d.queue_position}"
    return (d.conversation_id, d.outcome, who, d.reason)


def test_a_new_visitor_goes_to_the_available_agent_with_the_fewest_open_chats() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.agent("bob")
    assert desk.start("c1") == [("c1", "assigned", "ann", "auto")]
    assert desk.start("c2") == [("c2", "assigned", "bob", "auto")]
    desk.close("c1")
    assert desk.start("c3") == [("c3", "assigned", "ann", "auto")]


def test_between_equally_busy_agents_the_one_idle_longest_gets_the_visitor() -> None:
    desk = Desk()
    desk.agent("bob")  # available first, so idle longer than ann
    desk.agent("ann")
    assert desk.start("c1") == [("c1", "assigned", "bob", "auto")]
    assert desk.start("c2") == [("c2", "assigned", "ann", "auto")]
    # Both hold one chat now; bob's last assignment is older than ann's.
    assert desk.start("c3") == [("c3", "assigned", "bob", "auto")]


def test_an_agent_at_max_concurrent_chats_gets_no_more_and_visitors_queue_in_order() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    assert desk.start("c1") == [("c1", "assigned", "ann", "auto")]
    assert desk.start("c2") == [("c2", "queued", "#1", "no_agent_available")]
    assert desk.start("c3") == [("c3", "queued", "#2", "no_agent_available")]
    assert desk.state.open_count("ann") == 1


def test_an_agent_becoming_available_takes_the_oldest_queued_visitors_up_to_capacity() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=2, status="offline")
    for cid in ("c1", "c2", "c3"):
        desk.start(cid)
    assert desk.status("ann", "available") == [
        ("c1", "assigned", "ann", "auto"),
        ("c2", "assigned", "ann", "auto"),
    ]
    assert desk.state.queue == ["c3"]


def test_closing_a_chat_hands_the_freed_slot_to_the_oldest_queued_visitor() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.start("c1")
    desk.start("c2")
    desk.start("c3")
    assert desk.close("c1") == [("c2", "assigned", "ann", "auto")]
    # A visitor who gives up while queued leaves the queue and frees no slot.
    assert desk.close("c3") == []
    assert desk.state.queue == []


def test_raising_max_concurrent_chats_lets_the_agent_take_queued_visitors() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.start("c1")
    desk.start("c2")
    assert desk.capacity("ann", 2) == [("c2", "assigned", "ann", "auto")]


def test_when_the_assignee_leaves_another_present_participant_takes_over() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.agent("bob")
    desk.agent("cat")
    desk.start("c1")
    desk.invite("c1", "bob")
    desk.invite("c1", "cat")
    desk.status("bob", "offline")
    decisions = desk.decide_raw(
        ParticipantLeft(**desk._env("c1"), payload=ParticipantPayload(agent_id="ann"))
    )
    assert [(d.agent_id, d.previous_agent_id, d.reason) for d in decisions] == [("cat", "ann", "takeover")]


def test_when_the_assignee_leaves_alone_the_visitor_goes_back_to_the_queue_and_not_back_to_them() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.start("c1")
    assert desk.leave("c1", "ann") == [("c1", "queued", "#1", "agent_left")]
    desk.agent("bob")
    assert desk.state.conversations["c1"]["assignee"] == "bob"


def test_the_slot_freed_by_a_leaving_assignee_goes_to_the_oldest_queued_visitor() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.start("c1")
    desk.start("c2")
    assert desk.leave("c1", "ann") == [
        ("c1", "queued", "#2", "agent_left"),
        ("c2", "assigned", "ann", "auto"),
    ]
    assert desk.state.queue == ["c1"]


def test_an_agent_joining_a_queued_conversation_becomes_its_assignee() -> None:
    desk = Desk()
    desk.start("c1")
    desk.start("c2")
    desk.agent("ann", status="away")
    assert desk.join("c2", "ann") == [("c2", "assigned", "ann", "joined")]
    assert desk.state.queue == ["c1"]
    # Joining a conversation that already has an assignee makes a participant, not a new assignee.
    desk.agent("bob")
    assert desk.join("c1", "bob") == []  # bob got c1 when he became available
    assert desk.join("c1", "ann") == []
    assert desk.state.conversations["c1"]["assignee"] == "bob"


def test_an_invited_teammate_takes_an_unassigned_chat_and_can_take_over_later() -> None:
    desk = Desk()
    desk.start("c1")
    desk.agent("ann", status="away")
    desk.agent("bob", status="away")
    assert desk.invite("c1", "ann") == [("c1", "assigned", "ann", "manual_reassign")]
    assert desk.invite("c1", "bob") == []
    assert desk.leave("c1", "ann") == [("c1", "assigned", "bob", "takeover")]


def test_reassignment_moves_the_chat_even_past_capacity_and_the_old_assignee_takes_the_queue() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.agent("bob", max_chats=1)
    desk.start("c1")  # ann
    desk.start("c2")  # bob
    desk.start("c3")  # queued
    decisions = desk.decide_raw(
        ReassignmentRequested(**desk._env("c1"), payload=ReassignmentRequestedPayload(agent_id="bob"))
    )
    assert [brief(d) for d in decisions] == [
        ("c1", "assigned", "bob", "manual_reassign"),
        ("c3", "assigned", "ann", "auto"),
    ]
    assert decisions[0].previous_agent_id == "ann"
    assert decisions[0].over_capacity  # a human chose to give bob a second chat
    assert "bob" in desk.state.conversations["c1"]["participants"]


def test_reassignment_of_a_closed_or_unknown_conversation_is_ignored() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.start("c1")
    desk.close("c1")
    assert desk.reassign("c1", "ann") == []
    assert desk.reassign("nope", "ann") == []


def test_an_agent_going_offline_hands_their_chats_to_others_or_back_to_the_queue() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=3)
    desk.start("c1")
    desk.start("c2")
    desk.agent("bob", max_chats=1)
    assert desk.status("ann", "offline") == [
        ("c1", "assigned", "bob", "agent_offline"),
        ("c2", "queued", "#1", "agent_offline"),
    ]
    assert desk.state.open_count("ann") == 0


def test_an_away_agent_keeps_their_chats_but_gets_no_new_ones() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.start("c1")
    assert desk.status("ann", "away") == []
    assert desk.start("c2") == [("c2", "queued", "#1", "no_agent_available")]
    assert desk.state.conversations["c1"]["assignee"] == "ann"
    assert desk.status("ann", "available") == [("c2", "assigned", "ann", "auto")]


def test_a_reopened_chat_returns_to_its_agent_if_free_else_to_the_least_busy_else_the_queue() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.agent("bob", max_chats=1)
    desk.start("c1")  # ann, idle longest
    desk.close("c1")
    assert desk.reopen("c1") == [("c1", "assigned", "ann", "reopened")]
    desk.close("c1")
    desk.status("ann", "away")
    decisions = desk.decide_raw(
        ConversationReopened(**desk._env("c1"), payload=ConversationReopenedPayload())
    )
    assert [(brief(d), d.previous_agent_id) for d in decisions] == [
        (("c1", "assigned", "bob", "reopened"), "ann")
    ]
    desk.close("c1")
    desk.status("bob", "away")
    assert desk.reopen("c1") == [("c1", "queued", "#1", "reopened")]


def test_re_delivered_or_already_reflected_facts_make_no_new_decisions() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.start("c1")
    desk.start("c2")
    desk.close("c1")
    desk.reopen("c1")
    desk.close("c1")
    before = json.dumps(desk.state.to_dict(), sort_keys=True)
    # A consumer restart re-delivers the whole tail, in order: the same events, same ids.
    assert [d for event in list(desk.history) for d in desk.apply(event)] == []
    # Distinct events that say what the state already says are no-ops too.
    assert desk.start("c2") == []
    assert desk.status("ann", "available") == []
    assert desk.close("c1") == []
    assert desk.join("c2", "ann") == []
    assert desk.reassign("c2", "ann") == []
    after = desk.state.to_dict()
    assert {k: v for k, v in after.items() if k != "recent_facts"} == {
        k: v for k, v in json.loads(before).items() if k != "recent_facts"
    }


def test_direct_agent_to_agent_conversations_are_never_routed() -> None:
    desk = Desk()
    desk.agent("ann")
    payload = DirectConversationStartedPayload(participant_ids=["ann", "bob"])
    assert desk.apply(DirectConversationStarted(**desk._env("d1"), payload=payload)) == []
    assert desk.join("d1", "ann") == []
    assert desk.leave("d1", "ann") == []
    assert desk.reassign("d1", "ann") == []
    assert desk.state.open_count("ann") == 0


def test_state_survives_a_json_round_trip_and_decide_never_mutates_its_input() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.start("c1")
    desk.start("c2")
    snapshot = json.dumps(desk.state.to_dict(), sort_keys=True)
    restored = TenantState.from_dict(json.loads(snapshot))
    closing = ConversationClosed(**desk._env("c1"), payload=ConversationClosedPayload())
    _, from_restored = decide(restored, closing)
    _, from_live = decide(desk.state, closing)
    assert from_restored == from_live == [Decision("c2", "assigned", "ann", None, "auto")]
    assert json.dumps(desk.state.to_dict(), sort_keys=True) == snapshot


def test_the_same_fact_always_yields_byte_identical_decision_events() -> None:
    desk = Desk()
    desk.agent("ann")
    fact = ConversationStarted(
        **desk._env("c1"),
        payload=ConversationStartedPayload(visitor_id="v", visitor=VisitorInfo(name="V")),
    )
    (decision,) = decide(desk.state, fact)[1]
    first, again = decision_event(fact, decision, 0), decision_event(fact, decision, 0)
    assert serialize(first) == serialize(again)
    assert first.occurred_at == fact.occurred_at
    assert first.causation_id == first.correlation_id == fact.event_id
    assert first.actor == Actor(kind="system", id="router")
