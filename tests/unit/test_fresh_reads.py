"""Read your own writes (services/gateway/freshness.py): the rule that says whether a view has applied the
positions a read names, the bounded wait, and the routes that answer fresh, or 503 with Retry-After."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from pymongo.asynchronous.collection import AsyncCollection

from services.gateway.auth import VisitorPrincipal
from services.gateway.config import GatewaySettings
from services.gateway.freshness import (
    LOOKUPS_AT_ONCE,
    MAX_WANTED,
    ViewBehind,
    foreign,
    parse_min_positions,
    unreached,
    wait_for_view,
)
from tests.unit.gateway_fakes import (
    ANN,
    FakeCollection,
    FakePublisher,
    conversation_view,
    fake_views,
    gateway,
)

NOW = datetime.now(UTC)
QUICK = GatewaySettings(fresh_read_wait_seconds=0.05, fresh_read_poll_seconds=0.01)


def test_positions_are_named_per_document_and_the_highest_one_counts() -> None:
    assert parse_min_positions(["c1:7", "c2:0", "c1:3"]) == {"c1": 7, "c2": 0}
    assert parse_min_positions([]) == {}
    # Ids are the text before the last colon: a colon inside an id is kept.
    assert parse_min_positions(["tenant:c1:12"]) == {"tenant:c1": 12}


@pytest.mark.parametrize("value", ["c1", "c1:", ":5", "c1:-1", "c1:x", "c1:1.5", "c1:٣", f"c1:{2**63}"])
def test_anything_but_an_id_and_a_position_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="min_position"):
        parse_min_positions([value])


def test_a_read_names_a_bounded_number_of_documents() -> None:
    with pytest.raises(ValueError, match=f"at most {MAX_WANTED}"):
        parse_min_positions([f"c{n}:1" for n in range(MAX_WANTED + 1)])


def test_a_document_has_applied_a_position_when_its_own_position_is_at_least_that() -> None:
    wanted = {"c1": 7, "c2": 3, "c3": 0}
    # c1 is exactly there, c2 is behind, c3 is not in the view yet: a new document has applied nothing.
    assert unreached(wanted, {"c1": 7, "c2": 2}) == {"c2": 3, "c3": 0}
    assert unreached(wanted, {"c1": 9, "c2": 3, "c3": 0}) == {}


def test_a_visitor_may_wait_for_their_own_conversation_only() -> None:
    assert foreign(["c1"], "c1") == []
    assert foreign(["c1", "c2"], "c1") == ["c2"]


class CatchingUp(FakeCollection):
    """A view whose projection applies the next event on every read of it."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        super().__init__(docs)
        self.reads = 0

    async def find_one(
        self, query: dict[str, Any], projection: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        self.reads += 1
        found = await super().find_one(query, projection)
        for doc in self.docs.values():
            doc["position"] += 1
        return found


def _view(collection: FakeCollection) -> AsyncCollection[dict[str, Any]]:
    return cast(AsyncCollection[dict[str, Any]], collection)


def test_the_wait_returns_once_the_view_has_the_position() -> None:
    view = CatchingUp([{"_id": "c1", "tenant": "acme", "position": 4}])
    asyncio.run(wait_for_view(_view(view), "acme", {"c1": 6}, timeout=30, poll=0, retry_after=1))
    assert view.reads == 3  # saw 4, 5, then 6


class Asked(FakeCollection):
    """A view that records which documents each lookup asks for; c2's projection applies its next event
    whenever c2 is read."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        super().__init__(docs)
        self.asked: list[str] = []
        self.in_flight = self.most_in_flight = 0

    async def find_one(
        self, query: dict[str, Any], projection: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        self.asked.append(query["_id"])
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0)  # a lookup is a round trip: others may start meanwhile
        self.in_flight -= 1
        found = await super().find_one(query, projection)
        if query["_id"] == "c2":
            self.docs["c2"]["position"] += 1
        return found


def test_each_poll_asks_only_for_the_documents_still_behind() -> None:
    view = Asked([{"_id": c, "tenant": "acme", "position": p} for c, p in (("c1", 5), ("c2", 1), ("c3", 0))])
    wanted = {"c1": 5, "c2": 3, "c3": 0}
    asyncio.run(wait_for_view(_view(view), "acme", wanted, timeout=30, poll=0, retry_after=1))
    # c1 and c3 are there at the first poll; c2 is asked for again, alone, until it has 3.
    assert view.asked == ["c1", "c2", "c3", "c2", "c2"]


def test_a_read_naming_many_documents_sends_a_bounded_number_of_lookups_at_once() -> None:
    ids = [f"c{n}" for n in range(MAX_WANTED)]
    view = Asked([{"_id": doc, "tenant": "acme", "position": 1} for doc in ids])
    wanted = dict.fromkeys(ids, 1)
    asyncio.run(wait_for_view(_view(view), "acme", wanted, timeout=30, poll=0, retry_after=1))
    assert sorted(view.asked) == sorted(wanted)
    # The MongoDB client's connections are shared with every other request of the gateway.
    assert view.most_in_flight == LOOKUPS_AT_ONCE


def test_a_position_the_view_never_reaches_in_time_is_a_view_behind_error() -> None:
    view = FakeCollection([{"_id": "c1", "tenant": "acme", "position": 4}])
    with pytest.raises(ViewBehind) as raised:
        asyncio.run(wait_for_view(_view(view), "acme", {"c1": 5}, timeout=0.03, poll=0.01, retry_after=2))
    assert raised.value.status_code == 503
    assert raised.value.headers() == {"Retry-After": "2"}
    assert raised.value.details == {"waiting_for": ["c1:5"]}


def test_another_teams_document_never_counts_as_applied() -> None:
    view = FakeCollection([{"_id": "c1", "tenant": "other", "position": 99}])
    with pytest.raises(ViewBehind):
        asyncio.run(wait_for_view(_view(view), "acme", {"c1": 1}, timeout=0.02, poll=0.01, retry_after=1))


def _conversation(position: int) -> dict[str, Any]:
    return conversation_view(position=position, created_at=NOW, last_activity_at=NOW)


def _routes(**collections: list[dict[str, Any]]) -> Any:
    return gateway(fake_views(**collections), FakePublisher(), agent=ANN, settings=QUICK)


def test_a_read_whose_view_has_the_position_answers_at_once() -> None:
    client = _routes(conversations=[_conversation(8)], agents=[])
    response = client.get("/api/agent/conversations/c1", params={"min_position": "c1:8"})
    assert response.status_code == 200, response.text
    assert response.json()["position"] == 8
    monitor = client.get("/api/agent/monitor", params={"min_position": ["c1:2", "c1:8"]})
    assert monitor.status_code == 200, monitor.text


def test_a_read_beyond_the_view_is_a_503_with_retry_after_never_a_stale_answer() -> None:
    client = _routes(conversations=[_conversation(8)], agents=[])
    for path in ("/api/agent/conversations/c1", "/api/agent/monitor", "/api/agent/chats"):
        response = client.get(path, params={"min_position": "c1:9"})
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "1"
        assert response.json()["error"]["code"] == "view_behind"
        assert response.json()["error"]["details"] == {"waiting_for": ["c1:9"]}


def test_each_read_waits_on_the_view_it_answers_from() -> None:
    client = _routes(
        conversations=[_conversation(8)],
        history_conversations=[{"_id": "c1", "tenant": "acme", "position": 5}],
        history_messages=[],
        agents=[{"_id": "ann", "tenant": "acme", "position": 3}],
        departments=[{"_id": "support", "tenant": "acme", "position": 2}],
        canned_responses=[{"_id": "cr1", "tenant": "acme", "position": 1}],
    )
    # The transcript comes from the history projection, which is behind the conversation projection here.
    assert (
        client.get("/api/agent/conversations/c1/messages", params={"min_position": "c1:8"}).status_code == 503
    )
    assert client.get("/api/agent/history", params={"min_position": "c1:8"}).status_code == 503
    assert client.get("/api/agent/departments", params={"min_position": "support:3"}).status_code == 503
    assert client.get("/api/agent/canned-responses", params={"min_position": "cr1:2"}).status_code == 503
    assert client.get("/api/agent/agents", params={"min_position": "ann:4"}).status_code == 503
    assert client.get("/api/agent/departments", params={"min_position": "support:2"}).status_code == 200
    assert client.get("/api/agent/canned-responses", params={"min_position": "cr1:1"}).status_code == 200


def test_a_malformed_min_position_is_a_clear_400() -> None:
    client = _routes(conversations=[_conversation(8)])
    response = client.get("/api/agent/monitor", params={"min_position": "c1"})
    assert response.status_code == 400, response.text
    assert "min_position" in response.json()["error"]["message"]


def test_a_visitor_cannot_wait_on_someone_elses_conversation() -> None:
    visitor = VisitorPrincipal(conversation_id="c1", visitor_id="v1", tenant="acme")
    views = fake_views(conversations=[_conversation(3)], agents=[])
    client = gateway(views, FakePublisher(), visitor=visitor, settings=QUICK)
    assert client.get("/api/visitor/conversation", params={"min_position": "c1:3"}).status_code == 200
    assert client.get("/api/visitor/conversation", params={"min_position": "c1:4"}).status_code == 503
    refused = client.get("/api/visitor/conversation", params={"min_position": "c2:1"})
    assert refused.status_code == 400, refused.text
    assert "your own conversation" in refused.json()["error"]["message"]
