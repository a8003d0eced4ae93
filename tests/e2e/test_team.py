"""A supervisor manages the team over the API, on the whole stack (every service its own process, the real
broker and MongoDB-wire server): invite with a one-time link, reset, role change, deactivation."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from services.conversation.views import CONVERSATION_PROJECTION
from shared.settings import ParleySettings
from tests.e2e.conftest import Stack, assert_views_equal_replay, eventually, json_of

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery"


def _check(condition: bool, message: object = "") -> None:
    assert condition, message


def _token_of(link: dict[str, Any]) -> str:
    url = str(link["url"])
    assert url.startswith("/set-password#token="), url
    return url.partition("#token=")[2]


def _set_password(stack: Stack, token: str, password: str) -> httpx.Response:
    return httpx.post(f"{stack.base_url}/api/set-password", json={"token": token, "password": password})


def _sign_in(stack: Stack, email: str, password: str) -> httpx.Response:
    return httpx.post(f"{stack.base_url}/api/agent/auth/login", json={"email": email, "password": password})


def _member(supervisor: httpx.Client, agent_id: str) -> dict[str, Any]:
    items = json_of(supervisor.get("/api/agent/team"))["items"]
    found = [m for m in items if m["id"] == agent_id]
    assert found, items
    return dict(found[0])


def _assignee(agent: httpx.Client, conversation_id: str) -> str | None:
    detail: dict[str, Any] = json_of(agent.get(f"/api/agent/conversations/{conversation_id}"))
    return detail["assignee"]["id"] if detail["assignee"] else None


@pytest.fixture(scope="module")
def supervisor(stack: Stack) -> httpx.Client:
    stack.register("sue@team.test", "Sue Supervisor", role="supervisor")
    return stack.client(stack.login("sue@team.test", PASSWORD))


def test_an_invited_teammate_sets_a_password_once_with_the_link_and_signs_in(
    stack: Stack, supervisor: httpx.Client
) -> None:
    json_of(supervisor.put("/api/agent/departments/sales", json={"name": "Sales", "members": []}))
    eventually(lambda: _check(len(json_of(supervisor.get("/api/agent/departments"))["items"]) == 1))
    invited = json_of(
        supervisor.post(
            "/api/agent/team/invitations",
            json={
                "name": "Cat <b>New</b>",
                "email": "Cat@Team.test",
                "role": "agent",
                "max_concurrent_chats": 2,
                "departments": ["sales"],
            },
        ),
        201,
    )
    cat_id, link = invited["id"], invited["link"]
    assert (link["purpose"], link["emailed"]) == ("invite", False)

    def invited_row() -> dict[str, Any]:
        row = _member(supervisor, cat_id)
        assert row["password_link"] is not None, row  # the credentials view shows the link a moment later
        return row

    row = eventually(invited_row)
    assert (row["account"], row["email"], row["name"], row["max_concurrent_chats"]) == (
        "invited",
        "cat@team.test",
        "Cat <b>New</b>",
        2,
    )
    assert row["departments"] == [{"id": "sales", "name": "Sales"}]
    assert row["password_link"]["purpose"] == "invite" and not row["password_link"]["used"]
    # The invitation's email cannot be invited again; nobody signs in before the link is used.
    again = supervisor.post("/api/agent/team/invitations", json={"name": "Cat", "email": "cat@team.test"})
    assert again.status_code == 409, again.text
    assert _sign_in(stack, "cat@team.test", "a new password").status_code == 401
    blank = supervisor.post("/api/agent/team/invitations", json={"name": " \t ", "email": "b@team.test"})
    assert blank.status_code == 422, blank.text

    assert _set_password(stack, "not-a-token-of-any-link-at-all", "a new password").status_code == 404
    used = json_of(_set_password(stack, _token_of(link), "a new password"))
    assert used["email"] == "cat@team.test"
    reused = _set_password(stack, _token_of(link), "another password")
    assert reused.status_code == 410 and "already used" in reused.json()["error"]["message"], reused.text

    cat = stack.client(stack.login("cat@team.test", "a new password"))
    assert _sign_in(stack, "cat@team.test", "another password").status_code == 401
    eventually(lambda: _check(_member(supervisor, cat_id)["account"] == "active"))
    # Cat may lower the limit the supervisor set, not raise it; and the Team page is not hers.
    raised = cat.patch("/api/agent/me", json={"max_concurrent_chats": 3})
    assert raised.status_code == 403 and "at most 2" in raised.json()["error"]["message"], raised.text
    json_of(cat.patch("/api/agent/me", json={"max_concurrent_chats": 1}))
    for refused in (
        cat.get("/api/agent/team"),
        cat.post("/api/agent/team/invitations", json={"name": "X", "email": "x@team.test"}),
        cat.post(f"/api/agent/team/{cat_id}/password-link"),
        cat.put(f"/api/agent/team/{cat_id}/role", json={"role": "supervisor"}),
        cat.put(f"/api/agent/team/{cat_id}/chat-limit", json={"max_concurrent_chats": 9}),
        cat.post(f"/api/agent/team/{cat_id}/deactivate"),
    ):
        assert refused.status_code == 403, refused.text
    # The supervisor raises it; then Cat may use it.
    json_of(supervisor.put(f"/api/agent/team/{cat_id}/chat-limit", json={"max_concurrent_chats": 4}))
    eventually(
        lambda: _check(cat.patch("/api/agent/me", json={"max_concurrent_chats": 4}).status_code == 200)
    )


def test_a_reset_link_replaces_the_password_and_the_links_before_it(
    stack: Stack, supervisor: httpx.Client
) -> None:
    dan_id = stack.register("dan@team.test", "Dan Agent")
    # Whoever is signed in with the old password (Dan on another computer, or someone who learnt it)...
    old_session = stack.client(stack.login("dan@team.test", PASSWORD))
    first = json_of(supervisor.post(f"/api/agent/team/{dan_id}/password-link"), 201)["link"]
    second = json_of(supervisor.post(f"/api/agent/team/{dan_id}/password-link"), 201)["link"]
    assert second["purpose"] == "reset"
    assert _set_password(stack, _token_of(first), "replaced password").status_code == 404
    json_of(_set_password(stack, _token_of(second), "replaced password"))
    # ... is signed out at once, and cannot keep the session going with a refresh.
    assert old_session.get("/api/agent/me").status_code == 401
    assert old_session.post("/api/agent/auth/refresh").status_code == 401
    stack.login("dan@team.test", "replaced password")
    assert _sign_in(stack, "dan@team.test", PASSWORD).status_code == 401


def test_a_deactivated_accounts_link_stays_dead_even_after_reactivation(
    stack: Stack, supervisor: httpx.Client
) -> None:
    kim_id = stack.register("kim@team.test", "Kim Agent")
    link = json_of(supervisor.post(f"/api/agent/team/{kim_id}/password-link"), 201)["link"]
    json_of(supervisor.post(f"/api/agent/team/{kim_id}/deactivate"))
    refused = _set_password(stack, _token_of(link), "a password of my own")
    assert refused.status_code == 410, refused.text
    json_of(supervisor.post(f"/api/agent/team/{kim_id}/reactivate"))
    eventually(lambda: _check(_member(supervisor, kim_id)["account"] == "active"))
    assert _set_password(stack, _token_of(link), "a password of my own").status_code == 410
    stack.login("kim@team.test", PASSWORD)  # the password from before the link is still hers


def test_a_link_used_several_times_at_once_sets_one_password(stack: Stack, supervisor: httpx.Client) -> None:
    invited = supervisor.post("/api/agent/team/invitations", json={"name": "Lee", "email": "lee@team.test"})
    token = _token_of(json_of(invited, 201)["link"])
    passwords = [f"password number {n}" for n in range(6)]

    async def at_once() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
            posts = (
                client.post("/api/set-password", json={"token": token, "password": p}) for p in passwords
            )
            return list(await asyncio.gather(*posts))

    answers = asyncio.run(at_once())
    codes = [a.status_code for a in answers]
    assert sorted(codes) == [200] + [410] * (len(passwords) - 1), [a.text for a in answers]
    winner = passwords[codes.index(200)]
    stack.login("lee@team.test", winner)
    for loser in passwords:
        if loser != winner:
            assert _sign_in(stack, "lee@team.test", loser).status_code == 401


def test_an_email_with_a_pending_invitation_is_taken_in_every_team(
    stack: Stack, supervisor: httpx.Client
) -> None:
    stack.register("olga@globex.test", "Olga Supervisor", role="supervisor", tenant="globex")
    olga = stack.client(stack.login("olga@globex.test", PASSWORD))
    pat = json_of(
        supervisor.post("/api/agent/team/invitations", json={"name": "Pat", "email": "pat@team.test"}), 201
    )
    eventually(lambda: _check(_member(supervisor, pat["id"])["password_link"] is not None))
    elsewhere = olga.post("/api/agent/team/invitations", json={"name": "Pat", "email": "PAT@team.test"})
    assert elsewhere.status_code == 409 and elsewhere.json()["error"]["code"] == "email_in_use", (
        elsewhere.text
    )
    # The same answer as in Pat's own team: it tells Olga nothing about which team has the address.
    here = supervisor.post("/api/agent/team/invitations", json={"name": "Pat", "email": "pat@team.test"})
    assert here.json()["error"] == elsewhere.json()["error"], here.text


def test_a_role_change_ends_the_sessions_and_the_next_token_carries_the_role(
    stack: Stack, supervisor: httpx.Client
) -> None:
    eve_id = stack.register("eve@team.test", "Eve Agent")
    eve = stack.client(stack.login("eve@team.test", PASSWORD))
    assert eve.get("/api/agent/team").status_code == 403
    json_of(supervisor.put(f"/api/agent/team/{eve_id}/role", json={"role": "supervisor"}))
    assert eve.get("/api/agent/me").status_code == 401
    promoted = stack.client(stack.login("eve@team.test", PASSWORD))
    json_of(promoted.get("/api/agent/team"))
    # Back to agent: at once, her supervisor token no longer works.
    json_of(supervisor.put(f"/api/agent/team/{eve_id}/role", json={"role": "agent"}))
    assert promoted.get("/api/agent/team").status_code == 401
    eventually(lambda: _check(_member(supervisor, eve_id)["role"] == "agent"))
    same = supervisor.put(f"/api/agent/team/{eve_id}/role", json={"role": "agent"})
    assert same.status_code == 409 and "already an agent" in same.text, same.text


def test_a_deactivated_agent_cannot_sign_in_and_their_open_chat_goes_to_a_teammate(
    stack: Stack, supervisor: httpx.Client
) -> None:
    ivy_id = stack.register("ivy@team.test", "Ivy Agent")
    jon_id = stack.register("jon@team.test", "Jon Agent")
    # Their own department, so the agents of the tests above take none of its chats.
    json_of(supervisor.put("/api/agent/departments/vip", json={"name": "VIP", "members": [ivy_id, jon_id]}))
    ivy = stack.client(stack.login("ivy@team.test", PASSWORD))
    json_of(ivy.put("/api/agent/me/status", json={"status": "available"}))
    eventually(lambda: _check(json_of(ivy.get("/api/agent/me"))["status"] == "available"))
    started = json_of(
        httpx.post(
            f"{stack.base_url}/api/visitor/conversations",
            json={"name": "Vera", "message": "Hi", "department": "vip"},
        ),
        201,
    )
    chat = started["conversation_id"]
    eventually(lambda: _check(_assignee(supervisor, chat) == ivy_id))
    jon = stack.client(stack.login("jon@team.test", PASSWORD))
    json_of(jon.put("/api/agent/me/status", json={"status": "available"}))
    eventually(lambda: _check(json_of(jon.get("/api/agent/me"))["status"] == "available"))

    json_of(supervisor.post(f"/api/agent/team/{ivy_id}/deactivate"))
    assert ivy.get("/api/agent/me").status_code == 401  # her token, at once
    refused = _sign_in(stack, "ivy@team.test", PASSWORD)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "account_deactivated"
    assert _sign_in(stack, "ivy@team.test", "a wrong password").status_code == 401  # no more than before
    eventually(lambda: _check(_assignee(supervisor, chat) == jon_id))

    def deactivated_row() -> dict[str, Any]:
        row = _member(supervisor, ivy_id)
        assert row["account"] == "deactivated", row
        return row

    assert eventually(deactivated_row)["status"] == "offline"
    # She is offered to nobody: not in the teammate search, not as an assignee.
    names = [a["id"] for a in json_of(supervisor.get("/api/agent/agents"))["items"]]
    assert ivy_id not in names and jon_id in names
    moved = supervisor.post(f"/api/agent/conversations/{chat}/reassign", json={"agent_id": ivy_id})
    assert moved.status_code == 409, moved.text
    assert supervisor.post(f"/api/agent/team/{ivy_id}/deactivate").status_code == 409

    json_of(supervisor.post(f"/api/agent/team/{ivy_id}/reactivate"))
    back = stack.client(stack.login("ivy@team.test", PASSWORD))
    json_of(back.get("/api/agent/me"))


def test_the_last_active_supervisor_stays_one(stack: Stack, supervisor: httpx.Client) -> None:
    sue_id = stack.agents["sue@team.test"]
    # An invited supervisor who has not set a password yet (and may never) does not count.
    zoe = supervisor.post(
        "/api/agent/team/invitations", json={"name": "Zoe", "email": "zoe@team.test", "role": "supervisor"}
    )
    zoe_id = json_of(zoe, 201)["id"]
    eventually(lambda: _check(_member(supervisor, zoe_id)["password_link"] is not None))
    for refused in (
        supervisor.put(f"/api/agent/team/{sue_id}/role", json={"role": "agent"}),
        supervisor.post(f"/api/agent/team/{sue_id}/deactivate"),
    ):
        assert refused.status_code == 409 and "without an active supervisor" in refused.text, refused.text


def test_the_team_views_equal_a_replay_of_their_topics(stack: Stack) -> None:
    """Runs last in this module: the invitations, links, roles and deactivations above."""
    views = ("agents", "agent_credentials", "departments", "conversations")
    assert_views_equal_replay(stack, CONVERSATION_PROJECTION, ParleySettings, views)
