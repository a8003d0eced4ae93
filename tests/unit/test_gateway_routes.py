"""Routes in-process, with fake views and publisher (tests/unit/gateway_fakes.py): the rules that moved
out of the routes still answer at their URLs with the same JSON errors, and what a route appends is what the rule decided."""

from __future__ import annotations

from typing import Any

import httpx

from services.gateway.auth import AgentPrincipal
from services.gateway.config import GatewaySettings
from services.gateway.live_hub import FollowedConversations, LiveHub
from shared.events import Actor
from shared.events import canned_response as canned_response_events
from shared.events import conversation as conversation_events
from shared.events import department as department_events
from tests.unit.gateway_fakes import ANN, SAM, VERA, FakePublisher, conversation_view, fake_views, gateway

ANN_ACTOR = Actor(kind="agent", id="ann")
STARTED = {"visitor_id": "v1", "visitor": {"name": "Vera"}}


def _agent(agent_id: str, name: str, **fields: Any) -> dict[str, Any]:
    return {
        "_id": agent_id,
        "tenant": "acme",
        "name": name,
        "email": f"{agent_id}@acme.test",
        "role": "agent",
        "status": "available",
        "max_concurrent_chats": None,
        **fields,
    }


AGENTS = [
    _agent("ann", "Ann"),
    _agent("bob", "Bob", max_concurrent_chats=1),
    _agent("sam", "Sam", role="supervisor"),
    {**_agent("olga", "Olga"), "tenant": "other"},
]
CONVERSATIONS = [
    conversation_view(),
    conversation_view(_id="busy", assignee_id="bob", participants=["bob"]),
    conversation_view(_id="theirs", tenant="other"),
]
CANNED = [
    {
        "_id": "cr1",
        "tenant": "acme",
        "shortcut": "hi",
        "text": "Hello!",
        "created_by": "sam",
        "deleted": False,
    }
]
DEPARTMENTS = [{"_id": "support", "tenant": "acme", "name": "Support", "members": ["ann"]}]


def _client(agent: AgentPrincipal) -> tuple[httpx.Client, FakePublisher]:
    publisher = FakePublisher()
    views = fake_views(
        agents=AGENTS,
        conversations=CONVERSATIONS,
        canned_responses=CANNED,
        departments=DEPARTMENTS,
    )
    return gateway(views, publisher, agent=agent), publisher


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def test_an_unknown_conversation_or_one_of_another_team_is_a_404() -> None:
    client, publisher = _client(ANN)
    for conversation_id in ("nope", "theirs"):
        error = _error(client.post(f"/api/agent/conversations/{conversation_id}/join"), 404)
        assert error == {"code": "not_found", "message": f"conversation {conversation_id} not found"}
        _error(client.get(f"/api/agent/conversations/{conversation_id}/messages"), 404)
    assert publisher.appended == []


def test_reassigning_to_the_assignee_changes_nothing() -> None:
    client, publisher = _client(ANN)
    response = client.post("/api/agent/conversations/c1/reassign", json={"agent_id": "ann"})
    assert response.json() == {"events": [], "unchanged": "already assigned to Ann"}
    assert publisher.appended == []


def test_a_reassignment_past_the_chat_limit_takes_a_supervisor() -> None:
    client, publisher = _client(ANN)
    # Bob has one open chat and a limit of one.
    error = _error(client.post("/api/agent/conversations/c1/reassign", json={"agent_id": "bob"}), 409)
    assert error["message"] == "Bob is at their chat limit; only a supervisor can force it"
    assert publisher.appended == []

    client, publisher = _client(SAM)
    response = client.post("/api/agent/conversations/c1/reassign", json={"agent_id": "bob"})
    assert response.status_code == 200, response.text
    [event] = publisher.appended
    assert isinstance(event, conversation_events.ReassignmentRequested)
    assert (event.aggregate_id, event.payload.agent_id, event.payload.forced) == ("c1", "bob", True)
    assert response.json()["events"][0]["event_id"] == event.event_id


def test_a_reassignment_names_an_agent_of_the_team() -> None:
    client, _ = _client(SAM)
    error = _error(client.post("/api/agent/conversations/c1/reassign", json={"agent_id": "olga"}), 404)
    assert error["message"] == "agent olga not found"


def test_a_transfer_stays_at_its_url_and_names_a_department_of_the_team() -> None:
    client, publisher = _client(ANN)
    error = _error(client.post("/api/agent/conversations/c1/transfer", json={"department": "sales"}), 404)
    assert error["message"] == "department sales not found"
    response = client.post(
        "/api/agent/conversations/c1/transfer", json={"department": "support", "reason": "x"}
    )
    assert response.status_code == 200, response.text
    [event] = publisher.appended
    assert isinstance(event, conversation_events.TransferRequested)
    assert (event.payload.department, event.payload.reason) == ("support", "x")


def test_a_direct_chat_needs_teammates_of_the_team() -> None:
    client, publisher = _client(ANN)
    error = _error(client.post("/api/agent/direct-conversations", json={"agent_ids": ["ann"]}), 400)
    assert error["message"] == "choose at least one teammate other than yourself"
    error = _error(client.post("/api/agent/direct-conversations", json={"agent_ids": ["bob", "olga"]}), 404)
    assert error["message"] == "agents not found: olga"
    assert publisher.appended == []
    _error(
        client.post("/api/agent/direct-conversations", json={"agent_ids": [f"a{i}" for i in range(20)]}), 422
    )

    response = client.post("/api/agent/direct-conversations", json={"agent_ids": ["bob", "sam"]})
    assert response.status_code == 201, response.text
    [event] = publisher.appended
    assert isinstance(event, conversation_events.DirectConversationStarted)
    assert response.json()["conversation_id"] == event.aggregate_id
    assert event.payload.participant_ids == ["ann", "bob", "sam"]


def test_canned_response_shortcuts_are_unique_and_only_their_author_or_a_supervisor_changes_them() -> None:
    client, publisher = _client(ANN)
    clash = client.post("/api/agent/canned-responses", json={"shortcut": "hi", "text": "Hey"})
    assert _error(clash, 409)["message"] == "the shortcut /hi is already used"
    edit = client.put("/api/agent/canned-responses/cr1", json={"shortcut": "hi", "text": "Hey"})
    assert _error(edit, 403)["message"] == "only its author or a supervisor can change a canned response"
    _error(client.delete("/api/agent/canned-responses/cr1"), 403)
    _error(client.delete("/api/agent/canned-responses/nope"), 404)
    assert publisher.appended == []

    created = client.post("/api/agent/canned-responses", json={"shortcut": "bye", "text": "Bye!"})
    assert created.status_code == 201, created.text
    [event] = publisher.appended
    assert (
        isinstance(event, canned_response_events.CannedResponseCreated)
        and created.json()["id"] == event.aggregate_id
    )

    client, publisher = _client(SAM)
    kept = client.put("/api/agent/canned-responses/cr1", json={"shortcut": "hi", "text": "Hello there!"})
    assert kept.status_code == 200, kept.text
    assert publisher.appended[0].aggregate_id == "cr1"


def test_departments_are_configured_by_supervisors_with_real_members_and_fallbacks() -> None:
    client, publisher = _client(ANN)
    error = _error(client.put("/api/agent/departments/sales", json={"name": "Sales"}), 403)
    assert error["message"] == "only supervisors configure departments"

    client, publisher = _client(SAM)
    sales = {"name": "Sales", "members": ["ann", "olga"]}
    assert _error(client.put("/api/agent/departments/sales", json=sales), 404)["message"] == (
        "agents not found: olga"
    )
    itself = {"name": "Sales", "fallback": "sales"}
    assert _error(client.put("/api/agent/departments/sales", json=itself), 400)["message"] == (
        "a department cannot fall back to itself"
    )
    nowhere = {"name": "Sales", "fallback": "billing"}
    assert _error(client.put("/api/agent/departments/sales", json=nowhere), 404)["message"] == (
        "fallback department billing not found"
    )
    assert publisher.appended == []

    good = {"name": "Sales", "members": ["bob", "ann", "bob"], "fallback": "support"}
    assert client.put("/api/agent/departments/sales", json=good).status_code == 200
    [event] = publisher.appended
    assert isinstance(event, department_events.DepartmentConfigured)
    assert (event.aggregate_id, event.payload.members, event.payload.fallback) == (
        "sales",
        ["bob", "ann"],
        "support",
    )


def test_a_history_search_that_cannot_be_answered_is_refused_with_the_reason() -> None:
    client, _ = _client(ANN)
    inverted = {"closed_from": "2026-05-02T00:00:00Z", "closed_to": "2026-05-01T00:00:00Z"}
    error = _error(client.get("/api/agent/history", params=inverted), 422)
    assert error["message"] == "Invalid request: query: closed_from must be before closed_to"
    error = _error(client.get("/api/agent/history", params={"before": "page-2"}), 422)
    assert error["message"] == "Invalid request: query: before must be the `next` of a previous page"
    _error(client.get("/api/agent/history", params={"page_size": 101}), 422)
    # Neither a bound without a timezone nor a cursor past the years a date holds can reach the query.
    mixed = {"closed_from": "2026-05-01T00:00:00", "closed_to": "2026-05-02T00:00:00Z"}
    assert "timezone" in _error(client.get("/api/agent/history", params=mixed), 422)["message"]
    far_future = {"before": "9" * 30 + ".c1"}
    _error(client.get("/api/agent/history", params=far_future), 422)
    supervisor, _ = _client(SAM)
    naive = {"since": "2026-05-01T00:00:00", "until": "2026-05-02T00:00:00Z"}
    _error(supervisor.get("/api/agent/reports", params=naive), 422)


def test_a_profile_update_must_change_something() -> None:
    client, publisher = _client(ANN)
    error = _error(client.patch("/api/agent/me", json={}), 409)
    assert error["message"] == "nothing to change: send name, avatar_url or max_concurrent_chats"
    assert client.put("/api/agent/me/status", json={"status": "away"}).json()["status"] == "away"
    assert client.get("/api/agent/me").json()["chat_limit"] == {"chats": 5, "source": "team"}
    assert [event.type for event in publisher.appended] == ["agent.status_changed"]


def _visitor_writes(view: dict[str, Any], hub: LiveHub) -> list[str]:
    publisher = FakePublisher()
    client = gateway(fake_views(conversations=[view]), publisher, visitor=VERA, hub=hub)
    response = client.post("/api/visitor/conversation/messages", json={"text": "hello again"})
    assert response.status_code == 201, response.text
    return [event.type for event in publisher.appended]


def test_a_visitor_writing_to_a_chat_the_hub_saw_closed_reopens_it_though_the_view_lags() -> None:
    hub = LiveHub(GatewaySettings())
    hub.followed.follow(
        conversation_events.ConversationClosed(tenant="acme", aggregate_id="c1", actor=ANN_ACTOR, payload={}),
        position=7,
    )
    lagging_view = conversation_view(status="open")
    assert _visitor_writes(lagging_view, hub) == ["conversation.reopened", "conversation.message_posted"]


def test_a_chat_the_hub_did_not_follow_is_decided_from_its_view() -> None:
    closed_view = conversation_view(status="closed")
    writes = _visitor_writes(closed_view, LiveHub(GatewaySettings()))
    assert writes == ["conversation.reopened", "conversation.message_posted"]


def test_the_hub_remembers_the_latest_status_and_forgets_the_least_recently_followed() -> None:
    followed = FollowedConversations(limit=2)
    for conversation_id in ("c1", "c2"):
        followed.follow(
            conversation_events.ConversationStarted(
                tenant="acme", aggregate_id=conversation_id, actor=ANN_ACTOR, payload=STARTED
            ),
            position=1,
        )
    followed.follow(
        conversation_events.ConversationClosed(tenant="acme", aggregate_id="c1", actor=ANN_ACTOR, payload={}),
        position=2,
    )
    assert (followed.of("c1"), followed.of("c2")) == ("closed", "open")
    followed.follow(
        conversation_events.ConversationStarted(
            tenant="acme", aggregate_id="c3", actor=ANN_ACTOR, payload=STARTED
        ),
        position=3,
    )
    assert (followed.of("c1"), followed.of("c2"), followed.of("c3")) == ("closed", None, "open")


def test_the_position_a_visitor_socket_is_given_is_of_the_newest_event_it_would_have_been_pushed() -> None:
    """Not a note's: the visitor never sees it, and their reads must not wait for it."""
    followed = FollowedConversations()
    followed.follow(
        conversation_events.ConversationStarted(
            tenant="acme", aggregate_id="c1", actor=ANN_ACTOR, payload=STARTED
        ),
        position=1,
    )
    assert followed.position("c1") is None
    followed.follow(
        conversation_events.ConversationClosed(tenant="acme", aggregate_id="c1", actor=ANN_ACTOR, payload={}),
        position=2,
    )
    followed.follow(
        conversation_events.NoteAdded(
            tenant="acme", aggregate_id="c1", actor=ANN_ACTOR, payload={"note_id": "n1", "text": "VIP"}
        ),
        position=3,
    )
    assert followed.position("c1") == 2
