"""The WebSocket endpoints in-process: a refused token closes with its reason; heartbeats and typing go out
through the publisher."""

from __future__ import annotations

import pytest
from aiokafka.structs import ConsumerRecord
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.websockets import WebSocketDisconnect

from services.gateway.auth import AgentPrincipal, VisitorPrincipal, agent_token, visitor_token
from services.gateway.config import GatewaySettings
from services.gateway.live_hub import LiveHub
from shared.events import conversation as conversation_events
from shared.events import serialize
from shared.topics import CONVERSATION_EVENTS_TOPIC
from tests.unit.gateway_fakes import FakePublisher, fake_views, gateway

SETTINGS = GatewaySettings(secret_key=SecretStr("s" * 40))
ANN = AgentPrincipal(agent_id="ann", tenant="acme", role="agent")
VERA = VisitorPrincipal(conversation_id="c1", visitor_id="v1", tenant="acme")
ANN_ACTOR = {"kind": "agent", "id": "ann"}
VERA_ACTOR = {"kind": "visitor", "id": "v1"}


def client(publisher: FakePublisher) -> TestClient:
    return gateway(fake_views(), publisher, settings=SETTINGS)


def test_a_refused_token_closes_the_socket_with_the_reason() -> None:
    with client(FakePublisher()).websocket_connect("/ws/agent?token=nonsense") as socket:
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert (closed.value.code, closed.value.reason) == (1008, "token invalid")


def test_a_visitor_token_does_not_open_the_agent_socket() -> None:
    token = visitor_token(SETTINGS, VERA)
    with client(FakePublisher()).websocket_connect(f"/ws/agent?token={token}") as socket:
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.reason == "not a agent token"


def test_agent_heartbeats_and_typing_go_out_through_the_publisher() -> None:
    publisher = FakePublisher()
    token, _ = agent_token(SETTINGS, ANN)
    with client(publisher).websocket_connect(f"/ws/agent?token={token}") as socket:
        assert socket.receive_json() == {"kind": "ready"}
        socket.send_json({"type": "heartbeat", "status": "away"})
        socket.send_json({"type": "typing", "conversation_id": "c1", "typing": True, "mode": "note"})
        socket.send_json({"type": "dance"})
        assert socket.receive_json() == {
            "kind": "error",
            "message": "bad message: unknown message type 'dance'",
        }
    [beat] = publisher.heartbeats
    assert (beat.aggregate_id, beat.tenant, beat.payload.status) == ("ann", "acme", "away")
    assert publisher.typing_signals == [
        {"tenant": "acme", "conversation_id": "c1", "typing": True, "mode": "note", "sender": ANN_ACTOR}
    ]


def test_a_visitor_types_only_in_their_own_conversation() -> None:
    publisher = FakePublisher()
    token = visitor_token(SETTINGS, VERA)
    with client(publisher).websocket_connect(f"/ws/visitor?token={token}") as socket:
        assert socket.receive_json() == {"kind": "ready"}
        socket.send_json({"type": "typing", "typing": True, "conversation_id": "someone-elses"})
        socket.send_json({"type": "heartbeat"})
        assert socket.receive_json()["kind"] == "error"
    assert publisher.typing_signals == [
        {"tenant": "acme", "conversation_id": "c1", "typing": True, "mode": "message", "sender": VERA_ACTOR}
    ]


def test_a_visitor_socket_names_the_latest_event_of_its_chat_that_it_joined_too_late_to_be_pushed() -> None:
    """The router queued the chat while the widget was still connecting: its first read must wait for a view
    with that decision, or the visitor is never told their place in line."""
    hub = LiveHub(SETTINGS)
    queued = conversation_events.AssignmentDecided(
        tenant="acme",
        aggregate_id="c1",
        actor={"kind": "system", "id": "routing"},
        payload={"outcome": "queued", "reason": "no_agent_available", "queue_position": 1},
    )
    topic = CONVERSATION_EVENTS_TOPIC.name(SETTINGS.topic_prefix)
    hub._dispatch(ConsumerRecord(topic, 0, 41, 0, 0, None, serialize(queued), None, 0, 0, []))
    app = gateway(fake_views(), FakePublisher(), settings=SETTINGS, hub=hub)
    with app.websocket_connect(f"/ws/visitor?token={visitor_token(SETTINGS, VERA)}") as socket:
        assert socket.receive_json() == {"kind": "ready", "position": 41}
    someone_else = VisitorPrincipal(conversation_id="c2", visitor_id="v2", tenant="acme")
    with app.websocket_connect(f"/ws/visitor?token={visitor_token(SETTINGS, someone_else)}") as socket:
        assert socket.receive_json() == {"kind": "ready"}
