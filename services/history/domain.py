"""Pure history logic: transcript lines, the conversation summary fold, and report figures.

Nothing here reads a clock or does I/O, so a view rebuilt from the topic equals the live one. Times are
cut to whole milliseconds because that is what MongoDB stores: a fold continuing from a loaded summary
must compute the same durations as one that saw every event in a single batch.
"""

from __future__ import annotations

import copy
import re
import statistics
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.business_hours import hours_of, open_seconds_between
from shared.events import EventBase
from shared.events import conversation as conversation_events

Doc = dict[str, Any]
PREVIEW_CHARS = 140
# What closed-history search by text looks words up in: a closed summary's `search_terms` (add_search_terms).
# Bounded because every backend indexes the whole list: FerretDB-on-PostgreSQL keeps it in one btree entry,
# which may not exceed 2,704 bytes. 2,000 bytes (4 a word for the array's bookkeeping) is some 250 words.
# While the chat is open they wait in `open_search_terms`, which no index holds: PostgreSQL writes every
# entry of a row's indexes again on each update (a GIN index one per word), and an open chat's summary is
# updated at every message; search only looks at closed ones.
SEARCH_TERMS_BYTES = 2_000
MAX_TERM_CHARS = 40  # a longer word (a URL, a token) is searchable by its first 40 characters
_WORD = re.compile(r"\w+")


class UnknownConversation(ValueError):
    """An event for a conversation whose start this view never saw: a bug upstream, so dead-letter it."""


class ConversationAlreadyStarted(ValueError):
    """A second start event at a newer position: the aggregate broke its own invariant upstream."""


def to_ms(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def day_of(moment: datetime) -> str:
    """The UTC day a moment falls on, as stored in a summary's `closed_day`: an equality key that every
    backend's index serves (range filters and sorts are not pushed down by every MongoDB-wire server)."""
    return moment.astimezone(UTC).date().isoformat()


def line_id(conversation_id: str, position: int) -> str:
    # Zero-padded so the _id sorts like the position and a redelivered event maps to the same document.
    return f"{conversation_id}:{position:012d}"


# Which activity events are agents-only; everything else in a transcript is visible to the visitor.
_ACTIVITY_INTERNAL: dict[type[EventBase], bool] = {
    conversation_events.ParticipantJoined: False,
    conversation_events.ParticipantLeft: False,
    conversation_events.TeammateInvited: False,
    conversation_events.ConversationClosed: False,
    conversation_events.ConversationReopened: False,
    conversation_events.RatingGiven: False,
    conversation_events.AssignmentDecided: True,
    conversation_events.TagAdded: True,
    conversation_events.TagRemoved: True,
}


def message_line(event: EventBase, position: int) -> Doc | None:
    """The transcript line an event shows as, or None for events that are not part of the transcript."""
    line: Doc = {
        "_id": line_id(event.aggregate_id, position),
        "conversation_id": event.aggregate_id,
        "tenant": event.tenant,
        "position": position,
        "author": {"kind": event.actor.kind, "id": event.actor.id},
        "text": None,
        "attachments": [],
        "canned_response_id": None,
        "data": None,
        "event_type": event.type,
        "created_at": to_ms(event.occurred_at),
    }
    if isinstance(event, conversation_events.MessagePosted):
        return {
            **line,
            "kind": "message",
            "internal": False,
            "text": event.payload.text,
            "attachments": [ref.model_dump(mode="json") for ref in event.payload.attachments],
            "canned_response_id": event.payload.canned_response_id,
        }
    if isinstance(event, conversation_events.NoteAdded):
        return {**line, "kind": "note", "internal": True, "text": event.payload.text}
    internal = _ACTIVITY_INTERNAL.get(type(event))
    if internal is None:
        return None
    # Structured data, not English: the clients render activity in the reader's language.
    data = event.payload.model_dump(mode="json")
    return {**line, "kind": "activity", "internal": internal, "data": data}


def search_words(text: str | None) -> list[str]:
    """The words search compares, in order, each once: case-folded runs of letters and digits, so `Vera@Example.com`
    is `vera`, `example`, `com`. The same for a query and for what it is looked up in."""
    if not text:
        return []
    return list(dict.fromkeys(word[:MAX_TERM_CHARS] for word in _WORD.findall(text.casefold())))


def _term_bytes(term: str) -> int:
    return len(term.encode()) + 4


def add_search_terms(terms: list[str], text: str | None) -> None:
    """Appends the words of `text` that `terms` lacks, each while it fits in SEARCH_TERMS_BYTES: a long chat
    is searchable by the words it used first (and by shorter ones later, while there is room)."""
    size = sum(_term_bytes(term) for term in terms)
    known = set(terms)
    for word in search_words(text):
        if word not in known and size + _term_bytes(word) <= SEARCH_TERMS_BYTES:
            terms.append(word)
            known.add(word)
            size += _term_bytes(word)


def searchable_text(event: EventBase) -> str | None:
    """What an event adds to its conversation's search terms: message and internal-note text (agents search
    their own notes; the terms never leave the server) and tags (shown in the transcript as they are added)."""
    if isinstance(event, conversation_events.MessagePosted | conversation_events.NoteAdded):
        return event.payload.text
    if isinstance(event, conversation_events.TagAdded):
        return event.payload.tag
    return None


def search_terms_of(summary: Doc, lines: Iterable[Doc]) -> list[str]:
    """The search terms the fold gives `summary` from its transcript `lines` (oldest first, those it applied):
    what the summaries written before `search_terms` existed are given once (HistoryViews.ensure_indexes)."""
    terms = _visitor_terms(summary.get("visitor"))
    for line in lines:
        if line["kind"] in ("message", "note"):
            add_search_terms(terms, line.get("text"))
        elif line.get("event_type") == "conversation.tag_added":
            add_search_terms(terms, (line.get("data") or {}).get("tag"))
    return terms


def _visitor_terms(visitor: Doc | None) -> list[str]:
    terms: list[str] = []
    if visitor:
        add_search_terms(terms, visitor.get("name"))
        add_search_terms(terms, visitor.get("email"))
    return terms


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def _add(values: list[str], value: str | None) -> None:
    if value is not None and value not in values:
        values.append(value)


def _new_summary(event: EventBase, position: int) -> Doc:
    summary: Doc = {
        "_id": event.aggregate_id,
        "tenant": event.tenant,
        "kind": "visitor",
        "status": "open",
        "visitor": None,
        "department": None,
        "subject": None,
        "tags": [],
        "agent_ids": [],
        "assignee_id": None,
        "created_at": to_ms(event.occurred_at),
        "first_response_at": None,
        "first_responder_id": None,
        "first_response_seconds": None,
        "closed_at": None,
        "closed_day": None,
        "closed_by": None,
        "resolution_seconds": None,
        "reopen_count": 0,
        "message_count": 0,
        "rating": None,
        "last_message_preview": None,
        "last_message_at": None,
        "search_terms": [],
        "open_search_terms": [],
        "position": position,
    }
    if isinstance(event, conversation_events.ConversationStarted):
        summary["visitor"] = {"name": event.payload.visitor.name, "email": event.payload.visitor.email}
        summary["department"] = event.payload.department
        summary["open_search_terms"] = _visitor_terms(summary["visitor"])
    elif isinstance(event, conversation_events.DirectConversationStarted):
        summary["kind"] = "direct"
        summary["subject"] = event.payload.subject
        for agent_id in event.payload.participant_ids:
            _add(summary["agent_ids"], agent_id)
    return summary


def _preview(message: conversation_events.MessagePosted) -> str:
    if message.payload.text:
        return message.payload.text[:PREVIEW_CHARS]
    return ", ".join(ref.filename for ref in message.payload.attachments)[:PREVIEW_CHARS]


def apply_summary(summary: Doc | None, event: EventBase, position: int) -> Doc:
    """Fold one event into a conversation summary; returns a new dict, never mutates its input."""
    starts = isinstance(
        event, conversation_events.ConversationStarted | conversation_events.DirectConversationStarted
    )
    if summary is None:
        if not starts:
            raise UnknownConversation(f"{event.type} for conversation {event.aggregate_id} never started")
        return _new_summary(event, position)
    if position <= summary["position"]:
        return summary  # already applied: redelivery after a restart or rebalance
    if starts:
        raise ConversationAlreadyStarted(f"conversation {event.aggregate_id} started twice")

    new = copy.deepcopy(summary)
    new["position"] = position
    at = to_ms(event.occurred_at)
    if isinstance(event, conversation_events.MessagePosted):
        new["message_count"] += 1
        new["last_message_preview"] = _preview(event)
        new["last_message_at"] = at
        if new["kind"] == "visitor" and event.actor.kind == "agent" and new["first_response_at"] is None:
            new["first_response_at"] = at
            new["first_responder_id"] = event.actor.id
            new["first_response_seconds"] = _seconds(new["created_at"], at)
    elif isinstance(event, conversation_events.TagAdded):
        _add(new["tags"], event.payload.tag)
    elif isinstance(event, conversation_events.TagRemoved):
        new["tags"] = [tag for tag in new["tags"] if tag != event.payload.tag]
    elif isinstance(event, conversation_events.ParticipantJoined | conversation_events.TeammateInvited):
        _add(new["agent_ids"], event.payload.agent_id)
    elif isinstance(event, conversation_events.AssignmentDecided):
        assigned = event.payload.outcome == "assigned"
        new["assignee_id"] = event.payload.agent_id if assigned else None
        if assigned:
            _add(new["agent_ids"], event.payload.agent_id)
    elif isinstance(event, conversation_events.ConversationClosed):
        new["status"] = "closed"
        new["closed_at"] = at
        new["closed_day"] = day_of(at)
        new["closed_by"] = {"kind": event.actor.kind, "id": event.actor.id}
        new["resolution_seconds"] = _seconds(new["created_at"], at)
    elif isinstance(event, conversation_events.ConversationReopened):
        new["status"] = "open"
        new["closed_at"] = new["closed_day"] = new["closed_by"] = new["resolution_seconds"] = None
        new["reopen_count"] += 1
    elif isinstance(event, conversation_events.RatingGiven):
        new["rating"] = {"score": event.payload.score, "comment": event.payload.comment}
    terms = new.get("search_terms", []) + new.get("open_search_terms", [])  # one of them is empty
    add_search_terms(terms, searchable_text(event))
    place_search_terms(new, terms)
    return new


def place_search_terms(summary: Doc, terms: list[str]) -> None:
    """Indexed (`search_terms`) once the conversation is closed, unindexed while it is open."""
    closed = summary["status"] == "closed"
    summary["search_terms"] = terms if closed else []
    summary["open_search_terms"] = [] if closed else terms


# --- reports -------------------------------------------------------------------------------------


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _median(values: list[float]) -> float | None:
    return _round(statistics.median(values)) if values else None


def _mean(values: list[float]) -> float | None:
    return _round(statistics.fmean(values)) if values else None


def _within_hours(departments: Mapping[str, Any], summary: Doc, end_field: str) -> float | None:
    """Seconds from the start to `end_field` that fell within the department's business hours (Chatwoot's
    business-hours variant: time outside opening hours does not count). The hours are today's configuration."""
    start, end = summary.get("created_at"), summary.get(end_field)
    if start is None or end is None:
        return None
    return open_seconds_between(hours_of(departments, summary.get("department")), start, end)


def figures(
    summaries: Iterable[Doc],
    *,
    first_responder: str | None = None,
    departments: Mapping[str, Any] | None = None,
) -> Doc:
    """Report figures over closed summaries. With `first_responder`, first response times count only the
    conversations that agent answered first, so a teammate who joined later is not blamed for the wait.
    `departments` (id -> configuration) gives the business-hours variants; without it they equal the plain ones."""
    rows = list(summaries)
    departments = departments or {}
    answered = [
        s
        for s in rows
        if s.get("first_response_seconds") is not None
        and (first_responder is None or s.get("first_responder_id") == first_responder)
    ]
    first = [s["first_response_seconds"] for s in answered]
    first_in_hours = [
        v for s in answered if (v := _within_hours(departments, s, "first_response_at")) is not None
    ]
    resolved = [s for s in rows if s.get("resolution_seconds") is not None]
    resolution = [s["resolution_seconds"] for s in resolved]
    resolution_in_hours = [
        v for s in resolved if (v := _within_hours(departments, s, "closed_at")) is not None
    ]
    scores = [s["rating"]["score"] for s in rows if s.get("rating")]
    return {
        "conversations": len(rows),
        "median_first_response_seconds": _round(statistics.median(first)) if first else None,
        "avg_first_response_seconds": _round(statistics.fmean(first)) if first else None,
        "median_resolution_seconds": _round(statistics.median(resolution)) if resolution else None,
        "avg_resolution_seconds": _round(statistics.fmean(resolution)) if resolution else None,
        "median_first_response_business_seconds": _median(first_in_hours),
        "avg_first_response_business_seconds": _mean(first_in_hours),
        "median_resolution_business_seconds": _median(resolution_in_hours),
        "avg_resolution_business_seconds": _mean(resolution_in_hours),
        "csat_average": _round(statistics.fmean(scores)) if scores else None,
        "csat_count": len(scores),
    }


def days_between(since: datetime, until: datetime) -> list[date]:
    """Every UTC day that [since, until) touches, oldest first."""
    first, last = since.astimezone(UTC).date(), (until.astimezone(UTC) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def build_report(
    summaries: Iterable[Doc],
    *,
    since: datetime,
    until: datetime,
    departments: Mapping[str, Any] | None = None,
) -> Doc:
    """Per UTC day, per agent and per tag figures for the conversations closed in [since, until);
    `departments` (id -> configuration with `hours`) for the business-hours variants."""
    closed = [
        s
        for s in summaries
        if s.get("status") == "closed" and s.get("closed_at") and since <= s["closed_at"] < until
    ]
    by_day: dict[date, list[Doc]] = {day: [] for day in days_between(since, until)}
    by_agent: dict[str, list[Doc]] = {}
    by_tag: dict[str, list[Doc]] = {}
    for s in closed:
        by_day.setdefault(s["closed_at"].astimezone(UTC).date(), []).append(s)
        for agent_id in s.get("agent_ids", []):
            by_agent.setdefault(agent_id, []).append(s)
        for tag in s.get("tags", []):
            by_tag.setdefault(tag, []).append(s)
    return {
        "since": since,
        "until": until,
        "totals": figures(closed, departments=departments),
        "by_day": [
            {"day": day.isoformat(), **figures(rows, departments=departments)}
            for day, rows in sorted(by_day.items())
        ],
        "by_agent": [
            {"agent_id": agent_id, **figures(rows, first_responder=agent_id, departments=departments)}
            for agent_id, rows in sorted(by_agent.items())
        ],
        "by_tag": [
            {"tag": tag, **figures(rows, departments=departments)} for tag, rows in sorted(by_tag.items())
        ],
    }
