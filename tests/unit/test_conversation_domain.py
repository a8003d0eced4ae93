"""The conversation view as a pure fold of events: what Monitor and the sidebar show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.conversation.domain import EventOutOfPlace, apply_agent, apply_conversation
from shared.events import EventBase
from shared.events import agent as agent_events
from shared.events import conversation as conversation_events
from shared.events.envelope import Actor
from tests.events import ANN, ROUTER, VISITOR, build_event

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _event(cls: type[EventBase], minutes: int, actor: Actor = VISITOR, **payload: Any) -> EventBase:
    at = T0 + timedelta(minutes=minutes)
    return build_event(cls, tenant="acme", aggregate_id="c1", actor=actor, occurred_at=at, **payload)


def fold(*events: EventBase) -> dict[str, Any]:
    view: dict[str, Any] | None = None
    for position, event in enumerate(events):
        view = apply_conversation(view, event, position)
    assert view is not None
    return view


def _queued_at(queue_position: int) -> EventBase:
    """The router found no agent one minute in and queued the visitor at `queue_position`."""
    return _event(
        conversation_events.AssignmentDecided,
        1,
        ROUTER,
        outcome="queued",
        reason="no_agent_available",
        queue_position=queue_position,
    )


STARTED = _event(
    conversation_events.ConversationStarted,
    0,
    visitor_id="v1",
    visitor={"name": "Vera"},
    page_url="https://x.test/p",
)


def test_a_new_conversation_is_open_unassigned_and_shows_the_visitor() -> None:
    view = fold(STARTED)
    assert (view["status"], view["assignment"], view["visitor"]["name"]) == ("open", "unassigned", "Vera")
    assert view["page_url"] == "https://x.test/p" and view["created_at"] == T0


def test_first_response_time_counts_only_the_first_agent_message() -> None:
    view = fold(
        STARTED,
        _event(conversation_events.MessagePosted, 1, message_id="m1", text="anyone?"),
        _event(conversation_events.MessagePosted, 4, ANN, message_id="m2", text="hi 👋"),
        _event(conversation_events.MessagePosted, 9, ANN, message_id="m3", text="still there?"),
    )
    assert view["first_response_at"] == T0 + timedelta(minutes=4)
    assert view["message_count"] == 3 and view["last_message"]["text"] == "still there?"
    assert "ann" in view["participants"]


def test_assignment_queue_position_and_takeover_come_from_router_decisions() -> None:
    queued = fold(STARTED, _queued_at(2))
    assert (queued["assignment"], queued["queue_position"]) == ("queued", 2)
    assigned = apply_conversation(
        queued,
        _event(
            conversation_events.AssignmentDecided,
            2,
            ROUTER,
            outcome="assigned",
            agent_id="ann",
            reason="auto",
        ),
        9,
    )
    assert (assigned["assignee_id"], assigned["queue_position"]) == ("ann", None)
    assert assigned["participants"] == ["ann"]


def test_tags_join_leave_close_and_reopen() -> None:
    view = fold(
        STARTED,
        _event(conversation_events.ParticipantJoined, 1, ANN, agent_id="ann"),
        _event(conversation_events.TagAdded, 2, ANN, tag="billing"),
        _event(conversation_events.TagAdded, 3, ANN, tag="billing"),
        _event(conversation_events.TagAdded, 3, ANN, tag="vip"),
        _event(conversation_events.TagRemoved, 4, ANN, tag="billing"),
        _event(conversation_events.ParticipantLeft, 5, ANN, agent_id="ann"),
        _event(conversation_events.ConversationClosed, 6, ANN, reason="solved"),
    )
    assert view["tags"] == ["vip"] and view["participants"] == []
    assert view["status"] == "closed" and view["closed_by"] == {"kind": "agent", "id": "ann"}
    reopened = apply_conversation(
        view, _event(conversation_events.ConversationReopened, 7, reason="visitor_message"), 99
    )
    assert reopened["status"] == "open" and reopened["closed_at"] is None


def test_an_event_for_a_conversation_never_started_is_refused() -> None:
    with pytest.raises(EventOutOfPlace):
        apply_conversation(None, _event(conversation_events.TagAdded, 1, ANN, tag="x"), 0)


def test_agent_status_changes_and_re_registration_keeps_live_state() -> None:
    registered = agent_events.AgentRegistered(
        tenant="acme",
        aggregate_id="ann",
        actor=ANN,
        occurred_at=T0,
        payload={"email": "Ann@X.test", "name": "Ann"},
    )
    view = apply_agent(None, registered, 0)
    assert view["email"] == "ann@x.test" and view["status"] == "offline"
    assert view["status_chosen"] is False  # the first sign-in will make her available
    available = agent_events.AgentStatusChanged(
        tenant="acme",
        aggregate_id="ann",
        actor=ANN,
        occurred_at=T0 + timedelta(hours=1),
        payload={"status": "available"},
    )
    view = apply_agent(view, available, 1)
    assert view["status"] == "available" and view["status_since"] == T0 + timedelta(hours=1)
    assert view["status_chosen"] is True
    view = apply_agent(view, registered, 2)
    assert view["status"] == "available" and view["status_chosen"] is True


def test_the_router_moving_a_queue_updates_the_position_the_visitor_sees() -> None:
    queued = fold(STARTED, _queued_at(3))
    moved = apply_conversation(
        queued, _event(conversation_events.QueuePositionChanged, 2, ROUTER, position=1, queue_length=4), 7
    )
    assert (moved["queue_position"], moved["queue_length"]) == (1, 4)
