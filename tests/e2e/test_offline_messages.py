"""Business hours and offline messages on the real stack: a closed department's widget offers the form,
the left message waits unassigned under the Monitor's offline filter with the visitor's email, and an
agent may still take it at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.events.department import WEEKDAYS
from tests.e2e.conftest import Stack, eventually, json_of

pytestmark = pytest.mark.e2e


def test_a_message_left_while_the_department_is_closed_waits_for_it_under_the_offline_filter(
    stack: Stack,
) -> None:
    stack.register("sue@hours.test", "Sue", role="supervisor")
    ann = stack.register("ann@hours.test", "Ann")
    http_sue = stack.client(stack.login("sue@hours.test", "correct horse battery"))
    http_ann = stack.client(stack.login("ann@hours.test", "correct horse battery"))
    json_of(http_ann.put("/api/agent/me/status", json={"status": "available"}))

    # Open only tomorrow (UTC), so closed now whatever the time of day.
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    hours = {
        "timezone": "UTC",
        "weekly": [{"day": WEEKDAYS[tomorrow.weekday()], "open": "09:00", "close": "17:00"}],
        "offline_text": "Back tomorrow at nine.",
    }
    bad_zone = http_sue.put(
        "/api/agent/departments/night", json={"name": "Night", "hours": {**hours, "timezone": "Moon/Base"}}
    )
    assert bad_zone.status_code == 422 and "unknown time zone" in bad_zone.text
    json_of(
        http_sue.put("/api/agent/departments/night", json={"name": "Night", "members": [ann], "hours": hours})
    )

    def closed() -> dict[str, Any]:
        answer: dict[str, Any] = json_of(
            httpx.get(f"{stack.base_url}/api/visitor/availability?department=night")
        )
        assert answer["open"] is False
        return answer

    availability = eventually(closed)
    assert availability["offer_offline_form"] is True and availability["agents_available"] is True
    assert availability["offline_text"] == "Back tomorrow at nine."
    assert availability["next_opening"] == f"{tomorrow.isoformat()}T09:00:00+00:00"

    left = json_of(
        httpx.post(
            f"{stack.base_url}/api/visitor/conversations",
            json={
                "name": "Vera",
                "email": "vera@example.com",
                "message": "Call me back",
                "department": "night",
                "offline": True,
            },
        ),
        201,
    )
    conversation_id = left["conversation_id"]

    def waiting_in_the_offline_filter() -> dict[str, Any]:
        monitor = json_of(http_sue.get("/api/agent/monitor", params={"filter": "offline"}))
        items: list[dict[str, Any]] = [c for c in monitor["items"] if c["id"] == conversation_id]
        # The router has decided: queued, though Ann is available with room, because the department is closed.
        assert items and items[0]["assignment"] == "queued", monitor
        return items[0]

    row = eventually(waiting_in_the_offline_filter)
    assert (row["offline"], row["visitor"]["email"], row["assignee_id"]) == (True, "vera@example.com", None)
    assert row["department"] == "night"
    everything = json_of(http_sue.get("/api/agent/monitor", params={"filter": "all"}))
    assert everything["counts"]["offline"] == 1

    # A second message waits too; an agent may pick the first at once, hours or not.
    second = json_of(
        httpx.post(
            f"{stack.base_url}/api/visitor/conversations",
            json={
                "name": "Max",
                "email": "max@example.com",
                "message": "Hello?",
                "department": "night",
                "offline": True,
            },
        ),
        201,
    )["conversation_id"]
    json_of(http_ann.post(f"/api/agent/conversations/{conversation_id}/join"))

    def assigned_to_ann(cid: str) -> None:
        detail = json_of(http_sue.get(f"/api/agent/conversations/{cid}"))
        assert detail["assignee"] and detail["assignee"]["id"] == ann, detail

    eventually(lambda: assigned_to_ann(conversation_id))
    assert json_of(http_sue.get(f"/api/agent/conversations/{second}"))["assignee"] is None

    # The department opens (around the clock from now on): the message still waiting is routed to Ann.
    opened = {**hours, "weekly": [{"day": day, "open": "00:00", "close": "24:00"} for day in WEEKDAYS]}
    json_of(
        http_sue.put(
            "/api/agent/departments/night", json={"name": "Night", "members": [ann], "hours": opened}
        )
    )
    eventually(lambda: assigned_to_ann(second))
