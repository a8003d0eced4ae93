"""Before a chat: the widget's open/closed answer, the leave-a-message start, and the Monitor's filter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.conversation.domain import apply_conversation
from services.gateway.auth import AgentPrincipal
from services.gateway.availability import availability, resolve_department
from services.gateway.config import GatewaySettings
from shared.events.conversation import ConversationStarted
from shared.events.department import BusinessHours
from tests.unit.gateway_fakes import FakePublisher, conversation_view, fake_views, gateway

# Wednesday 2026-01-14; Paris is UTC+1 in winter.
WEDNESDAY_NOON = datetime(2026, 1, 14, 11, 0, tzinfo=UTC)
WEDNESDAY_NIGHT = datetime(2026, 1, 14, 20, 0, tzinfo=UTC)
PARIS_9_TO_5 = BusinessHours.model_validate(
    {
        "timezone": "Europe/Paris",
        "weekly": [
            {"day": d, "open": "09:00", "close": "17:00"} for d in ("mon", "tue", "wed", "thu", "fri")
        ],
        "offline_text": "We are closed <b>now</b>",
        "offline_form_when_unavailable": True,
    }
).model_dump(mode="json")


def _departments(**hours: Any) -> dict[str, dict[str, Any]]:
    return {
        "sales": {"_id": "sales", "members": ["ann"], "hours": hours.get("sales")},
        "default": {"_id": "default", "members": [], "hours": hours.get("default")},
    }


def test_closed_the_widget_offers_the_form_the_offline_text_and_when_it_opens() -> None:
    answer = availability(
        departments=_departments(sales=PARIS_9_TO_5),
        department="sales",
        available_agents={"ann"},
        at=WEDNESDAY_NIGHT,
    )
    assert (answer["open"], answer["agents_available"], answer["offer_offline_form"]) == (False, True, True)
    assert answer["offline_text"] == "We are closed <b>now</b>"  # text, escaped by the widget
    assert answer["next_opening"] == "2026-01-15T08:00:00+00:00"
    assert answer["opening_hours"][0] == {
        "opens": "2026-01-15T08:00:00+00:00",
        "closes": "2026-01-15T16:00:00+00:00",
    }
    assert len(answer["opening_hours"]) == 5  # Thursday, Friday, then Monday to Wednesday


def test_open_the_chat_is_offered_unless_nobody_of_the_department_is_available_and_it_asks_for_the_form() -> (
    None
):
    departments = _departments(sales=PARIS_9_TO_5)
    open_with_ann = availability(
        departments=departments, department="sales", available_agents={"ann"}, at=WEDNESDAY_NOON
    )
    assert (open_with_ann["open"], open_with_ann["offer_offline_form"], open_with_ann["offline_text"]) == (
        True,
        False,
        None,
    )
    # Today's opening shows from its start, not from now.
    assert open_with_ann["opening_hours"][0]["opens"] == "2026-01-14T08:00:00+00:00"
    nobody = availability(
        departments=departments, department="sales", available_agents={"bob"}, at=WEDNESDAY_NOON
    )
    assert (nobody["open"], nobody["agents_available"], nobody["offer_offline_form"]) == (True, False, True)
    without_flag = {**PARIS_9_TO_5, "offline_form_when_unavailable": False}
    waits = availability(
        departments=_departments(sales=without_flag),
        department="sales",
        available_agents=set(),
        at=WEDNESDAY_NOON,
    )
    assert waits["offer_offline_form"] is False


def test_without_hours_of_its_own_a_department_follows_the_default_and_everyone_serves_no_department() -> (
    None
):
    departments = _departments(default=PARIS_9_TO_5)
    assert (
        availability(
            departments=departments, department="sales", available_agents={"ann"}, at=WEDNESDAY_NIGHT
        )["open"]
        is False
    )
    no_department = availability(
        departments=departments, department=None, available_agents={"bob"}, at=WEDNESDAY_NOON
    )
    assert (no_department["open"], no_department["agents_available"]) == (True, True)
    always = availability(departments={}, department=None, available_agents=set(), at=WEDNESDAY_NIGHT)
    assert (always["open"], always["offer_offline_form"], always["opening_hours"]) == (True, False, [])


def test_the_availability_route_is_public_and_reads_the_views() -> None:
    settings = GatewaySettings()
    views = fake_views(
        departments=[
            {
                "_id": "default",
                "tenant": settings.default_tenant,
                "name": "Default",
                "members": [],
                "hours": {**PARIS_9_TO_5, "weekly": []},
            }
        ],
        agents=[{"_id": "ann", "tenant": settings.default_tenant, "status": "available"}],
    )
    client = gateway(views, FakePublisher(), settings=settings)
    answer = client.get("/api/visitor/availability").json()
    assert (answer["open"], answer["agents_available"], answer["offer_offline_form"]) == (False, True, True)
    assert client.get("/api/visitor/availability", params={"department": "x" * 101}).status_code == 422


def test_a_left_message_starts_a_conversation_marked_offline_and_needs_an_email_and_a_message() -> None:
    publisher = FakePublisher()
    client = gateway(fake_views(), publisher)
    form = {"name": "Vera", "email": "vera@example.com", "message": "Call me back", "offline": True}
    for missing in ("email", "message"):
        refused = client.post(
            "/api/visitor/conversations", json={k: v for k, v in form.items() if k != missing}
        )
        assert refused.status_code == 422
        assert "needs an email to reply to and a message" in refused.text
    assert client.post("/api/visitor/conversations", json={**form, "message": "   "}).status_code == 422
    assert publisher.appended == []
    assert client.post("/api/visitor/conversations", json=form).status_code == 201
    started = publisher.appended[0]
    assert isinstance(started, ConversationStarted)
    assert (started.payload.offline, started.payload.visitor.email) == (True, "vera@example.com")
    assert client.post("/api/visitor/conversations", json={"name": "Max"}).status_code == 201
    plain = publisher.appended[-1]
    assert isinstance(plain, ConversationStarted) and plain.payload.offline is False


def test_the_widget_may_name_a_department_as_people_read_it_and_the_chat_goes_to_its_id() -> None:
    """The demo shop's tag says `data-departments="Sales,Support"`; the dashboard keys them `sales`."""
    configured = {"sales": {"_id": "sales", "name": "Sales"}, "vip": {"_id": "vip", "name": "Key accounts"}}
    assert resolve_department(configured, "Sales") == "sales"
    assert resolve_department(configured, "SALES") == "sales"
    assert resolve_department(configured, "key ACCOUNTS") == "vip"
    assert resolve_department(configured, "vip") == "vip"
    assert resolve_department(configured, "Billing") == "Billing"  # nobody configured it: everyone serves it
    assert resolve_department(configured, "") is None and resolve_department(configured, None) is None

    settings = GatewaySettings()
    publisher = FakePublisher()
    views = fake_views(
        departments=[
            {**doc, "tenant": settings.default_tenant, "members": [], "hours": PARIS_9_TO_5}
            for doc in configured.values()
        ]
    )
    client = gateway(views, publisher, settings=settings)
    assert (
        client.post("/api/visitor/conversations", json={"name": "Max", "department": "Sales"}).status_code
        == 201
    )
    started = publisher.appended[0]
    assert isinstance(started, ConversationStarted) and started.payload.department == "sales"
    # Before the chat, the widget asks with the same words and gets the department's own hours.
    answer = client.get("/api/visitor/availability", params={"department": "Sales"}).json()
    assert (answer["department"], answer["timezone"]) == ("sales", "Europe/Paris")


OPEN = {"created_at": WEDNESDAY_NOON, "first_response_at": None, "last_activity_at": WEDNESDAY_NOON}


def test_the_monitor_lists_open_offline_messages_under_their_own_filter() -> None:

    views = fake_views(
        conversations=[
            conversation_view(_id="chat", **OPEN),
            conversation_view(
                **OPEN,
                _id="left",
                offline=True,
                visitor={"id": "v2", "name": "Vera", "email": "vera@example.com"},
            ),
            conversation_view(**OPEN, _id="answered", offline=True, status="closed"),
        ]
    )
    client = gateway(
        views, FakePublisher(), agent=AgentPrincipal(agent_id="ann", tenant="acme", role="agent")
    )
    answer = client.get("/api/agent/monitor", params={"filter": "offline"}).json()
    assert [item["id"] for item in answer["items"]] == ["left"]
    assert answer["items"][0]["visitor"]["email"] == "vera@example.com"
    assert (answer["counts"]["offline"], answer["counts"]["all"]) == (1, 2)


def test_the_conversation_view_keeps_the_offline_mark() -> None:
    started = ConversationStarted.model_validate(
        {
            "tenant": "acme",
            "aggregate_id": "c1",
            "actor": {"kind": "visitor", "id": "v1"},
            "payload": {
                "visitor_id": "v1",
                "visitor": {"name": "Vera", "email": "vera@example.com"},
                "offline": True,
            },
        }
    )
    view = apply_conversation(None, started, 0)
    assert (view["offline"], view["visitor"]["email"]) == (True, "vera@example.com")
    assert (
        apply_conversation(
            None,
            started.model_copy(update={"payload": started.payload.model_copy(update={"offline": False})}),
            0,
        )["offline"]
        is False
    )
