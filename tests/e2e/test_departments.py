"""Departments over the API: a chat for a department goes to its members; a transfer moves it to another."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack, eventually, json_of

pytestmark = pytest.mark.e2e


def _assignee(agent: httpx.Client, conversation_id: str) -> str | None:
    detail: dict[str, Any] = json_of(agent.get(f"/api/agent/conversations/{conversation_id}"))
    return detail["assignee"]["id"] if detail["assignee"] else None


def test_departments_route_chats_to_their_members_and_transfers_move_them(stack: Stack) -> None:
    ids = {
        name: stack.register(
            f"{name}@dept.test", name.title(), role="supervisor" if name == "sue" else "agent"
        )
        for name in ("sue", "sal", "sam")
    }
    http = {name: stack.client(stack.login(f"{name}@dept.test", "correct horse battery")) for name in ids}
    for name in ("sal", "sam"):
        json_of(http[name].put("/api/agent/me/status", json={"status": "available"}))

    refused = http["sal"].put("/api/agent/departments/sales", json={"name": "Sales", "members": [ids["sal"]]})
    assert refused.status_code == 403
    json_of(
        http["sue"].put("/api/agent/departments/support", json={"name": "Support", "members": [ids["sam"]]})
    )
    # A fallback must exist as a view before another department can name it.
    eventually(lambda: _check(len(json_of(http["sue"].get("/api/agent/departments"))["items"]) == 1))
    json_of(
        http["sue"].put(
            "/api/agent/departments/sales",
            json={"name": "Sales", "members": [ids["sal"]], "strategy": "round_robin", "fallback": "support"},
        )
    )
    missing = http["sue"].put("/api/agent/departments/x", json={"name": "X", "members": ["nobody"]})
    assert missing.status_code == 404 and "nobody" in missing.json()["error"]["message"]

    def listed() -> None:
        names = [d["name"] for d in json_of(http["sal"].get("/api/agent/departments"))["items"]]
        assert names == ["Sales", "Support"]

    eventually(listed)

    started = json_of(
        httpx.post(
            f"{stack.base_url}/api/visitor/conversations", json={"name": "Buyer", "department": "sales"}
        ),
        201,
    )
    conversation_id = started["conversation_id"]
    eventually(lambda: _check(_assignee(http["sue"], conversation_id) == ids["sal"]))

    json_of(
        http["sal"].post(
            f"/api/agent/conversations/{conversation_id}/transfer", json={"department": "support"}
        )
    )
    eventually(lambda: _check(_assignee(http["sue"], conversation_id) == ids["sam"]))
    detail = json_of(http["sue"].get(f"/api/agent/conversations/{conversation_id}"))
    assert detail["department"] == "support"
    unknown = http["sam"].post(
        f"/api/agent/conversations/{conversation_id}/transfer", json={"department": "nowhere"}
    )
    assert unknown.status_code == 404


def _check(condition: bool) -> None:
    assert condition
