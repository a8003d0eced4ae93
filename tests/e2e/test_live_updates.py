"""Live updates over WebSocket: the agent sees the visitor write without reloading and the visitor sees the
reply, each pushed event carries its position, typing is relayed, and a note never reaches the visitor."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.e2e.conftest import Stack, eventually, json_of

pytestmark = pytest.mark.e2e


@contextmanager
def socket(stack: Stack, path: str, token: str) -> Iterator[ClientConnection]:
    url = stack.base_url.replace("http://", "ws://") + f"{path}?token={token}"
    with connect(url, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["kind"] == "ready"
        yield ws


def wait_for(
    ws: ClientConnection, match: Callable[[dict[str, Any]], bool], timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "expected message never arrived"
        message: dict[str, Any] = json.loads(ws.recv(timeout=remaining))
        if match(message):
            return message


def drain(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            seen.append(json.loads(ws.recv(timeout=remaining)))
        except TimeoutError:
            break
    return seen


def _type(message: dict[str, Any]) -> str | None:
    event = message.get("event") or {}
    return event.get("type")


def test_both_sides_see_each_other_live_and_the_visitor_never_sees_a_note(stack: Stack) -> None:
    stack.register("liv@example.com", "Liv Live")
    agent_token = stack.login("liv@example.com", "correct horse battery")
    agent = stack.client(agent_token)
    with socket(stack, "/ws/agent", agent_token) as agent_ws:
        started = json_of(
            httpx.post(f"{stack.base_url}/api/visitor/conversations", json={"name": "Wes"}), 201
        )
        conversation_id, visitor_token = started["conversation_id"], started["visitor_token"]
        visitor = stack.client(visitor_token)

        # Monitor learns of the new conversation without a reload.
        pushed = wait_for(agent_ws, lambda m: _type(m) == "conversation.started")
        assert pushed["event"]["aggregate_id"] == conversation_id and isinstance(pushed["position"], int)

        with socket(stack, "/ws/visitor", visitor_token) as visitor_ws:
            json_of(visitor.post("/api/visitor/conversation/messages", json={"text": "anyone there?"}), 201)
            seen = wait_for(agent_ws, lambda m: _type(m) == "conversation.message_posted")
            assert seen["event"]["payload"]["text"] == "anyone there?"

            eventually(lambda: json_of(agent.get(f"/api/agent/conversations/{conversation_id}")))
            json_of(agent.post(f"/api/agent/conversations/{conversation_id}/join"))
            agent_ws.send(
                json.dumps(
                    {"type": "typing", "conversation_id": conversation_id, "typing": True, "mode": "message"}
                )
            )
            typing = wait_for(visitor_ws, lambda m: m["kind"] == "typing")
            assert typing["typing"] is True and typing["sender"] == {"kind": "agent"}

            def reply() -> None:
                json_of(
                    agent.post(
                        f"/api/agent/conversations/{conversation_id}/messages", json={"text": "Yes, hi!"}
                    ),
                    201,
                )

            eventually(reply)
            json_of(
                agent.post(f"/api/agent/conversations/{conversation_id}/notes", json={"text": "TOP SECRET"}),
                201,
            )
            agent_ws.send(
                json.dumps(
                    {"type": "typing", "conversation_id": conversation_id, "typing": True, "mode": "note"}
                )
            )
            live_reply = wait_for(
                visitor_ws,
                lambda m: (
                    _type(m) == "conversation.message_posted" and m["event"]["author"]["kind"] == "agent"
                ),
            )
            assert live_reply["event"]["payload"]["text"] == "Yes, hi!"

            # The agent side gets the note; the visitor side gets nothing of it, nor of note typing.
            wait_for(agent_ws, lambda m: _type(m) == "conversation.note_added")
            later = drain(visitor_ws, 2.0)
            assert "TOP SECRET" not in json.dumps(later)
            assert all(_type(m) != "conversation.note_added" for m in later)
            assert all(m["kind"] != "typing" for m in later)

            # Positions let a reconnecting visitor fetch exactly what it missed.
            after = live_reply["position"]
            missed = json_of(visitor.get("/api/visitor/conversation/messages", params={"after": after}))[
                "items"
            ]
            assert all(line["position"] > after for line in missed)


def test_sockets_refuse_bad_tokens(stack: Stack) -> None:
    url = stack.base_url.replace("http://", "ws://")
    for path in ("/ws/agent", "/ws/visitor"):
        with connect(f"{url}{path}?token=forged", open_timeout=10) as ws:
            with pytest.raises(Exception) as closed:
                ws.recv(timeout=10)
            assert "1008" in str(closed.value)
