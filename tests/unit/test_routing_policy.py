"""Who gets which conversation, as a support team would notice it: pure decide(), no broker."""

from __future__ import annotations

import json
from typing import Any

from services.routing.decisions import Decision, PositionChanged
from services.routing.outputs import output_event
from services.routing.policy import ROUTING_FACT_TYPES, decide
from services.routing.state import TenantState
from shared.events import Actor, serialize
from shared.events import conversation as conversation_events
from tests.events import build_event
from tests.unit.routing_desk import Desk, brief, decision_event


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
    assert desk.state.loads()["ann"] == 1


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
        build_event(conversation_events.ParticipantLeft, **desk._env("c1"), agent_id="ann")
    )
    assert [(d.agent_id, d.previous_agent_id, d.reason) for d in decisions] == [("cat", "ann", "takeover")]


def test_leave_hands_the_chat_to_a_busy_teammate_as_a_forced_handover_before_the_queue_moves() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=2)
    desk.agent("bob", max_chats=2)
    for cid in ("a1", "b1", "a2", "b2"):
        desk.start(cid)  # ann and bob at 2 of 2 each
    desk.start("q1")  # waits in the queue
    desk.invite("a1", "bob")
    decisions = desk.decide_raw(
        build_event(conversation_events.ParticipantLeft, **desk._env("a1"), agent_id="ann")
    )
    # bob takes over though full, then ann's freed seat goes to the oldest queued visitor.
    assert [brief(d) for d in decisions] == [
        ("a1", "assigned", "bob", "takeover"),
        ("q1", "assigned", "ann", "auto"),
    ]
    takeover = decisions[0]
    assert takeover.previous_agent_id == "ann"
    assert takeover.forced and takeover.over_capacity
    assert not decisions[1].forced and not decisions[1].over_capacity
    event = decision_event(desk.history[-1], takeover, 0)
    assert event.payload.forced and event.payload.over_capacity


def test_leave_hands_over_to_an_away_teammate_too() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.agent("bob", status="away")
    desk.start("c1")
    desk.invite("c1", "bob")
    assert desk.leave("c1", "ann") == [("c1", "assigned", "bob", "takeover")]


def test_leave_picks_the_least_busy_present_teammate_whatever_their_limits() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=10)
    desk.agent("bob", max_chats=1)
    desk.agent("cat", max_chats=1)
    desk.agent("dan", max_chats=10)
    for cid in ("c1", "c2", "c3", "c4", "c5", "c6"):
        desk.start(cid)
    assignees = [desk.assignee(c) for c in ("c1", "c2", "c3", "c4", "c5", "c6")]
    assert assignees == ["ann", "bob", "cat", "dan", "ann", "dan"]  # bob and cat full at 1, ann and dan at 2
    for teammate in ("bob", "cat", "dan"):
        desk.invite("c5", teammate)
    desk.status("cat", "offline")
    # bob (1 chat, full) is less busy than dan (2 chats, room to spare); cat is offline.
    assert desk.leave("c5", "ann") == [("c5", "assigned", "bob", "takeover")]


def test_leave_with_only_offline_teammates_sends_the_chat_back_to_the_queue() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.agent("bob")
    desk.start("c1")
    desk.invite("c1", "bob")
    desk.status("bob", "offline")
    assert desk.leave("c1", "ann") == [("c1", "queued", "#1", "agent_left")]
    assert desk.state.queue == ["c1"]


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


def test_a_supervisor_can_force_a_chat_onto_a_full_agent_and_it_is_recorded_as_forced() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.agent("bob", max_chats=1)
    desk.start("c1")  # ann
    desk.start("c2")  # bob
    desk.start("c3")  # queued
    # Without force, a full agent gets nothing: the router refuses rather than exceed the limit.
    assert desk.reassign("c1", "bob") == []
    assert desk.assignee("c1") == "ann"
    decisions = desk.decide_raw(
        build_event(conversation_events.ReassignmentRequested, **desk._env("c1"), agent_id="bob", forced=True)
    )
    assert [brief(d) for d in decisions] == [
        ("c1", "assigned", "bob", "manual_reassign"),
        ("c3", "assigned", "ann", "auto"),  # the previous assignee got a slot back
    ]
    assert decisions[0].previous_agent_id == "ann"
    assert decisions[0].forced and decisions[0].over_capacity
    assert not decisions[1].forced
    assert "bob" in desk.state.conversations["c1"]["participants"]
    assert decision_event(desk.history[-1], decisions[0], 0).payload.forced


def test_reassignment_to_an_agent_with_room_needs_no_force() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.agent("bob")
    desk.start("c1")
    assert desk.reassign("c1", "bob") == [("c1", "assigned", "bob", "manual_reassign")]


def test_reassignment_of_a_closed_or_unknown_conversation_is_ignored() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.start("c1")
    desk.close("c1")
    assert desk.reassign("c1", "ann") == []
    assert desk.reassign("nope", "ann") == []


def test_an_agent_going_offline_keeps_their_chats_for_the_grace_period_then_they_move() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=3)
    desk.start("c1")
    desk.start("c2")
    desk.agent("bob", max_chats=1)
    assert desk.status("ann", "offline") == []  # 09:06
    assert desk.assignee("c1") == "ann"
    assert desk.tick(grace=120) == []  # 09:07, one minute into two: still ann's
    assert desk.tick(grace=120) == [  # 09:08: the grace period is over
        ("c1", "assigned", "bob", "agent_offline"),
        ("c2", "queued", "#1", "agent_offline"),
    ]
    assert [d.previous_agent_id for d in desk.decide_raw(desk.history[-1])] == []  # applied once
    assert desk.state.loads()["ann"] == 0


def test_an_agent_back_within_the_grace_period_keeps_their_chats() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.agent("bob")
    desk.start("c1")  # ann
    desk.status("ann", "offline")
    desk.status("ann", "available")
    assert desk.tick(grace=0) == []
    assert desk.assignee("c1") == "ann"


def test_heartbeat_silence_beyond_the_timeout_counts_as_offline_and_starts_the_grace_period() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.heartbeat("ann")  # 09:02, presence tracked from now on
    desk.start("c1")  # 09:03, ann
    desk.agent("bob", max_chats=1)
    desk.start("c2")  # bob: fewer open chats
    assert desk.assignee("c2") == "bob"
    desk.close("c2")
    # 09:08: ann silent for 6 minutes, timeout 5: offline since 09:07, grace 2 minutes runs to 09:09.
    assert desk.tick(grace=120, timeout=300) == []
    assert desk.start("c3") == [("c3", "assigned", "bob", "auto")]  # ann gets no new chats meanwhile
    assert desk.tick(grace=120, timeout=300) == [
        ("c1", "queued", "#1", "agent_offline")
    ]  # 09:10, bob is full
    # ann's dashboard comes back: she is available again and takes the queue.
    assert desk.heartbeat("ann") == [("c1", "assigned", "ann", "auto")]


def test_agents_without_heartbeats_are_not_timed_out() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.start("c1")
    for _ in range(5):
        assert desk.tick(grace=0, timeout=1) == []
    assert desk.assignee("c1") == "ann"


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
    decisions = desk.decide_raw(build_event(conversation_events.ConversationReopened, **desk._env("c1")))
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
    before = json.dumps(desk.state.to_entries(), sort_keys=True)
    # A consumer restart re-delivers the whole tail, in order: the same events, same ids.
    assert [d for event in list(desk.history) for d in desk.apply(event)] == []
    # Distinct events that say what the state already says are no-ops too.
    assert desk.start("c2") == []
    assert desk.status("ann", "available") == []
    assert desk.close("c1") == []
    assert desk.join("c2", "ann") == []
    assert desk.reassign("c2", "ann") == []

    def without_fact_ids(state: dict[str, Any]) -> dict[str, Any]:
        return {**state, "meta": {k: v for k, v in state["meta"].items() if k != "recent_facts"}}

    assert without_fact_ids(desk.state.to_entries()) == without_fact_ids(json.loads(before))


def test_direct_agent_to_agent_conversations_are_never_routed() -> None:
    desk = Desk()
    for agent in ("ann", "bob", "cat", "dan"):
        desk.agent(agent, max_chats=1)
    started = build_event(
        conversation_events.DirectConversationStarted, **desk._env("d1"), participant_ids=["ann", "bob"]
    )
    # The re-keyer does not copy a direct chat's start to routing-facts: the router never hears of d1.
    assert started.type not in ROUTING_FACT_TYPES
    # What happens in the chat afterwards is copied, as for any conversation, and changes nothing.
    assert desk.invite("d1", "cat") == []
    assert desk.join("d1", "dan") == []
    assert desk.leave("d1", "ann") == []
    assert {event.type for event in desk.history[-3:]} <= ROUTING_FACT_TYPES
    assert "d1" not in desk.state.conversations
    # Nobody's seat is taken by it: each of the four, limited to one chat, still gets a visitor.
    got = [desk.start(cid)[0][1:3] for cid in ("c1", "c2", "c3", "c4")]
    assert got == [("assigned", "ann"), ("assigned", "bob"), ("assigned", "cat"), ("assigned", "dan")]
    assert desk.close("d1") == []
    assert desk.history[-1].type in ROUTING_FACT_TYPES


def test_state_survives_a_json_round_trip_and_decide_never_mutates_its_input() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.start("c1")
    desk.start("c2")
    snapshot = json.dumps(desk.state.to_entries(), sort_keys=True)
    restored = TenantState.from_entries(json.loads(snapshot))
    closing = build_event(conversation_events.ConversationClosed, **desk._env("c1"))
    _, from_restored = decide(restored, closing)
    _, from_live = decide(desk.state, closing)
    assert (
        from_restored == from_live == [Decision("c2", "assigned", "ann", None, "auto", waited_seconds=60.0)]
    )
    assert json.dumps(desk.state.to_entries(), sort_keys=True) == snapshot


def test_the_same_fact_always_yields_byte_identical_decision_events() -> None:
    desk = Desk()
    desk.agent("ann")
    fact = build_event(
        conversation_events.ConversationStarted, **desk._env("c1"), visitor_id="v", visitor={"name": "V"}
    )
    (decision,) = decide(desk.state, fact)[1]
    assert isinstance(decision, Decision)
    first, again = decision_event(fact, decision, 0), decision_event(fact, decision, 0)
    assert serialize(first) == serialize(again)
    assert first.occurred_at == fact.occurred_at
    assert first.causation_id == first.correlation_id == fact.event_id
    assert first.actor == Actor(kind="system", id="router")


# -- departments, strategies, queues ---------------------------------------------------------------------


def test_a_conversation_for_a_department_goes_only_to_its_members() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.agent("bob")
    desk.department("sales", ["bob"])
    assert desk.start("c1", "sales") == [("c1", "assigned", "bob", "auto")]
    assert desk.start("c2", "sales") == [("c2", "assigned", "bob", "auto")]  # ann has fewer, but is not sales
    # No department (or one nobody configured) is served by everyone.
    assert desk.start("c3") == [("c3", "assigned", "ann", "auto")]
    assert desk.start("c4", "unknown-team") == [("c4", "assigned", "ann", "auto")]


def test_round_robin_takes_members_in_turn_whatever_their_load() -> None:
    desk = Desk()
    for agent in ("ann", "bob", "cat"):
        desk.agent(agent)
    desk.department("support", ["bob", "ann", "cat"], strategy="round_robin")
    got = [desk.start(f"c{i}", "support")[0][2] for i in range(5)]
    assert got == ["bob", "ann", "cat", "bob", "ann"]
    desk.status("cat", "away")
    assert desk.start("c5", "support")[0][2] == "bob"  # cat is skipped, the turn goes on
    desk.status("cat", "available")
    assert desk.start("c6", "support")[0][2] == "ann"


def test_least_busy_is_the_default_strategy_of_a_department() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.agent("bob")
    desk.department("sales", ["ann", "bob"])
    desk.start("c1", "sales")  # ann, idle longest
    desk.start("c2", "sales")  # bob
    desk.close("c1")
    assert desk.start("c3", "sales") == [("c3", "assigned", "ann", "auto")]


def test_a_pooled_department_assigns_nobody_and_agents_take_from_the_queue() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.department("vip", ["ann"], strategy="pooled")
    assert desk.start("c1", "vip") == [("c1", "queued", "#1", "no_agent_available")]
    assert desk.start("c2", "vip") == [("c2", "queued", "#2", "no_agent_available")]
    assert desk.tick() == []  # the sweep does not assign pooled chats either
    assert desk.join("c2", "ann") == [("c2", "assigned", "ann", "joined")]
    assert desk.moves() == []  # c1 was ahead of c2: still first, so nobody moved
    # Taking a second one past the limit only makes ann a participant; it stays in the pool.
    assert desk.join("c1", "ann") == []
    assert desk.state.queues["vip"] == ["c1"]


def test_the_fallback_department_takes_what_nobody_in_the_department_can() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.agent("bob", max_chats=1)
    desk.department("sales", ["ann"], fallback="support")
    desk.department("support", ["bob"])
    assert desk.start("c1", "sales") == [("c1", "assigned", "ann", "auto")]
    assert desk.start("c2", "sales") == [("c2", "assigned", "bob", "auto")]  # fallback
    assert desk.start("c3", "sales") == [("c3", "queued", "#1", "no_agent_available")]
    assert desk.start("c4", "support") == [("c4", "queued", "#1", "no_agent_available")]
    # A freed fallback agent serves their own department's queue first.
    assert desk.close("c2") == [("c4", "assigned", "bob", "auto")]
    assert desk.close("c4") == [("c3", "assigned", "bob", "auto")]


def test_fallback_cycles_end() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.department("a", ["ann"], fallback="b")
    desk.department("b", [], fallback="a")
    desk.start("c1", "a")
    assert desk.start("c2", "b") == [("c2", "queued", "#1", "no_agent_available")]


def test_max_chats_is_the_agents_own_setting_or_else_the_department_default() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=None)  # registered without a limit of her own
    desk.department("sales", ["ann"], default_max_chats=2)
    assert [d[1] for cid in ("c1", "c2", "c3") for d in desk.start(cid, "sales")] == [
        "assigned",
        "assigned",
        "queued",
    ]
    desk.capacity("ann", 3)  # her own setting wins
    assert desk.assignee("c3") == "ann"


def test_an_agent_without_a_limit_of_their_own_and_no_department_default_takes_the_team_default() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=None)
    outcomes = [d[1] for n in range(7) for d in desk.start(f"c{n}")]
    assert outcomes == ["assigned"] * 5 + ["queued"] * 2


def test_queues_are_fifo_per_department_and_visitors_hear_when_they_move_up() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.agent("bob", max_chats=1)
    desk.department("sales", ["ann"])
    desk.department("support", ["bob"])
    desk.start("s0", "sales")
    desk.start("t0", "support")
    assert desk.start("s1", "sales") == [("s1", "queued", "#1", "no_agent_available")]
    assert desk.start("t1", "support") == [("t1", "queued", "#1", "no_agent_available")]
    assert desk.start("s2", "sales") == [("s2", "queued", "#2", "no_agent_available")]
    assert desk.start("s3", "sales") == [("s3", "queued", "#3", "no_agent_available")]
    assert desk.close("s0") == [("s1", "assigned", "ann", "auto")]
    assert desk.moves() == [("s2", 1), ("s3", 2)]
    # A visitor who gives up makes the ones behind move up; support's queue is untouched.
    desk.close("s2")
    assert desk.moves() == [("s3", 1)]
    assert desk.state.queues == {"sales": ["s3"], "support": ["t1"]}
    position = next(p for p in desk.last if isinstance(p, PositionChanged))
    assert (position.department, position.queue_length) == ("sales", 1)


def test_the_front_of_a_long_queue_hears_each_move_at_once_the_rest_on_the_next_tick() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.start("c0")
    for n in range(1, 9):
        assert desk.start(f"c{n}") == [(f"c{n}", "queued", f"#{n}", "no_agent_available")]
    desk.close("c0")  # c1 gets ann; everyone behind moves up one
    assert desk.moves() == [("c2", 1), ("c3", 2), ("c4", 3)]
    desk.close("c1")  # again, before the router's clock ticks
    assert desk.moves() == [("c3", 1), ("c4", 2), ("c5", 3)]
    # The tick tells each visitor further back their latest position once, not every step on the way.
    desk.tick()
    assert desk.moves() == [("c6", 4), ("c7", 5), ("c8", 6)]
    desk.tick()
    assert desk.moves() == []


def test_a_transfer_routes_the_chat_in_the_new_department_and_not_back_to_the_sender() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.agent("bob")
    desk.agent("cat", max_chats=1)
    desk.department("sales", ["ann"])
    desk.department("billing", ["ann", "cat"])
    desk.start("c1", "sales")
    decisions = desk.decide_raw(
        build_event(conversation_events.TransferRequested, **desk._env("c1"), department="billing")
    )
    assert [(brief(d), d.previous_agent_id, d.department) for d in decisions] == [
        (("c1", "assigned", "cat", "transfer"), "ann", "billing")
    ]
    desk.start("c2", "sales")
    assert desk.transfer("c2", "billing") == [("c2", "queued", "#1", "transfer")]  # cat is full
    assert desk.transfer("c2", "billing") == []  # already there
    assert desk.close("c1") == [("c2", "assigned", "cat", "auto")]


def test_a_reopened_chat_whose_assignee_went_offline_is_routed_again() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.agent("bob")
    desk.start("c1")  # ann
    desk.close("c1")
    desk.status("ann", "offline")
    assert desk.reopen("c1") == [("c1", "assigned", "bob", "reopened")]


def test_the_periodic_sweep_assigns_whatever_an_event_trigger_missed() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.start("c1")
    desk.start("c2")
    # A state where a slot is free but c2 still waits (e.g. recovered from an older build's changelog).
    desk.state.conversations["c1"]["open"] = False
    desk.state.conversations["c1"]["assignee"] = None
    assert desk.tick() == [("c2", "assigned", "ann", "auto")]


def test_re_delivered_facts_are_recognised_by_their_source_offset() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    start = build_event(
        conversation_events.ConversationStarted, **desk._env("c1"), visitor_id="v", visitor={"name": "V"}
    )
    state, first = decide(desk.state, start, ("conversation-events:0", 7))
    assert [brief(d) for d in first if isinstance(d, Decision)] == [("c1", "assigned", "ann", "auto")]
    close = build_event(conversation_events.ConversationClosed, **desk._env("c1"))
    state, _ = decide(state, close, ("conversation-events:0", 8))
    reopen = build_event(conversation_events.ConversationReopened, **desk._env("c1"))
    state, _ = decide(state, reopen, ("conversation-events:0", 9))
    # However long ago, an older close re-delivered after the reopen must not close it again.
    again, nothing = decide(state, close, ("conversation-events:0", 8))
    assert again is state and nothing == []
    assert state.conversations["c1"]["open"]


def test_ticks_make_the_same_decisions_on_replay() -> None:
    desk = Desk()
    desk.agent("ann")
    desk.heartbeat("ann")
    desk.start("c1")
    desk.agent("bob")
    desk.tick(grace=30, timeout=90)
    desk.tick(grace=30, timeout=90)
    replay = TenantState()
    decisions = []
    for event in desk.history:
        replay, out = decide(replay, event)
        decisions += out
    assert replay.to_entries() == desk.state.to_entries()
    assert ("c1", "assigned", "bob", "agent_offline") in [
        brief(d) for d in decisions if isinstance(d, Decision)
    ]


def test_state_entries_round_trip_keeps_the_conversation_order() -> None:
    desk = Desk()
    desk.agent("ann", max_chats=1)
    desk.department("sales", ["ann"])
    for cid in ("z", "a", "m"):
        desk.start(cid, "sales")
    entries = json.loads(json.dumps(desk.state.to_entries()))
    restored = TenantState.from_entries(dict(reversed(list(entries.items()))))
    assert list(restored.conversations) == ["z", "a", "m"]
    assert restored.queue == ["a", "m"]
    assert restored.to_entries() == desk.state.to_entries()


def test_the_position_event_tells_the_visitor_where_they_stand() -> None:
    desk = Desk()
    fact = build_event(conversation_events.ConversationClosed, **desk._env("c1"))
    event = output_event(fact, PositionChanged("c2", "sales", 3, 7), 1)
    assert event.type == "conversation.queue_position_changed"
    assert event.aggregate_id == "c2"
    assert event.payload.model_dump() == {"department": "sales", "position": 3, "queue_length": 7}
