"""The team's own command rules: signing in, profile, canned responses, departments."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.gateway import team_commands
from services.gateway.auth import AgentPrincipal
from services.gateway.errors import ApiError, Conflict, Forbidden, NotFound
from services.gateway.schemas import ConfigureDepartment

ANN = AgentPrincipal(agent_id="ann", tenant="acme", role="agent")
BOB = AgentPrincipal(agent_id="bob", tenant="acme", role="agent")
SAM = AgentPrincipal(agent_id="sam", tenant="acme", role="supervisor")
ANN_VIEW = {"_id": "ann", "tenant": "acme", "name": "Ann"}
GREETING = {"_id": "cr1", "tenant": "acme", "shortcut": "hi", "text": "Hello!", "created_by": "ann"}
THANKS = {"_id": "cr2", "tenant": "acme", "shortcut": "thanks", "text": "Thank you!", "created_by": "bob"}


def test_a_new_agent_signing_in_becomes_available_and_a_chosen_status_is_kept() -> None:
    agent = {"_id": "ann", "tenant": "acme", "status": "offline", "status_chosen": False}
    first = team_commands.status_on_sign_in(me=agent)
    assert first is not None
    assert (first.aggregate_id, first.payload.status, first.actor.id) == ("ann", "available", "ann")
    assert team_commands.status_on_sign_in(me={**agent, "status_chosen": True}) is None
    # Views written before the flag existed belong to agents who have been around: leave them be.
    legacy = {k: v for k, v in agent.items() if k != "status_chosen"}
    assert team_commands.status_on_sign_in(me=legacy) is None


def test_a_profile_update_must_change_something() -> None:
    with pytest.raises(Conflict, match="nothing to change"):
        team_commands.update_profile(me=ANN_VIEW, changes={})
    event = team_commands.update_profile(me=ANN_VIEW, changes={"max_concurrent_chats": 3})
    assert (event.aggregate_id, event.actor.id, event.payload.max_concurrent_chats) == ("ann", "ann", 3)


def test_a_shortcut_names_one_canned_response() -> None:
    with pytest.raises(Conflict, match="/hi is already used"):
        team_commands.create_canned_response(
            agent=BOB, shortcut="hi", text="Hey", existing=[GREETING, THANKS]
        )
    created = team_commands.create_canned_response(
        agent=BOB, shortcut="bye", text="Bye!", existing=[GREETING, THANKS]
    )
    assert (created.actor.id, created.payload.shortcut, created.payload.text) == ("bob", "bye", "Bye!")
    # Keeping its own shortcut is no clash; taking another's is.
    kept = team_commands.update_canned_response(
        agent=ANN,
        response=GREETING,
        shortcut="hi",
        text="Hello there!",
        existing=[GREETING, THANKS],
    )
    assert (kept.aggregate_id, kept.payload.text) == ("cr1", "Hello there!")
    with pytest.raises(Conflict, match="/thanks is already used"):
        team_commands.update_canned_response(
            agent=ANN,
            response=GREETING,
            shortcut="thanks",
            text="x",
            existing=[GREETING, THANKS],
        )


def test_only_its_author_or_a_supervisor_changes_a_canned_response() -> None:
    with pytest.raises(Forbidden, match="author or a supervisor"):
        team_commands.update_canned_response(
            agent=BOB, response=GREETING, shortcut="hi", text="x", existing=[GREETING]
        )
    with pytest.raises(Forbidden, match="author or a supervisor"):
        team_commands.delete_canned_response(agent=BOB, response=GREETING)
    assert team_commands.delete_canned_response(agent=ANN, response=GREETING)
    deleted = team_commands.delete_canned_response(agent=SAM, response=GREETING)
    assert (deleted.aggregate_id, deleted.actor.id) == ("cr1", "sam")


def _configure(agent: AgentPrincipal, config: dict[str, Any], **views: Any) -> Any:
    return team_commands.configure_department(
        agent=agent,
        department_id="sales",
        config=ConfigureDepartment.model_validate(config),
        members_found=views.get("members_found", {}),
        fallback=views.get("fallback"),
    )


def test_only_supervisors_configure_departments() -> None:
    with pytest.raises(Forbidden, match="supervisors"):
        _configure(ANN, {"name": "Sales"})
    event = _configure(
        SAM, {"name": "Sales", "members": ["ann", "bob", "ann"]}, members_found={"ann": {}, "bob": {}}
    )
    assert (event.aggregate_id, event.payload.members, event.payload.strategy) == (
        "sales",
        ["ann", "bob"],
        "least_busy",
    )


def test_a_department_names_members_and_a_fallback_that_exist() -> None:
    with pytest.raises(NotFound, match="agents not found: zed"):
        _configure(SAM, {"name": "Sales", "members": ["ann", "zed"]}, members_found={"ann": {}})
    with pytest.raises(ApiError, match="cannot fall back to itself") as itself:
        _configure(SAM, {"name": "Sales", "fallback": "sales"}, fallback={"_id": "sales"})
    assert itself.value.status_code == 400
    with pytest.raises(NotFound, match="fallback department support not found"):
        _configure(SAM, {"name": "Sales", "fallback": "support"}, fallback=None)
    event = _configure(SAM, {"name": "Sales", "fallback": "support"}, fallback={"_id": "support"})
    assert event.payload.fallback == "support"


def test_a_department_carries_its_business_hours_into_the_event() -> None:
    hours = {
        "timezone": "Europe/Paris",
        "weekly": [{"day": "mon", "open": "09:00", "close": "17:00"}],
        "holidays": ["2026-12-25"],
        "offline_text": "Back on Monday",
        "offline_form_when_unavailable": True,
    }
    event = _configure(SAM, {"name": "Sales", "hours": hours})
    assert event.payload.hours is not None
    assert event.payload.hours.model_dump(mode="json") == hours
    assert _configure(SAM, {"name": "Sales"}).payload.hours is None
    with pytest.raises(ValidationError, match="unknown time zone"):
        ConfigureDepartment.model_validate({"name": "Sales", "hours": {"timezone": "Europe/Atlantis"}})
