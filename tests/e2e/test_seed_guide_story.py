"""The seed guide's whole story over HTTP, every service its own process, real Kafka and MongoDB-wire.

A visitor writes while nobody is available (queued); an agent sees it in Monitor, joins and replies with
text, emoji, an image and a canned response; tags it; writes a note the visitor never reads; adds a
teammate and leaves so the teammate takes over; a supervisor reassigns; it is closed with the X and found
in the history; two agents chat without a visitor, with notes but no files.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from tests.e2e.conftest import PASSWORD, Stack, eventually, json_of
from tests.processes import run_replay

pytestmark = pytest.mark.e2e

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture(scope="module")
def team(stack: Stack) -> dict[str, Any]:
    ids = stack.register_team()
    tokens = {name: stack.login(f"{name}@example.com", PASSWORD) for name in ids}
    return {"ids": ids, "http": {name: stack.client(token) for name, token in tokens.items()}}


def _conversation(agent: httpx.Client, conversation_id: str) -> dict[str, Any]:
    result: dict[str, Any] = json_of(agent.get(f"/api/agent/conversations/{conversation_id}"))
    return result


def _assignee(agent: httpx.Client, conversation_id: str) -> str | None:
    assignee: dict[str, Any] | None = _conversation(agent, conversation_id)["assignee"]
    return assignee["id"] if assignee else None


def test_the_seed_guide_story(stack: Stack, team: dict[str, Any]) -> None:
    ann, bob, sam = team["http"]["ann"], team["http"]["bob"], team["http"]["sam"]
    ann_id, bob_id = team["ids"]["ann"], team["ids"]["bob"]

    # A visitor starts a chat while every agent is offline: it waits in the queue.
    started = json_of(
        httpx.post(
            f"{stack.base_url}/api/visitor/conversations",
            json={
                "name": "Vera Visitor",
                "email": "vera@example.org",
                "message": "Hello, my order never arrived",
                "page_url": "https://shop.example.org/orders/42",
            },
        ),
        201,
    )
    conversation_id, visitor = started["conversation_id"], stack.client(started["visitor_token"])

    def queued() -> None:
        mine = json_of(visitor.get("/api/visitor/conversation"))
        assert mine["assignment"] == "queued" and mine["queue_position"] == 1

    eventually(queued)

    # Ann sees it in Monitor, under "unassigned", with the sidebar's essentials.
    def in_monitor() -> dict[str, Any]:
        page = json_of(ann.get("/api/agent/monitor", params={"filter": "unassigned"}))
        assert page["counts"]["unassigned"] == 1
        [item] = page["items"]
        assert item["id"] == conversation_id
        return dict(item)

    item = eventually(in_monitor)
    assert (
        item["visitor"]["name"] == "Vera Visitor" and item["page_url"] == "https://shop.example.org/orders/42"
    )

    # Join to chat: the router assigns it to the agent who joined.
    json_of(ann.post(f"/api/agent/conversations/{conversation_id}/join"))
    eventually(lambda: _assert(_assignee(ann, conversation_id) == ann_id))
    assert json_of(ann.get("/api/agent/monitor", params={"filter": "mine"}))["counts"]["mine"] == 1

    # Reply with text, emoji, an image and a canned response.
    json_of(
        ann.post(f"/api/agent/conversations/{conversation_id}/messages", json={"text": "Let me check 👋😀"}),
        201,
    )
    upload = json_of(
        ann.post(
            f"/api/agent/conversations/{conversation_id}/attachments",
            files={"file": ("label.png", PNG, "image/png")},
        ),
        201,
    )
    json_of(
        ann.post(
            f"/api/agent/conversations/{conversation_id}/messages",
            json={"text": "Your shipping label", "attachment_ids": [upload["attachment_id"]]},
        ),
        201,
    )
    canned = json_of(
        ann.post(
            "/api/agent/canned-responses",
            json={"shortcut": "hello", "text": "Hi {visitor.name}, {agent.name} here."},
        ),
        201,
    )
    canned_id = canned["id"]

    def canned_reply() -> dict[str, Any]:
        return dict(
            json_of(
                ann.post(
                    f"/api/agent/conversations/{conversation_id}/messages",
                    json={"canned_response_id": canned_id},
                ),
                201,
            )
        )

    assert eventually(canned_reply)["text"] == "Hi Vera Visitor, Ann Agent here."

    # Tag it and leave an internal note.
    json_of(ann.post(f"/api/agent/conversations/{conversation_id}/tags", json={"tag": "shipping"}))
    json_of(
        ann.post(f"/api/agent/conversations/{conversation_id}/notes", json={"text": "VIP: refund if lost"}),
        201,
    )

    # The visitor reads every reply live, the emoji intact, the image downloadable; never the note.
    def visitor_sees_replies() -> list[dict[str, Any]]:
        lines = json_of(visitor.get("/api/visitor/conversation/messages"))["items"]
        texts = [line["text"] for line in lines if line["kind"] == "message"]
        assert texts[-3:] == ["Let me check 👋😀", "Your shipping label", "Hi Vera Visitor, Ann Agent here."]
        return list(lines)

    visitor_lines = eventually(visitor_sees_replies)
    assert all("VIP" not in str(line) for line in visitor_lines)
    assert all(line["kind"] != "note" for line in visitor_lines)
    # Each reply is signed with the agent's display name, and nothing else about the agent.
    replies = [
        line for line in visitor_lines if line["kind"] == "message" and line["author"]["kind"] == "agent"
    ]
    assert replies and all(line["author"] == {"kind": "agent", "name": "Ann Agent"} for line in replies)
    assert all("ann@example.com" not in str(line) for line in visitor_lines)
    image = visitor.get(f"/api/attachments/{upload['attachment_id']}")
    assert image.status_code == 200 and image.content == PNG and image.headers["content-type"] == "image/png"

    agent_lines = eventually(lambda: _with_note(ann, conversation_id))
    assert any(line["kind"] == "note" and line["internal"] for line in agent_lines)
    detail = _conversation(ann, conversation_id)
    assert detail["tags"] == ["shipping"] and detail["first_response_at"] is not None

    # Add Teammate (who is at work: available), then Leave: the teammate takes over.
    json_of(bob.put("/api/agent/me/status", json={"status": "available"}))
    json_of(ann.post(f"/api/agent/conversations/{conversation_id}/teammates", json={"agent_id": bob_id}))
    eventually(
        lambda: _assert(bob_id in [p["id"] for p in _conversation(ann, conversation_id)["participants"]])
    )
    json_of(ann.post(f"/api/agent/conversations/{conversation_id}/leave"))
    eventually(lambda: _assert(_assignee(bob, conversation_id) == bob_id))

    # Only a supervisor may take a conversation away from its assignee.
    refused = ann.post(f"/api/agent/conversations/{conversation_id}/reassign", json={"agent_id": ann_id})
    assert refused.status_code == 403 and "supervisor" in refused.json()["error"]["message"]
    json_of(sam.post(f"/api/agent/conversations/{conversation_id}/reassign", json={"agent_id": ann_id}))
    eventually(lambda: _assert(_assignee(sam, conversation_id) == ann_id))

    # The X closes it; a closed conversation can be neither tagged nor assigned.
    json_of(ann.post(f"/api/agent/conversations/{conversation_id}/close", json={"reason": "resolved"}))
    eventually(lambda: _assert(_conversation(ann, conversation_id)["status"] == "closed"))
    assert (
        ann.post(f"/api/agent/conversations/{conversation_id}/tags", json={"tag": "late"}).status_code == 409
    )
    assert (
        sam.post(
            f"/api/agent/conversations/{conversation_id}/reassign", json={"agent_id": bob_id}
        ).status_code
        == 409
    )

    # The visitor rates it; it shows in the closed history and search finds it.
    json_of(visitor.post("/api/visitor/conversation/rating", json={"score": 5, "comment": "Fast!"}), 201)

    def found(**params: Any) -> list[str]:
        return [item["id"] for item in json_of(ann.get("/api/agent/history", params=params))["items"]]

    eventually(lambda: _assert(found(q="never arrived") == [conversation_id]))
    assert found(tag="shipping") == [conversation_id]
    assert found(agent_id=bob_id) == [conversation_id]
    assert found(q="no such words anywhere") == []
    eventually(lambda: _assert(json_of(sam.get("/api/agent/reports"))["totals"]["csat_average"] == 5))
    assert ann.get("/api/agent/reports").status_code == 403


def test_available_agent_is_assigned_automatically_and_visitor_writing_reopens(
    stack: Stack, team: dict[str, Any]
) -> None:
    ann, bob = team["http"]["ann"], team["http"]["bob"]
    json_of(bob.put("/api/agent/me/status", json={"status": "available"}))
    json_of(ann.put("/api/agent/me/status", json={"status": "offline"}))
    eventually(lambda: _assert(json_of(bob.get("/api/agent/me"))["status"] == "available"))
    started = json_of(httpx.post(f"{stack.base_url}/api/visitor/conversations", json={"name": "Walt"}), 201)
    conversation_id, visitor = started["conversation_id"], stack.client(started["visitor_token"])
    eventually(lambda: _assert(_assignee(bob, conversation_id) == team["ids"]["bob"]))
    assert json_of(visitor.get("/api/visitor/conversation"))["agent"]["name"] == "Bob Agent"

    json_of(bob.post(f"/api/agent/conversations/{conversation_id}/close"))
    eventually(lambda: _assert(_conversation(ann, conversation_id)["status"] == "closed"))
    json_of(visitor.post("/api/visitor/conversation/messages", json={"text": "One more thing"}), 201)
    eventually(lambda: _assert(_conversation(ann, conversation_id)["status"] == "open"))


def test_agents_chat_without_a_visitor_with_notes_but_no_files(stack: Stack, team: dict[str, Any]) -> None:
    ann, bob = team["http"]["ann"], team["http"]["bob"]
    teammates = json_of(ann.get("/api/agent/agents", params={"q": "bob"}))["items"]
    assert [t["name"] for t in teammates] == ["Bob Agent"]
    direct = json_of(
        ann.post("/api/agent/direct-conversations", json={"agent_ids": [teammates[0]["id"]]}), 201
    )
    conversation_id = direct["conversation_id"]
    eventually(
        lambda: _assert(conversation_id in [c["id"] for c in json_of(bob.get("/api/agent/chats"))["items"]])
    )

    json_of(ann.post(f"/api/agent/conversations/{conversation_id}/messages", json={"text": "Lunch?"}), 201)
    json_of(
        bob.post(f"/api/agent/conversations/{conversation_id}/notes", json={"text": "remember the tickets"}),
        201,
    )
    refused = ann.post(
        f"/api/agent/conversations/{conversation_id}/attachments", files={"file": ("a.png", PNG, "image/png")}
    )
    assert refused.status_code == 415
    assert "agent-to-agent" in refused.json()["error"]["message"]

    def transcript() -> list[str]:
        lines = json_of(bob.get(f"/api/agent/conversations/{conversation_id}/messages"))["items"]
        kinds = [line["kind"] for line in lines if line["kind"] != "activity"]
        assert kinds == ["message", "note"]
        return kinds

    eventually(transcript)


def _with_note(agent: httpx.Client, conversation_id: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = json_of(agent.get(f"/api/agent/conversations/{conversation_id}/messages"))[
        "items"
    ]
    assert any(line["kind"] == "note" for line in lines)
    return lines


def _assert(condition: bool) -> None:
    assert condition


REBUILT_VIEWS = (
    "conversations",
    "agents",
    "agent_credentials",
    "canned_responses",
    "history_messages",
    "history_conversations",
)


def test_replaying_the_topics_after_the_story_rebuilds_views_equal_to_the_live_ones(stack: Stack) -> None:
    """Runs last in this module, so the views hold everything the story above produced."""
    client: MongoClient[dict[str, Any]] = MongoClient(stack.env["PARLEY_MONGODB_URI"], tz_aware=True)
    db = client[stack.env["PARLEY_MONGODB_DATABASE"]]

    def documents(name: str) -> list[dict[str, Any]]:
        return sorted(db[name].find({}), key=lambda doc: str(doc["_id"]))

    def rebuilt_equals_live() -> None:
        completed = run_replay("services.cli", "rebuild_", stack.env, timeout=120)
        assert completed.returncode == 0, completed.stderr[-2000:]
        assert "events" in completed.stderr  # the progress bar
        for name in REBUILT_VIEWS:
            live, rebuilt = documents(name), documents(f"rebuild_{name}")
            assert live, f"{name} is empty: the story should have filled it"
            assert rebuilt == live, f"{name}: the rebuilt view differs from the live one"

    try:
        # The live projections may still be applying the story's last events.
        eventually(rebuilt_equals_live, timeout=60, interval=2)
    finally:
        client.close()
