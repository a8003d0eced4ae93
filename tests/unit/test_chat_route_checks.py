"""The routes every chat message goes through resolve one dependency each (deps/chat_messages.py, for speed): each still
refuses what the chain of dependencies refused, with the same JSON errors, in the same order."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from services.gateway.auth import VisitorPrincipal, agent_token, visitor_token
from services.gateway.config import GatewaySettings
from services.gateway.credential_record import CredentialRecord
from services.gateway.rate_limits import Rate
from tests.unit.gateway_fakes import ANN, VERA, FakePublisher, conversation_view, fake_views, gateway

SETTINGS = GatewaySettings()
VISITOR_POST = "/api/visitor/conversation/messages"
REPLY = "/api/agent/conversations/c1/messages"
CONVERSATIONS = [
    conversation_view(created_at="2026-01-01T00:00:00Z"),
    conversation_view(_id="theirs", tenant="other"),
]
AGENTS = [{"_id": "ann", "tenant": "acme", "name": "Ann"}]


def _client(
    settings: GatewaySettings = SETTINGS, record: CredentialRecord | None = None, **signed_in: Any
) -> tuple[httpx.Client, FakePublisher]:
    publisher = FakePublisher()
    views = fake_views(conversations=CONVERSATIONS, agents=AGENTS)
    return gateway(views, publisher, settings=settings, record=record, **signed_in), publisher


def _refused(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    message: str = response.json()["error"]["message"]
    return message


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_visitor_message_needs_a_visitor_token_and_lands_in_that_visitor_conversation_only() -> None:
    client, publisher = _client()
    assert "missing bearer token" in _refused(client.post(VISITOR_POST, json={"text": "hi"}), 401)
    agent = _bearer(agent_token(SETTINGS, ANN)[0])
    _refused(client.post(VISITOR_POST, json={"text": "hi"}, headers=agent), 401)
    _refused(client.post(VISITOR_POST, json={"text": "hi"}, headers=_bearer("not.a.token")), 401)
    assert publisher.appended == []
    # The token may also come as ?access_token= (links that cannot set headers), as on every other route.
    query = {"access_token": visitor_token(SETTINGS, VERA)}
    assert client.post(VISITOR_POST, json={"text": "hi"}, params=query).status_code == 201
    assert [e.aggregate_id for e in publisher.appended] == ["c1"]


def test_a_visitor_over_the_message_limit_gets_a_429_before_anything_is_appended() -> None:
    settings = GatewaySettings(limit_messages_per_visitor=Rate(2, 60))
    client, publisher = _client(settings, visitor=VERA)
    for _ in range(2):
        assert client.post(VISITOR_POST, json={"text": "hi"}).status_code == 201
    refused = client.post(VISITOR_POST, json={"text": "hi"})
    assert "too fast" in _refused(refused, 429)
    assert int(refused.headers["Retry-After"]) >= 1
    # Another visitor behind the same address still may write (the per-address limit is higher).
    other = VisitorPrincipal(conversation_id="c1", visitor_id="v2", tenant="acme")
    headers = _bearer(visitor_token(settings, other))
    assert client.post(VISITOR_POST, json={"text": "hi"}, headers=headers).status_code == 201
    assert len(publisher.appended) == 3


def test_a_bad_token_uses_no_message_limit_slot_of_the_visitors_at_its_address() -> None:
    settings = GatewaySettings(limit_messages_per_address=Rate(1, 60))
    client, publisher = _client(settings)
    other_secret = GatewaySettings(secret_key=SecretStr("another-" + "x" * 40))
    for token in ("not.a.token", agent_token(settings, ANN)[0], visitor_token(other_secret, VERA)):
        _refused(client.post(VISITOR_POST, json={"text": "hi"}, headers=_bearer(token)), 401)
    # The address's one message a minute is still there for a real visitor, and the limit holds.
    vera = _bearer(visitor_token(settings, VERA))
    assert client.post(VISITOR_POST, json={"text": "hi"}, headers=vera).status_code == 201
    assert "too fast" in _refused(client.post(VISITOR_POST, json={"text": "hi"}, headers=vera), 429)
    assert len(publisher.appended) == 1


def test_a_request_id_is_stamped_on_the_events_and_an_overlong_one_is_refused() -> None:
    client, publisher = _client(visitor=VERA)
    assert client.post(VISITOR_POST, json={"text": "hi"}, headers={"X-Request-ID": "r-1"}).status_code == 201
    assert publisher.request_ids == ["r-1"]
    refused = client.post(VISITOR_POST, json={"text": "hi"}, headers={"X-Request-ID": "r" * 101})
    assert "x-request-id" in _refused(refused, 422)
    assert len(publisher.appended) == 1


def test_an_agent_reply_needs_a_live_session_and_a_conversation_of_the_agent_team() -> None:
    client, publisher = _client(agent=ANN)
    assert client.post(REPLY, json={"text": "hello"}).status_code == 201
    assert "not found" in _refused(
        client.post("/api/agent/conversations/theirs/messages", json={"text": "x"}), 404
    )
    _refused(client.post("/api/agent/conversations/nope/messages", json={"text": "x"}), 404)
    visitor = _bearer(visitor_token(SETTINGS, VERA))
    _refused(client.post(REPLY, json={"text": "x"}, headers=visitor), 401)
    assert len(publisher.appended) == 1

    deactivated = CredentialRecord()
    deactivated.load_deactivated([{"_id": "ann", "deactivated": True}])
    client, publisher = _client(record=deactivated, agent=ANN)
    assert "sign in again" in _refused(client.post(REPLY, json={"text": "hello"}), 401)
    assert publisher.appended == []


def test_an_agent_reply_from_a_signed_out_or_revoked_session_is_refused_at_once() -> None:
    record = CredentialRecord()
    client, publisher = _client(record=record)
    signed_out, expires = agent_token(SETTINGS, ANN, session_id="signed-out")
    other_session, _ = agent_token(SETTINGS, ANN, session_id="still-signed-in")
    record.load_sessions([{"_id": "ann", "sessions": {"ended": {"signed-out": expires.timestamp()}}}])
    refused = client.post(REPLY, json={"text": "hello"}, headers=_bearer(signed_out))
    assert "sign in again" in _refused(refused, 401)
    assert publisher.appended == []
    # Signing out ends that session only; the agent's other sessions still reply.
    assert client.post(REPLY, json={"text": "hello"}, headers=_bearer(other_session)).status_code == 201

    # Signed out everywhere: every token issued before the revocation is refused, before its expiry.
    record.load_sessions([{"_id": "ann", "sessions": {"revoked_before": expires.timestamp()}}])
    refused = client.post(REPLY, json={"text": "hello"}, headers=_bearer(other_session))
    assert "sign in again" in _refused(refused, 401)
    assert len(publisher.appended) == 1


def test_a_chat_starts_only_from_the_team_site_and_within_the_address_limit() -> None:
    settings = GatewaySettings(
        widget_allowed_origins={"default": ("https://shop.example",)},
        limit_conversation_starts_per_address=Rate(1, 600),
    )
    client, publisher = _client(settings)
    start = "/api/visitor/conversations"
    _refused(client.post(start, json={"name": "Vera"}, headers={"Origin": "https://evil.example"}), 403)
    shop = {"Origin": "https://shop.example"}
    assert client.post(start, json={"name": "Vera"}, headers=shop).status_code == 201
    assert "Too many chats" in _refused(client.post(start, json={"name": "Vera"}, headers=shop), 429)
    assert [e.type for e in publisher.appended] == ["conversation.started"]


def test_a_visitor_reads_only_their_conversation_and_may_wait_for_its_positions_only() -> None:
    client, _ = _client(visitor=VERA)
    assert client.get("/api/visitor/conversation").json()["status"] == "open"
    others = client.get("/api/visitor/conversation", params={"min_position": "theirs:3"})
    assert "your own conversation only" in _refused(others, 400)
    _refused(client.get("/api/visitor/conversation", params={"min_position": "c1"}), 400)
    anonymous, _ = _client()
    _refused(anonymous.get("/api/visitor/conversation"), 401)
