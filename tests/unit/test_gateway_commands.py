"""The gateway's command rules, as a support team would notice them."""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway import commands
from services.gateway.auth import AgentPrincipal, hash_password, verify_password
from services.gateway.errors import ApiError, Conflict, Forbidden, NotFound, UnsupportedMediaType
from shared.events import conversation as conversation_events
from tests.unit.gateway_fakes import ANN, BOB, SAM, VERA
from tests.unit.gateway_fakes import conversation_view as conversation

FILE = conversation_events.AttachmentRef(
    attachment_id="f1", filename="a.png", content_type="image/png", size=10
)


def test_a_visitor_writing_to_a_closed_conversation_reopens_it() -> None:
    events = commands.visitor_message(
        conversation=conversation(status="closed"),
        visitor=VERA,
        text="one more thing",
        attachments=[],
    )
    assert [type(e) for e in events] == [
        conversation_events.ConversationReopened,
        conversation_events.MessagePosted,
    ]


def test_closed_conversations_cannot_be_tagged_or_assigned() -> None:
    closed = conversation(status="closed")
    with pytest.raises(Conflict, match="closed"):
        commands.add_tag(conversation=closed, agent=ANN, tag="late")
    with pytest.raises(Conflict, match="closed"):
        to_bob(closed, SAM)


BOB_VIEW = {"_id": "bob", "name": "Bob", "max_concurrent_chats": 2}
BOB_FULL = {"bob": 2}


def to_bob(
    chat: dict[str, Any], agent: AgentPrincipal, open_chats: dict[str, int] | None = None
) -> conversation_events.ReassignmentRequested | None:
    """`agent` reassigns the chat to Bob (2 chats at most), no department involved."""
    return commands.reassign(
        conversation=chat, agent=agent, target=BOB_VIEW, open_chats=open_chats or {}, departments=[]
    )


def test_only_supervisors_take_a_conversation_from_its_assignee_or_force_capacity() -> None:
    with pytest.raises(Forbidden, match="supervisor"):
        to_bob(conversation(), BOB)
    own = to_bob(conversation(), ANN, {"bob": 1})
    assert own is not None and own.payload.agent_id == "bob" and not own.payload.forced
    with pytest.raises(Conflict, match="Bob is at their chat limit"):
        to_bob(conversation(), ANN, BOB_FULL)
    forced = to_bob(conversation(), SAM, BOB_FULL)
    assert forced is not None and forced.payload.forced


def test_reassigning_to_the_current_assignee_changes_nothing() -> None:
    # Not even a refusal: the conversation already is where the agent wants it.
    mine = conversation(assignee_id="bob", participants=["bob"])
    assert to_bob(mine, ANN, BOB_FULL) is None


def test_a_reassignment_counts_against_the_limit_the_router_applies() -> None:
    # Bob has no limit of his own: the conversation's department default (1) applies, not the team's 5.
    bob = {"_id": "bob", "name": "Bob", "max_concurrent_chats": None}
    sales = {"_id": "sales", "members": ["bob"], "default_max_chats": 1}
    with pytest.raises(Conflict, match="chat limit"):
        commands.reassign(
            conversation=conversation(department="sales"),
            agent=ANN,
            target=bob,
            open_chats={"bob": 1},
            departments=[sales],
        )
    unlimited_elsewhere = commands.reassign(
        conversation=conversation(department=None),
        agent=ANN,
        target=bob,
        open_chats={"bob": 1},
        departments=[{**sales, "members": []}],
    )
    assert unlimited_elsewhere is not None and not unlimited_elsewhere.payload.forced


def test_agent_to_agent_conversations_are_not_assigned() -> None:
    direct = conversation(kind="direct", assignment="unassigned", assignee_id=None)
    with pytest.raises(Conflict, match="not assigned"):
        to_bob(direct, SAM)


def test_a_direct_chat_holds_its_starter_once_and_named_teammates_of_the_team() -> None:
    team = {"bob": {"_id": "bob"}, "sam": {"_id": "sam"}}
    started = commands.start_direct(
        agent=ANN, agent_ids=["bob", "ann", "sam", "bob"], found=team, subject="lunch"
    )
    assert started.payload.participant_ids == ["ann", "bob", "sam"]
    assert (started.tenant, started.actor.id, started.payload.subject) == ("acme", "ann", "lunch")
    with pytest.raises(ApiError, match="other than yourself") as alone:
        commands.start_direct(agent=ANN, agent_ids=["ann"], found={}, subject=None)
    assert alone.value.status_code == 400
    with pytest.raises(NotFound, match="agents not found: zed"):
        commands.start_direct(agent=ANN, agent_ids=["bob", "zed"], found=team, subject=None)


def test_a_direct_chat_holds_at_most_twenty_agents() -> None:
    names = [f"a{i}" for i in range(commands.MAX_DIRECT_PARTICIPANTS)]
    team = {name: {"_id": name} for name in names}
    full = commands.start_direct(agent=ANN, agent_ids=names[:19], found=team, subject=None)
    assert len(full.payload.participant_ids) == 20
    with pytest.raises(Conflict, match="at most 20 agents"):
        commands.start_direct(agent=ANN, agent_ids=names, found=team, subject=None)


def test_agent_to_agent_conversations_refuse_files_but_take_notes() -> None:
    direct = conversation(
        kind="direct", participants=["ann", "bob"], assignment="unassigned", assignee_id=None
    )
    with pytest.raises(UnsupportedMediaType, match="agent-to-agent"):
        commands.agent_message(
            conversation=direct,
            agent=ANN,
            text="",
            attachments=[FILE],
            canned_response_id=None,
        )
    note = commands.note(conversation=direct, agent=BOB, text="remember")
    assert note.payload.text == "remember"


def test_agents_join_before_answering() -> None:
    with pytest.raises(Forbidden, match="join"):
        commands.agent_message(
            conversation=conversation(),
            agent=BOB,
            text="hi",
            attachments=[],
            canned_response_id=None,
        )


def test_canned_responses_fill_in_names_and_never_show_template_syntax() -> None:
    text = commands.render_canned_response(
        "Hi {visitor.name}, {agent.name} here. {visitor.unknown}",
        conversation=conversation(),
        agent={"name": "Ann"},
    )
    assert text == "Hi Vera, Ann here. "
    anonymous = commands.render_canned_response(
        "Hi {visitor.name}", conversation=conversation(visitor=None), agent={}
    )
    assert anonymous == "Hi there"


def test_passwords_are_hashed_and_verified() -> None:
    hashed = hash_password("correct horse")
    assert "correct horse" not in hashed and hashed.startswith("$argon2")
    assert verify_password(hashed, "correct horse") and not verify_password(hashed, "wrong")
