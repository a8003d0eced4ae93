from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.history.domain import (
    SEARCH_TERMS_BYTES,
    ConversationAlreadyStarted,
    UnknownConversation,
    apply_summary,
    build_report,
    message_line,
    search_terms_of,
    search_words,
)
from shared.events import Actor, EventBase
from shared.events import conversation as conversation_events
from tests.events import ANN, BOB, ROUTER, VISITOR, auto_assigned, build_event, envelope

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def env(seconds: float, actor: Actor = VISITOR, conversation: str = "c1") -> dict[str, Any]:
    return envelope(conversation, actor, T0 + timedelta(seconds=seconds))


def started(conversation: str = "c1") -> conversation_events.ConversationStarted:
    visitor = {"name": "Vera", "email": "vera@example.com"}
    return build_event(
        conversation_events.ConversationStarted,
        **env(0, conversation=conversation),
        visitor_id="v1",
        visitor=visitor,
        department="billing",
    )


def message(seconds: float, actor: Actor, text: str = "hello") -> conversation_events.MessagePosted:
    return build_event(
        conversation_events.MessagePosted, **env(seconds, actor), message_id=f"m{seconds}", text=text
    )


def fold(events: list[EventBase]) -> dict[str, Any]:
    summary: dict[str, Any] | None = None
    for position, event in enumerate(events):
        summary = apply_summary(summary, event, position)
    assert summary is not None
    return summary


def test_started_summary_records_visitor_department_and_start() -> None:
    summary = fold([started()])
    assert summary["_id"] == "c1" and summary["kind"] == "visitor" and summary["status"] == "open"
    assert summary["visitor"] == {"name": "Vera", "email": "vera@example.com"}
    assert summary["department"] == "billing"
    assert summary["created_at"] == T0 and summary["position"] == 0


def test_tags_are_added_once_and_removed() -> None:
    summary = fold(
        [
            started(),
            build_event(conversation_events.TagAdded, **env(1, ANN), tag="refund"),
            build_event(conversation_events.TagAdded, **env(2, ANN), tag="vip"),
            build_event(conversation_events.TagAdded, **env(3, ANN), tag="refund"),
            build_event(conversation_events.TagRemoved, **env(4, ANN), tag="vip"),
        ]
    )
    assert summary["tags"] == ["refund"]


def test_search_terms_are_the_words_of_visitor_messages_notes_and_tags_in_order() -> None:
    events: list[EventBase] = [
        started(),
        message(1, VISITOR, "My PARCEL never arrived!"),
        message(2, ANN, "Let me check the parcel"),
        build_event(conversation_events.NoteAdded, **env(3, ANN), note_id="n1", text="Courier lost it"),
        build_event(conversation_events.TagAdded, **env(4, ANN), tag="lost-parcel"),
        build_event(conversation_events.TagRemoved, **env(5, ANN), tag="lost-parcel"),
        build_event(conversation_events.ConversationClosed, **env(6, ANN), reason="done"),
    ]
    summary = fold(events)
    assert summary["search_terms"] == [
        *("vera", "example", "com", "my", "parcel", "never", "arrived", "let", "me", "check", "the"),
        *("courier", "lost", "it"),
    ], "case-folded, each word once; a removed tag's words stay, as the transcript still shows it added"
    assert summary["open_search_terms"] == []
    lines = [line for position, event in enumerate(events) if (line := message_line(event, position))]
    assert search_terms_of(fold(events[:1]), lines) == summary["search_terms"], "an upgrade gives the same"
    still_open = fold(events[:-1])
    assert still_open["search_terms"] == [], (
        "only a closed chat's terms are indexed: search looks at no other"
    )
    assert still_open["open_search_terms"] == summary["search_terms"]
    reopened = fold([*events, build_event(conversation_events.ConversationReopened, **env(7, ANN))])
    assert reopened["search_terms"] == [] and reopened["open_search_terms"] == summary["search_terms"]
    assert search_words("Vera@Example.COM  straße ÉTÉ") == ["vera", "example", "com", "strasse", "été"]
    assert search_words("a.b*c a") == ["a", "b", "c"] and search_words("?!") == []


def test_search_terms_stay_within_their_budget_keeping_the_first_words() -> None:
    words = [f"word{n:05d}{'x' * 60}" for n in range(400)]  # longer than a term: cut to 40 characters
    events: list[EventBase] = [started()] + [message(n + 1, VISITOR, word) for n, word in enumerate(words)]
    terms = fold(events)["open_search_terms"]
    assert sum(len(term.encode()) + 4 for term in terms) <= SEARCH_TERMS_BYTES
    assert terms[3:5] == [words[0][:40], words[1][:40]] and words[-1][:40] not in terms
    assert fold([*events, message(999, ANN, "ok")])["open_search_terms"][-1] == "ok", (
        "short words fill what is left"
    )


def test_first_response_counts_only_agent_messages() -> None:
    summary = fold(
        [
            started(),
            message(5, VISITOR),
            build_event(conversation_events.NoteAdded, **env(10, ANN), note_id="n1", text="checking"),
            message(12, ROUTER, "An agent will be with you shortly"),
            message(30.5, ANN, "Hi Vera"),
            message(40, BOB, "Hi too"),
        ]
    )
    assert summary["first_response_at"] == T0 + timedelta(seconds=30.5)
    assert summary["first_response_seconds"] == 30.5
    assert summary["first_responder_id"] == "ann"
    assert summary["message_count"] == 4
    assert summary["last_message_preview"] == "Hi too"


def test_direct_conversation_has_no_first_response_and_lists_participants() -> None:
    direct = build_event(
        conversation_events.DirectConversationStarted,
        **env(0, ANN),
        participant_ids=["ann", "bob"],
        subject="shift",
    )
    summary = fold([direct, message(3, BOB)])
    assert summary["kind"] == "direct" and summary["visitor"] is None
    assert summary["agent_ids"] == ["ann", "bob"] and summary["first_response_at"] is None


def test_close_reopen_close_and_rating() -> None:
    summary = fold(
        [
            started(),
            auto_assigned("ann", **env(1, ROUTER)),
            build_event(conversation_events.ParticipantJoined, **env(2, BOB), agent_id="bob"),
            build_event(conversation_events.ConversationClosed, **env(60, ANN), reason="solved"),
        ]
    )
    assert summary["status"] == "closed" and summary["resolution_seconds"] == 60
    assert summary["closed_by"] == {"kind": "agent", "id": "ann"}
    assert summary["closed_day"] == "2026-03-02", "the UTC day history pages and reports look it up by"
    assert summary["agent_ids"] == ["ann", "bob"] and summary["assignee_id"] == "ann"

    reopened = apply_summary(summary, build_event(conversation_events.ConversationReopened, **env(90)), 4)
    assert reopened["status"] == "open" and reopened["closed_at"] is None and reopened["closed_day"] is None
    assert reopened["resolution_seconds"] is None and reopened["reopen_count"] == 1
    assert summary["status"] == "closed", "the fold must not mutate its input"

    closed = apply_summary(reopened, build_event(conversation_events.ConversationClosed, **env(120)), 5)
    rated = apply_summary(
        closed, build_event(conversation_events.RatingGiven, **env(130), score=4, comment="quick"), 6
    )
    assert rated["closed_day"] == "2026-03-02"
    assert rated["resolution_seconds"] == 120 and rated["closed_by"] == {"kind": "visitor", "id": "v1"}
    assert rated["rating"] == {"score": 4, "comment": "quick"}


def test_already_applied_positions_are_skipped() -> None:
    summary = fold([started(), message(5, ANN)])
    again = apply_summary(summary, message(5, ANN), 1)
    assert again is summary and again["message_count"] == 1


def test_events_for_unknown_conversations_and_second_starts_are_rejected() -> None:
    with pytest.raises(UnknownConversation):
        apply_summary(None, message(1, VISITOR), 3)
    with pytest.raises(ConversationAlreadyStarted):
        apply_summary(fold([started()]), started(), 7)


def test_times_are_cut_to_milliseconds_like_mongodb_stores_them() -> None:
    event = build_event(
        conversation_events.MessagePosted,
        **{**env(0, ANN), "occurred_at": T0 + timedelta(microseconds=1_234_567)},
        message_id="m",
        text="x",
    )
    summary = apply_summary(fold([started()]), event, 1)
    assert summary["first_response_at"] == T0 + timedelta(microseconds=1_234_000)
    assert summary["first_response_seconds"] == 1.234


def test_message_lines_classify_visibility() -> None:
    note = message_line(build_event(conversation_events.NoteAdded, **env(1, ANN), note_id="n", text="vip"), 7)
    assert note is not None and note["kind"] == "note" and note["internal"] is True
    assert note["_id"] == "c1:000000000007" and note["text"] == "vip"

    attachment = conversation_events.AttachmentRef(
        attachment_id="a1", filename="bill.pdf", content_type="application/pdf", size=3
    )
    posted = build_event(
        conversation_events.MessagePosted,
        **env(2, ANN),
        message_id="m",
        text="see",
        attachments=[attachment],
        canned_response_id="cr",
    )
    line = message_line(posted, 8)
    assert line is not None and line["kind"] == "message" and line["internal"] is False
    assert line["author"] == {"kind": "agent", "id": "ann"} and line["canned_response_id"] == "cr"
    assert line["attachments"][0]["filename"] == "bill.pdf"

    visible = [
        build_event(conversation_events.ParticipantJoined, **env(3, ANN), agent_id="ann"),
        build_event(conversation_events.ConversationClosed, **env(4, ANN), reason="done"),
        build_event(conversation_events.ConversationReopened, **env(5)),
    ]
    internal = [
        build_event(conversation_events.TagAdded, **env(6, ANN), tag="refund"),
        build_event(
            conversation_events.AssignmentDecided,
            **env(7, ROUTER),
            outcome="queued",
            reason="no_agent_available",
            queue_position=2,
        ),
    ]
    for event, expected in [(e, False) for e in visible] + [(e, True) for e in internal]:
        activity = message_line(event, 9)
        assert activity is not None and activity["kind"] == "activity" and activity["text"] is None
        assert activity["internal"] is expected, event.type
    joined = message_line(visible[0], 9)
    assert joined is not None and joined["data"] == {"agent_id": "ann"}
    assert message_line(started(), 0) is None


def closed_summary(
    conversation: str, *, day: int, agents: list[str], first: float | None, resolution: float, **extra: Any
) -> dict[str, Any]:
    return {
        "_id": conversation,
        "status": "closed",
        "kind": "visitor",
        "closed_at": T0 + timedelta(days=day),
        "agent_ids": agents,
        "first_responder_id": agents[0] if first is not None else None,
        "first_response_seconds": first,
        "resolution_seconds": resolution,
        "tags": extra.get("tags", []),
        "rating": extra.get("rating"),
    }


def test_report_figures_per_day_agent_and_tag() -> None:
    summaries = [
        closed_summary(
            "a", day=0, agents=["ann"], first=10, resolution=100, tags=["refund"], rating={"score": 5}
        ),
        closed_summary("b", day=0, agents=["ann", "bob"], first=30, resolution=300, rating={"score": 2}),
        closed_summary("c", day=1, agents=["bob"], first=20, resolution=200, tags=["refund"]),
        closed_summary("d", day=1, agents=["bob"], first=None, resolution=50),
        closed_summary("late", day=5, agents=["ann"], first=1, resolution=1),
    ]
    report = build_report(summaries, since=T0.replace(hour=0), until=T0.replace(hour=0) + timedelta(days=3))
    totals = report["totals"]
    assert totals["conversations"] == 4
    assert totals["median_first_response_seconds"] == 20 and totals["avg_first_response_seconds"] == 20
    assert totals["median_resolution_seconds"] == 150 and totals["avg_resolution_seconds"] == 162.5
    assert totals["csat_average"] == 3.5 and totals["csat_count"] == 2

    assert [d["day"] for d in report["by_day"]] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert [d["conversations"] for d in report["by_day"]] == [2, 2, 0]
    assert report["by_day"][2]["median_resolution_seconds"] is None

    agents = {row["agent_id"]: row for row in report["by_agent"]}
    assert agents["ann"]["conversations"] == 2 and agents["ann"]["avg_first_response_seconds"] == 20
    # Bob joined "b" after Ann answered: its wait counts for Ann only.
    assert agents["bob"]["conversations"] == 3 and agents["bob"]["median_first_response_seconds"] == 20
    assert agents["bob"]["csat_average"] == 2 and agents["bob"]["csat_count"] == 1

    tags = {row["tag"]: row for row in report["by_tag"]}
    assert tags["refund"]["conversations"] == 2 and tags["refund"]["median_resolution_seconds"] == 150


def test_business_hours_variants_leave_out_the_time_the_department_was_closed() -> None:
    # Friday 16:00 UTC to Monday 10:00 UTC, with support open weekdays 09:00-17:00 UTC: 1 h Friday + 1 h Monday.
    friday = datetime(2026, 1, 16, 16, 0, tzinfo=UTC)
    monday = datetime(2026, 1, 19, 10, 0, tzinfo=UTC)
    weekdays = [{"day": d, "open": "09:00", "close": "17:00"} for d in ("mon", "tue", "wed", "thu", "fri")]
    departments = {"support": {"hours": {"timezone": "UTC", "weekly": weekdays}}}
    summary = {
        "_id": "weekend",
        "status": "closed",
        "kind": "visitor",
        "department": "support",
        "created_at": friday,
        "first_response_at": monday,
        "first_responder_id": "ann",
        "first_response_seconds": (monday - friday).total_seconds(),
        "closed_at": monday + timedelta(hours=1),
        "resolution_seconds": (monday + timedelta(hours=1) - friday).total_seconds(),
        "agent_ids": ["ann"],
        "tags": [],
        "rating": None,
    }
    window = {"since": friday - timedelta(days=1), "until": monday + timedelta(days=1)}
    totals = build_report([summary], departments=departments, **window)["totals"]
    assert totals["median_first_response_seconds"] == 66 * 3600
    assert totals["median_first_response_business_seconds"] == 2 * 3600
    assert totals["avg_resolution_business_seconds"] == 3 * 3600
    # A department with no hours (and no default) is always open: both figures agree.
    plain = build_report([{**summary, "department": "sales"}], departments=departments, **window)["totals"]
    assert plain["median_first_response_business_seconds"] == plain["median_first_response_seconds"]
