"""Bad input gets a 4xx JSON error that says what was wrong; security rules hold on every path."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack, eventually, json_of

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def agent(stack: Stack) -> httpx.Client:
    stack.register("rita@example.com", "Rita Rules")
    return stack.client(stack.login("rita@example.com", PASSWORD))


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    error: dict[str, Any] = response.json()["error"]
    assert error["message"], "every error says what was wrong"
    return error


def _start(stack: Stack, name: str = "Iris") -> tuple[str, httpx.Client]:
    started = json_of(httpx.post(f"{stack.base_url}/api/visitor/conversations", json={"name": name}), 201)
    return started["conversation_id"], stack.client(started["visitor_token"])


def test_malformed_requests_get_a_422_naming_the_field(stack: Stack) -> None:
    anonymous = stack.client()
    error = _error(anonymous.post("/api/visitor/conversations", json={"email": "not-an-email"}), 422)
    assert "name" in error["message"] and "email" in error["message"]
    error = _error(
        anonymous.post(
            "/api/visitor/conversations", content=b"{broken", headers={"content-type": "application/json"}
        ),
        422,
    )
    assert error["code"] == "invalid_request"
    error = _error(anonymous.post("/api/visitor/conversations", json={"name": "x", "surprise": 1}), 422)
    assert "surprise" in error["message"]


def test_a_position_beyond_64_bits_is_a_422_not_a_database_error(stack: Stack, agent: httpx.Client) -> None:
    conversation_id, visitor = _start(stack)
    too_big = 2**63  # MongoDB cannot even compare it; found by the fuzz test as a 500
    error = _error(visitor.get("/api/visitor/conversation/messages", params={"after": too_big}), 422)
    assert "after" in error["message"]
    # The agent's side reads the conversation first (an unknown one is a 404 before its parameters are
    # read), so wait for its view.
    eventually(lambda: json_of(agent.get(f"/api/agent/conversations/{conversation_id}")))
    assert _error(
        agent.get(f"/api/agent/conversations/{conversation_id}/messages", params={"after": too_big}), 422
    )
    read = agent.post(f"/api/agent/conversations/{conversation_id}/read", json={"up_to_position": too_big})
    assert "up_to_position" in _error(read, 422)["message"]
    assert json_of(visitor.get("/api/visitor/conversation/messages", params={"after": 2**63 - 1}), 200) == {
        "items": []
    }


def test_agent_endpoints_need_a_valid_agent_token(stack: Stack) -> None:
    _, visitor = _start(stack)
    assert _error(stack.client().get("/api/agent/monitor"), 401)["code"] == "unauthorized"
    assert _error(stack.client("forged.token.here").get("/api/agent/monitor"), 401)
    assert "agent" in _error(visitor.get("/api/agent/monitor"), 401)["message"]
    assert _error(
        stack.client().post("/api/agent/auth/login", json={"email": "rita@example.com", "password": "nope"}),
        401,
    )


def test_unknown_ids_are_404_not_500(stack: Stack, agent: httpx.Client) -> None:
    assert _error(agent.get("/api/agent/conversations/no-such-conversation"), 404)["code"] == "not_found"
    assert _error(agent.post("/api/agent/conversations/no-such-conversation/join"), 404)
    assert _error(agent.get("/api/attachments/not-an-object-id"), 404)
    assert _error(agent.get("/api/attachments/65f000000000000000000000"), 404)
    assert _error(agent.get("/api/agent/no-such-endpoint"), 404)


def test_a_visitor_reaches_only_their_own_conversation(stack: Stack, agent: httpx.Client) -> None:
    first_id, first = _start(stack, "First")
    second_id, second = _start(stack, "Second")
    eventually(lambda: json_of(agent.get(f"/api/agent/conversations/{first_id}")))
    eventually(lambda: json_of(agent.get(f"/api/agent/conversations/{second_id}")))
    json_of(agent.post(f"/api/agent/conversations/{first_id}/join"))
    eventually(lambda: _has_participant(agent, first_id))
    json_of(agent.post(f"/api/agent/conversations/{first_id}/notes", json={"text": "secret plan"}), 201)
    upload = json_of(
        first.post(
            "/api/visitor/conversation/attachments", files={"file": ("n.txt", b"hello", "text/plain")}
        ),
        201,
    )

    assert json_of(second.get("/api/visitor/conversation"))["id"] == second_id
    # The second visitor cannot fetch the first one's file, and the answer does not confirm it exists.
    assert _error(second.get(f"/api/attachments/{upload['attachment_id']}"), 404)
    # Nor attach it to their own message.
    refused = second.post(
        "/api/visitor/conversation/messages", json={"attachment_ids": [upload["attachment_id"]]}
    )
    assert _error(refused, 404)
    # And never the note, on any visitor path.
    json_of(first.post("/api/visitor/conversation/messages", json={"text": "hello"}), 201)
    lines = eventually(lambda: _lines_with_text(first, "hello"))
    assert (
        "secret plan" not in str(lines) and "secret plan" not in first.get("/api/visitor/conversation").text
    )


def test_uploads_have_a_size_limit_and_a_type_allow_list(stack: Stack) -> None:
    _, visitor = _start(stack)
    eventually(lambda: json_of(visitor.get("/api/visitor/conversation")))
    too_big = b"\x89PNG\r\n\x1a\n" + b"0" * (10 * 1024 * 1024)
    error = _error(
        visitor.post(
            "/api/visitor/conversation/attachments", files={"file": ("big.png", too_big, "image/png")}
        ),
        413,
    )
    assert "limit" in error["message"]
    error = _error(
        visitor.post(
            "/api/visitor/conversation/attachments", files={"file": ("x.html", b"<script>", "text/html")}
        ),
        415,
    )
    assert "text/html" in error["message"]
    disguised = _error(
        visitor.post(
            "/api/visitor/conversation/attachments", files={"file": ("x.png", b"<svg onload=1>", "image/png")}
        ),
        415,
    )
    assert "not" in disguised["message"]


def test_rules_of_the_conversation_lifecycle(stack: Stack, agent: httpx.Client) -> None:
    conversation_id, visitor = _start(stack)
    eventually(lambda: json_of(agent.get(f"/api/agent/conversations/{conversation_id}")))
    # Rating an open conversation, or answering without joining, is refused with the reason.
    assert (
        "closed"
        in _error(visitor.post("/api/visitor/conversation/rating", json={"score": 4}), 409)["message"]
    )
    assert (
        "join"
        in _error(
            agent.post(f"/api/agent/conversations/{conversation_id}/messages", json={"text": "hi"}), 403
        )["message"]
    )
    assert _error(visitor.post("/api/visitor/conversation/rating", json={"score": 9}), 422)
    assert _error(
        agent.post(f"/api/agent/conversations/{conversation_id}/tags", json={"tag": "<b>bad</b>"}), 422
    )
    assert _error(visitor.post("/api/visitor/conversation/messages", json={"text": "   "}), 400)
    json_of(agent.post(f"/api/agent/conversations/{conversation_id}/close"))
    eventually(lambda: _assert_status(agent, conversation_id, "closed"))
    assert (
        "already closed"
        in _error(agent.post(f"/api/agent/conversations/{conversation_id}/close"), 409)["message"]
    )
    json_of(visitor.post("/api/visitor/conversation/rating", json={"score": 4}), 201)
    eventually(lambda: _rated(visitor))
    assert (
        "already"
        in _error(visitor.post("/api/visitor/conversation/rating", json={"score": 5}), 409)["message"]
    )


def _has_participant(agent: httpx.Client, conversation_id: str) -> None:
    assert json_of(agent.get(f"/api/agent/conversations/{conversation_id}"))["participants"]


def _lines_with_text(visitor: httpx.Client, text: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = json_of(visitor.get("/api/visitor/conversation/messages"))["items"]
    assert any(line["text"] == text for line in lines)
    return lines


def _assert_status(agent: httpx.Client, conversation_id: str, status: str) -> None:
    assert json_of(agent.get(f"/api/agent/conversations/{conversation_id}"))["status"] == status


def _rated(visitor: httpx.Client) -> None:
    rating = json_of(visitor.get("/api/visitor/conversation"))["rating"]
    assert rating is not None and rating["score"] == 4, rating


def test_text_with_a_nul_character_is_refused_not_stored(stack: Stack, agent: httpx.Client) -> None:
    # No view store on PostgreSQL can hold U+0000: accepted, it would become an event no view can apply.
    error = _error(stack.client().post("/api/visitor/conversations", json={"name": "Nul\x00l"}), 422)
    assert "NUL" in error["message"]
    _, visitor = _start(stack)
    _error(visitor.post("/api/visitor/conversation/messages", json={"text": "a\x00b"}), 422)
    error = _error(agent.get("/api/agent/history", params={"tag": "\x00"}), 422)
    assert "NUL" in error["message"]
