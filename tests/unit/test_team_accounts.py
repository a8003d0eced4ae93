"""A supervisor managing the team's accounts: the pure rules (invite, one-time links, role, chat limit,
deactivation), the views' folds of their events, and what one gateway instance remembers of them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.conversation.domain import apply_agent, apply_credentials
from services.gateway import team_commands
from services.gateway.auth import AgentPrincipal
from services.gateway.credential_record import CredentialRecord
from services.gateway.errors import Conflict, Forbidden, Gone, NotFound
from services.gateway.schemas import InviteAgent
from services.mailer.domain import PASSWORD_LINKS, PendingEmails, render_password_link
from shared.events import EventBase
from shared.events import agent as agent_events
from shared.events import department as department_events
from shared.password_links import hash_link_token, link_key, link_token

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SAM = AgentPrincipal(agent_id="sam", tenant="acme", role="supervisor")
ANN = AgentPrincipal(agent_id="ann", tenant="acme", role="agent")
SAM_VIEW = {"_id": "sam", "tenant": "acme", "name": "Sam", "email": "sam@acme.test", "role": "supervisor"}
ANN_VIEW = {"_id": "ann", "tenant": "acme", "name": "Ann", "email": "ann@acme.test", "role": "agent"}
SIGNED_UP = {"password_hash": "$argon2id$x"}  # a credentials view with a password
TEAM = [(SAM_VIEW, SIGNED_UP), (ANN_VIEW, SIGNED_UP)]
SALES = {"_id": "sales", "tenant": "acme", "name": "Sales", "members": ["ann"], "strategy": "round_robin"}
LINK = team_commands.NewLink("link-1", hash_link_token("t" * 43), NOW + timedelta(hours=72))
CAT = InviteAgent(
    name="Cat", email="Cat@Acme.test", role="agent", max_concurrent_chats=2, departments=["sales"]
)


def _invite(**overrides: Any) -> list[EventBase]:
    args: dict[str, Any] = {
        "agent": SAM,
        "invitation": CAT,
        "email_in_use": False,
        "departments_found": {"sales": SALES},
        "link": LINK,
    }
    return team_commands.invite_agent(**{**args, **overrides})


def test_an_invitation_is_the_account_its_departments_and_a_one_time_link_kept_as_a_hash() -> None:
    invited, joined, link = _invite()
    assert isinstance(invited, agent_events.AgentInvited) and isinstance(
        joined, department_events.DepartmentConfigured
    )
    assert isinstance(link, agent_events.AgentPasswordLinkIssued)
    cat = team_commands.agent_id_for("acme", "cat@acme.test")
    assert (invited.aggregate_id, invited.actor.id, invited.payload.email) == (cat, "sam", "cat@acme.test")
    assert invited.payload.max_concurrent_chats == 2
    # The department keeps its configuration, with Cat added at the end of its members.
    assert (joined.aggregate_id, joined.payload.members, joined.payload.strategy) == (
        "sales",
        ["ann", cat],
        "round_robin",
    )
    assert (link.aggregate_id, link.payload.purpose, link.payload.token_hash) == (
        cat,
        "invite",
        LINK.token_hash,
    )
    assert "t" * 43 not in link.model_dump_json()


def test_only_supervisors_invite_a_new_email_into_departments_that_exist() -> None:
    with pytest.raises(Forbidden):
        _invite(agent=ANN)
    with pytest.raises(Conflict, match="already used by an account"):
        _invite(email_in_use=True)
    with pytest.raises(NotFound, match="departments not found: sales"):
        _invite(departments_found={})


def _link(agent_id: str = "cat", **fields: Any) -> dict[str, Any]:
    """The view of a password link for `agent_id` (an invitation unless told), issued at NOW for an hour."""
    return {
        "tenant": "acme",
        "agent_id": agent_id,
        "link_id": "link-1",
        "email": f"{agent_id}@acme.test",
        "purpose": "invite",
        "issued_at": NOW,
        "expires_at": NOW + timedelta(hours=1),
        "used_at": None,
        **fields,
    }


def _usable(link: dict[str, Any] | None, *, used: bool = False, now: datetime = NOW) -> Mapping[str, Any]:
    return team_commands.usable_password_link(link=link, used=used, account=None, deactivated=False, now=now)


def test_a_link_sets_the_password_once_and_only_before_it_expires() -> None:
    link = _usable(_link())
    event = team_commands.set_password_with_link(link=link, password_hash="$argon2id$x")[0]
    assert isinstance(event, agent_events.AgentPasswordSet)
    assert (event.aggregate_id, event.actor.id, event.payload.link_id) == ("cat", "cat", "link-1")
    with pytest.raises(NotFound, match="not valid"):
        _usable(None)
    with pytest.raises(Gone, match="already used"):
        _usable(_link(), used=True)
    with pytest.raises(Gone, match="already used"):
        _usable(_link(used_at=NOW))
    with pytest.raises(Gone, match="expired"):
        _usable(_link(), now=NOW + timedelta(hours=1))


def test_a_reset_link_for_an_account_with_a_password_and_none_for_a_deactivated_one() -> None:
    reset = team_commands.issue_password_link(agent=SAM, teammate=ANN_VIEW, has_password=True, link=LINK)
    again = team_commands.issue_password_link(agent=SAM, teammate=ANN_VIEW, has_password=False, link=LINK)
    assert (reset.payload.purpose, again.payload.purpose) == ("reset", "invite")
    with pytest.raises(Conflict, match="reactivate"):
        team_commands.issue_password_link(
            agent=SAM, teammate={**ANN_VIEW, "deactivated": True}, has_password=True, link=LINK
        )
    with pytest.raises(Forbidden):
        team_commands.issue_password_link(agent=ANN, teammate=ANN_VIEW, has_password=True, link=LINK)


def test_a_role_change_revokes_the_sessions_so_the_next_token_carries_it() -> None:
    changed, revoked = team_commands.change_role(
        agent=SAM, teammate=ANN_VIEW, role="supervisor", team=TEAM, has_password=True
    )
    assert isinstance(changed, agent_events.AgentRoleChanged) and changed.payload.role == "supervisor"
    assert isinstance(revoked, agent_events.AgentSessionsRevoked) and revoked.payload.reason == "role_changed"
    with pytest.raises(Conflict, match="already an agent"):
        team_commands.change_role(agent=SAM, teammate=ANN_VIEW, role="agent", team=TEAM, has_password=True)
    with pytest.raises(Forbidden):
        team_commands.change_role(
            agent=ANN, teammate=ANN_VIEW, role="supervisor", team=TEAM, has_password=True
        )


def test_the_team_always_keeps_an_active_supervisor() -> None:
    with pytest.raises(Conflict, match="without an active supervisor"):
        team_commands.change_role(agent=SAM, teammate=SAM_VIEW, role="agent", team=TEAM, has_password=True)
    with pytest.raises(Conflict, match="without an active supervisor"):
        team_commands.deactivate_agent(agent=SAM, teammate=SAM_VIEW, team=TEAM, has_password=True)
    # A deactivated supervisor does not count; a second active one does.
    ben = {**SAM_VIEW, "_id": "ben", "name": "Ben"}
    with pytest.raises(Conflict):
        team_commands.deactivate_agent(
            agent=SAM,
            teammate=SAM_VIEW,
            team=[*TEAM, ({**ben, "deactivated": True}, SIGNED_UP)],
            has_password=True,
        )
    events = team_commands.deactivate_agent(
        agent=SAM, teammate=SAM_VIEW, team=[*TEAM, (ben, SIGNED_UP)], has_password=True
    )
    assert [e.type for e in events] == ["agent.deactivated", "agent.sessions_revoked"]


def test_deactivation_revokes_every_session_and_reactivation_undoes_it() -> None:
    deactivated, revoked = team_commands.deactivate_agent(
        agent=SAM, teammate=ANN_VIEW, team=TEAM, has_password=True
    )
    assert isinstance(deactivated, agent_events.AgentDeactivated) and deactivated.aggregate_id == "ann"
    assert isinstance(revoked, agent_events.AgentSessionsRevoked) and revoked.payload.reason == "deactivated"
    # An invited account without a password has no sessions (nor credentials to fold a revocation into).
    alone = team_commands.deactivate_agent(agent=SAM, teammate=ANN_VIEW, team=TEAM, has_password=False)
    assert [e.type for e in alone] == ["agent.deactivated"]
    with pytest.raises(Conflict, match="already deactivated"):
        team_commands.deactivate_agent(
            agent=SAM, teammate={**ANN_VIEW, "deactivated": True}, team=TEAM, has_password=True
        )
    with pytest.raises(Forbidden):
        team_commands.deactivate_agent(agent=ANN, teammate=SAM_VIEW, team=TEAM, has_password=True)
    back = team_commands.reactivate_agent(agent=SAM, teammate={**ANN_VIEW, "deactivated": True})
    assert isinstance(back, agent_events.AgentReactivated)
    with pytest.raises(Conflict, match="not deactivated"):
        team_commands.reactivate_agent(agent=SAM, teammate=ANN_VIEW)


def test_an_agent_lowers_their_own_chat_limit_but_never_raises_it_past_the_supervisors() -> None:
    ann = {**ANN_VIEW, "max_concurrent_chats": 3, "max_chats_set_by_team": 3}
    assert (
        team_commands.update_profile(me=ann, changes={"max_concurrent_chats": 2}).payload.max_concurrent_chats
        == 2
    )
    assert team_commands.update_profile(me=ann, changes={"max_concurrent_chats": 3}) is not None
    with pytest.raises(Forbidden, match="at most 3"):
        team_commands.update_profile(me=ann, changes={"max_concurrent_chats": 4})
    # With no limit of their own, the department's default (else the team's) is the ceiling.
    unset = {**ANN_VIEW, "max_concurrent_chats": None, "max_chats_set_by_team": None}
    with pytest.raises(Forbidden, match="at most 4"):
        team_commands.update_profile(
            me=unset, changes={"max_concurrent_chats": 5}, departments=[{**SALES, "default_max_chats": 4}]
        )
    # Supervisors set their own, as they set anyone's.
    sam = {**SAM_VIEW, "max_concurrent_chats": 3, "max_chats_set_by_team": 3}
    assert team_commands.update_profile(me=sam, changes={"max_concurrent_chats": 9}) is not None
    limit = team_commands.set_chat_limit(agent=SAM, teammate=ANN_VIEW, max_chats=None)
    assert isinstance(limit, agent_events.AgentChatLimitSet) and limit.payload.max_concurrent_chats is None
    with pytest.raises(Forbidden):
        team_commands.set_chat_limit(agent=ANN, teammate=ANN_VIEW, max_chats=9)


def _fold(fold: Any, *events: EventBase) -> dict[str, Any]:
    view: dict[str, Any] | None = None
    for position, event in enumerate(events):
        view = fold(view, event, position)
    assert view is not None
    return view


def _at(event: EventBase, minutes: int) -> EventBase:
    return event.model_copy(update={"occurred_at": NOW + timedelta(minutes=minutes)})


def test_the_agent_view_shows_the_invitation_role_limit_and_deactivation() -> None:
    invited = _invite()[0]
    cat = invited.aggregate_id
    view = _fold(apply_agent, invited)
    assert (view["role"], view["max_chats_set_by_team"], view["invited_by"], view["deactivated"]) == (
        "agent",
        2,
        "sam",
        False,
    )
    teammate = {"_id": cat, "name": "Cat", "role": "agent"}
    role = team_commands.change_role(
        agent=SAM, teammate=teammate, role="supervisor", team=TEAM, has_password=False
    )
    limit = team_commands.set_chat_limit(agent=SAM, teammate=teammate, max_chats=4)
    off = team_commands.deactivate_agent(agent=SAM, teammate=teammate, team=TEAM, has_password=False)
    view = _fold(apply_agent, invited, *role, limit, _at(off[0], 5))
    assert (view["role"], view["max_concurrent_chats"], view["max_chats_set_by_team"]) == ("supervisor", 4, 4)
    assert (view["deactivated"], view["status"], view["deactivated_at"]) == (
        True,
        "offline",
        NOW + timedelta(minutes=5),
    )
    back = team_commands.reactivate_agent(agent=SAM, teammate={**teammate, "deactivated": True})
    view = _fold(apply_agent, invited, *off, back)
    assert (view["deactivated"], view["status_chosen"]) == (False, False)  # available on the next sign-in


def test_the_credentials_view_holds_only_the_latest_link_and_marks_it_used() -> None:
    issued = _invite()[2]
    assert isinstance(issued, agent_events.AgentPasswordLinkIssued)
    view = _fold(apply_credentials, issued)
    # The email is taken (another team cannot invite it), but sign-in refuses an account with no password.
    assert view["email"] == "cat@acme.test" and "password_hash" not in view
    assert (view["link_token_hash"], view["password_link"]["used_at"]) == (LINK.token_hash, None)
    link = {**view["password_link"], "tenant": "acme", "agent_id": issued.aggregate_id}
    password = [
        _at(e, 3) for e in team_commands.set_password_with_link(link=link, password_hash="$argon2id$x")
    ]
    view = _fold(apply_credentials, issued, *password)
    assert (view["email"], view["password_hash"]) == ("cat@acme.test", "$argon2id$x")
    assert view["password_link"]["used_at"] == NOW + timedelta(minutes=3)


def _issued(agent_id: str, token: str, link_id: str) -> agent_events.AgentPasswordLinkIssued:
    link = team_commands.NewLink(link_id, hash_link_token(token), NOW + timedelta(hours=1))
    teammate = {"_id": agent_id, "name": agent_id, "email": f"{agent_id}@acme.test"}
    return team_commands.issue_password_link(agent=SAM, teammate=teammate, has_password=False, link=link)


def test_an_instance_knows_the_links_it_saw_before_the_view_does_and_forgets_replaced_ones() -> None:
    record = CredentialRecord()
    first = _issued("cat", "token-one", "l1")
    record.apply(first)
    found = record.password_link(hash_link_token("token-one"), None)
    assert found is not None and (found["agent_id"], found["link_id"]) == ("cat", "l1")
    record.apply(_issued("cat", "token-two", "l2"))
    # The view still shows the first link; this instance saw it replaced.
    in_view = {"_id": "cat", "tenant": "acme", "password_link": {"link_id": "l1", "token_hash": "x"}}
    assert record.password_link(hash_link_token("token-one"), in_view) is None
    # A link issued before the instance started is found in the view.
    dan_link = {"link_id": "l9", "token_hash": "y"}
    dan = {"_id": "dan", "tenant": "acme", "password_link": dan_link}
    assert record.password_link("y", dan) == {**dan_link, "tenant": "acme", "agent_id": "dan"}
    used = agent_events.AgentPasswordSet.model_validate(
        {
            **first.model_dump(),
            "type": "agent.password_set",
            "payload": {"email": "c@a.t", "password_hash": "h", "link_id": "l2"},
        }
    )
    record.apply(used)
    assert record.link_used("l2") and not record.link_used("l1")


def test_an_instance_refuses_every_token_of_a_deactivated_account_until_it_is_reactivated() -> None:
    record = CredentialRecord()
    record.load_deactivated([{"_id": "old", "deactivated": True}])
    assert record.is_revoked("old", "any-session", issued_at=NOW.timestamp() + 3600)
    off = team_commands.deactivate_agent(agent=SAM, teammate=ANN_VIEW, team=TEAM, has_password=False)[0]
    record.apply(off)
    assert record.is_revoked("ann", "s1", issued_at=NOW.timestamp() + 3600)
    assert record.is_deactivated("ann", {"deactivated": False})  # what it saw beats a lagging view
    record.apply(team_commands.reactivate_agent(agent=SAM, teammate={**ANN_VIEW, "deactivated": True}))
    assert not record.is_revoked("ann", "s1", issued_at=NOW.timestamp() + 3600)
    assert record.is_deactivated("bob", {"deactivated": True}) and not record.is_deactivated("bob", None)


def test_the_mailer_derives_the_token_the_supervisor_was_shown_and_keeps_the_email_pending_until_sent() -> (
    None
):
    token = link_token(link_key("k" * 40), "link-1")
    assert token != link_token(link_key("k" * 40), "link-2")
    assert token != link_token(link_key("j" * 40), "link-1")
    issued = _issued("cat", token, "link-1")
    assert issued.payload.token_hash == hash_link_token(token)
    pending = PendingEmails(PASSWORD_LINKS)
    pending.apply(issued, 7)
    (email,) = pending.ready(NOW)
    assert (email.request_id, email.aggregate_id, email.recipient, email.offset) == (
        "link-1",
        "cat",
        "cat@acme.test",
        7,
    )
    failed = agent_events.AgentPasswordLinkEmailFailed.model_validate(
        {
            "tenant": "acme",
            "aggregate_id": "cat",
            "actor": {"kind": "system", "id": "mailer"},
            "payload": {
                "link_id": "link-1",
                "recipient": "cat@acme.test",
                "attempt": 1,
                "reason": "451 busy",
                "next_attempt_at": NOW + timedelta(minutes=1),
            },
        }
    )
    pending.apply(failed, 8)
    assert [(p.attempt, p.offset) for p in pending.all()] == [(2, 8)] and pending.ready(NOW) == []
    view = _fold(apply_credentials, issued, failed)
    assert view["password_link"]["emailed"] == {
        "status": "retrying",
        "recipient": "cat@acme.test",
        "attempt": 1,
        "reason": "451 busy",
    }


def test_the_link_email_escapes_the_name_in_its_html() -> None:
    rendered = render_password_link(
        name="Cat <script>", url="https://x.test/set-password#token=abc", purpose="invite", expires_at=NOW
    )
    assert "Cat &lt;script&gt;" in rendered.html and "<script>" not in rendered.html
    assert "https://x.test/set-password#token=abc" in rendered.text
    reset = render_password_link(name="Cat", url="https://x.test/p", purpose="reset", expires_at=NOW)
    assert reset.subject == "Set a new Parley password"
