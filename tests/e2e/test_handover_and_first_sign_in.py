"""Leave hands the chat to a busy teammate, and a new agent's first sign-in makes them available.

The whole stack, every service its own process, on the real broker and MongoDB-wire server.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack, eventually, json_of

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery"


def _check(condition: bool, message: str = "") -> None:
    assert condition, message


def _start_visitor_chat(stack: Stack, name: str) -> str:
    started = json_of(
        httpx.post(f"{stack.base_url}/api/visitor/conversations", json={"name": name, "message": "Hi"}), 201
    )
    return str(started["conversation_id"])


def _assignee(agent: httpx.Client, conversation_id: str) -> str | None:
    detail: dict[str, Any] = json_of(agent.get(f"/api/agent/conversations/{conversation_id}"))
    return detail["assignee"]["id"] if detail["assignee"] else None


def test_leave_hands_the_chat_to_a_teammate_who_is_at_capacity(stack: Stack) -> None:
    ann_id = stack.register("ann@handover.test", "Ann Agent", max_chats=2)
    bob_id = stack.register("bob@handover.test", "Bob Agent", max_chats=2)
    ann = stack.client(stack.login("ann@handover.test", PASSWORD))
    bob = stack.client(stack.login("bob@handover.test", PASSWORD))
    for agent in (ann, bob):
        json_of(agent.put("/api/agent/me/status", json={"status": "available"}))
    eventually(lambda: _check(json_of(bob.get("/api/agent/me"))["status"] == "available"))

    chats = [_start_visitor_chat(stack, f"Visitor {n}") for n in range(4)]

    def both_full() -> dict[str, list[str]]:
        by_agent = {a: [c for c in chats if _assignee(ann, c) == a] for a in (ann_id, bob_id)}
        assert [len(c) for c in by_agent.values()] == [2, 2], by_agent
        return by_agent

    ann_chats = eventually(both_full)[ann_id]
    waiting = _start_visitor_chat(stack, "Waiting Visitor")
    eventually(
        lambda: _check(json_of(ann.get(f"/api/agent/conversations/{waiting}"))["assignment"] == "queued")
    )

    handed_over = ann_chats[0]
    json_of(ann.post(f"/api/agent/conversations/{handed_over}/teammates", json={"agent_id": bob_id}))
    eventually(
        lambda: _check(
            bob_id
            in [p["id"] for p in json_of(ann.get(f"/api/agent/conversations/{handed_over}"))["participants"]]
        )
    )
    json_of(ann.post(f"/api/agent/conversations/{handed_over}/leave"))

    # Bob takes over though he was at 2 of 2; Ann's freed seat then goes to the visitor who waited.
    eventually(lambda: _check(_assignee(bob, handed_over) == bob_id))
    eventually(lambda: _check(_assignee(ann, waiting) == ann_id))
    bob_chats = [c["id"] for c in json_of(bob.get("/api/agent/chats"))["items"]]
    assert handed_over in bob_chats and len(bob_chats) == 3


def test_a_new_agent_is_available_on_first_sign_in_and_a_chosen_status_is_remembered(stack: Stack) -> None:
    new_id = stack.register("nia@first.test", "Nia New", chosen_status=None)
    signed_in = json_of(
        httpx.post(
            f"{stack.base_url}/api/agent/auth/login", json={"email": "nia@first.test", "password": PASSWORD}
        )
    )
    assert signed_in["agent"]["status"] == "available"
    nia = stack.client(signed_in["access_token"])
    eventually(lambda: _check(json_of(nia.get("/api/agent/me"))["status"] == "available"))

    # A visitor who writes now is routed to her at once: nobody had to find the availability toggle.
    conversation_id = _start_visitor_chat(stack, "Early Visitor")
    eventually(lambda: _check(_assignee(nia, conversation_id) == new_id))

    # She signs off; signing in again keeps her choice.
    json_of(nia.put("/api/agent/me/status", json={"status": "offline"}))
    eventually(lambda: _check(json_of(nia.get("/api/agent/me"))["status"] == "offline"))
    again = json_of(nia.post("/api/agent/auth/login", json={"email": "nia@first.test", "password": PASSWORD}))
    assert again["agent"]["status"] == "offline"
