"""The gateway's command rules, as a support team would notice them."""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway import commands
from services.gateway.auth import AgentPrincipal, VisitorPrincipal, hash_password, verify_password
from services.gateway.errors import Conflict, Forbidden, UnsupportedMediaType
from shared.events.conversation import AttachmentRef, ConversationReopened, MessagePosted

ANN = AgentPrincipal(agent_id="ann", tenant="acme", role="agent")
BOB = AgentPrincipal(agent_id="bob", tenant="acme", role="agent")
SAM = AgentPrincipal(agent_id="sam", tenant="acme", role="supervisor")
VERA = VisitorPrincipal(conversation_id="c1", visitor_id="v1", tenant="acme")
FILE = AttachmentRef(attachment_id="f1", filename="a.png", content_type="image/png", size=10)


def conversation(**overrides: Any) -> dict[str, Any]:
    return {
        "_id": "c1",
        "tenant": "acme",
        "kind": "visitor",
        "status": "open",
        "assignment": "assigned",
        "assignee_id": "ann",
        "participants": ["ann"],
        "tags": [],
        "visitor": {"name": "Vera", "email": None},
        "rating": None,
        **overrides,
    }


def test_a_visitor_writing_to_a_closed_conversation_reopens_it() -> None:
    events = commands.visitor_message(
        conversation=conversation(status="closed"),
        visitor=VERA,
        text="one more thing",
        attachments=[],
        correlation_id=None,
    )
    assert [type(e) for e in events] == [ConversationReopened, MessagePosted]


def test_closed_conversations_cannot_be_tagged_or_assigned() -> None:
    closed = conversation(status="closed")
    with pytest.raises(Conflict, match="closed"):
        commands.add_tag(conversation=closed, agent=ANN, tag="late", correlation_id=None)
    with pytest.raises(Conflict, match="closed"):
        commands.reassign(
            conversation=closed,
            agent=SAM,
            target={"_id": "bob", "name": "Bob"},
            target_at_capacity=False,
            correlation_id=None,
        )


def test_only_supervisors_take_a_conversation_from_its_assignee_or_force_capacity() -> None:
    bob = {"_id": "bob", "name": "Bob"}
    with pytest.raises(Forbidden, match="supervisor"):
        commands.reassign(
            conversation=conversation(), agent=BOB, target=bob, target_at_capacity=False, correlation_id=None
        )
    own = commands.reassign(
        conversation=conversation(), agent=ANN, target=bob, target_at_capacity=False, correlation_id=None
    )
    assert own.payload.agent_id == "bob"
    with pytest.raises(Conflict, match="chat limit"):
        commands.reassign(
            conversation=conversation(), agent=ANN, target=bob, target_at_capacity=True, correlation_id=None
        )
    forced = commands.reassign(
        conversation=conversation(), agent=SAM, target=bob, target_at_capacity=True, correlation_id=None
    )
    assert forced.payload.forced


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
            correlation_id=None,
        )
    note = commands.note(conversation=direct, agent=BOB, text="remember", correlation_id=None)
    assert note.payload.text == "remember"


def test_agents_join_before_answering() -> None:
    with pytest.raises(Forbidden, match="join"):
        commands.agent_message(
            conversation=conversation(),
            agent=BOB,
            text="hi",
            attachments=[],
            canned_response_id=None,
            correlation_id=None,
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


def test_a_new_agent_signing_in_becomes_available_and_a_chosen_status_is_kept() -> None:
    agent = {"_id": "ann", "tenant": "acme", "status": "offline", "status_chosen": False}
    first = commands.status_on_sign_in(agent=agent, correlation_id="req-1")
    assert first is not None
    assert (first.aggregate_id, first.payload.status, first.actor.id) == ("ann", "available", "ann")
    assert commands.status_on_sign_in(agent={**agent, "status_chosen": True}, correlation_id=None) is None
    # Views written before the flag existed belong to agents who have been around: leave them be.
    legacy = {k: v for k, v in agent.items() if k != "status_chosen"}
    assert commands.status_on_sign_in(agent=legacy, correlation_id=None) is None
