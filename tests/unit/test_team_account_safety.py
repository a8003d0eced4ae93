"""The team's accounts after the security review: a reset signs the account out, a deactivated account's
link is dead, the team keeps a supervisor who can sign in, a link is claimed once per instance, full
departments, one email per account across teams, status while deactivated, the derived link key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from services.conversation.domain import apply_agent, apply_credentials
from services.gateway import team_commands
from services.gateway.config import GatewaySettings
from services.gateway.credential_record import CredentialRecord
from services.gateway.errors import Conflict, Forbidden, Gone
from services.gateway.schemas import InviteAgent
from services.mailer.config import MailerSettings
from shared.events import EventBase
from shared.events import agent as agent_events
from shared.password_links import hash_link_token, link_key, link_token, link_voided
from tests.unit.test_team_accounts import ANN_VIEW, NOW, SAM, SAM_VIEW, SIGNED_UP, _at, _fold, _link


def _invited_ann() -> EventBase:
    return team_commands.invite_agent(
        agent=SAM,
        invitation=InviteAgent(name="Ann", email="ann@acme.test"),
        email_in_use=False,
        departments_found={},
        link=team_commands.NewLink("l1", "0" * 64, NOW + timedelta(hours=1)),
    )[0]


def _ann_reset(**fields: Any) -> dict[str, Any]:
    return _link("ann", purpose="reset", **fields)


def test_a_password_set_with_a_link_signs_the_account_out_everywhere_and_lifts_its_lock() -> None:
    events = team_commands.set_password_with_link(link=_ann_reset(), password_hash="$argon2id$new")
    password, revoked, reset = events
    assert isinstance(password, agent_events.AgentPasswordSet)
    assert (
        isinstance(revoked, agent_events.AgentSessionsRevoked) and revoked.payload.reason == "password_reset"
    )
    assert isinstance(reset, agent_events.AgentSignInReset) and reset.payload.reason == "password_reset"
    assert {e.aggregate_id for e in events} == {"ann"} and {e.actor.id for e in events} == {"ann"}
    # A session from before the reset (e.g. whoever knew the old password) stops working on this instance.
    record = CredentialRecord()
    for event in events:
        record.apply(_at(event, 10))
    before = (NOW + timedelta(minutes=5)).timestamp()
    assert record.is_revoked("ann", "old-session", issued_at=before)
    assert not record.is_revoked("ann", "new-session", issued_at=before + 600)
    # The view too: the lock is lifted and older tokens are refused.
    locked = agent_events.AgentSignInLocked.model_validate(
        {
            "tenant": "acme",
            "aggregate_id": "ann",
            "actor": {"kind": "system", "id": "gateway"},
            "payload": {"locked_until": NOW + timedelta(hours=1), "failures": 5, "lock_number": 1},
        }
    )
    view = _fold(apply_credentials, password, _at(locked, 1), *[_at(e, 10) for e in events])
    assert (view.get("sign_in") or {}).get("locked_until") is None
    assert view["sessions"]["revoked_before"] == (NOW + timedelta(minutes=10)).timestamp()


def _usable(link: dict[str, Any], account: dict[str, Any] | None, deactivated: bool = False) -> Any:
    return team_commands.usable_password_link(
        link=link, used=False, account=account, deactivated=deactivated, now=NOW
    )


def test_a_deactivated_accounts_link_answers_as_a_used_one_and_stays_dead_after_reactivation() -> None:
    with pytest.raises(Gone, match="already used"):
        _usable(_ann_reset(), {**ANN_VIEW, "deactivated": True})
    with pytest.raises(Gone, match="already used"):  # this instance saw the deactivation; the view lags
        _usable(_ann_reset(), ANN_VIEW, deactivated=True)
    # Reactivated since the link was issued: the old link does not come back to life; a new one works.
    reactivated = {**ANN_VIEW, "deactivated": False, "reactivated_at": NOW + timedelta(minutes=1)}
    with pytest.raises(Gone):
        _usable(_ann_reset(), reactivated)
    assert _usable(_ann_reset(issued_at=NOW + timedelta(minutes=2)), reactivated)["link_id"] == "link-1"
    # The mailer asks the same question before emailing a link.
    assert link_voided(_ann_reset(), {**ANN_VIEW, "deactivated": True}) and not link_voided(
        _ann_reset(), ANN_VIEW
    )


def test_the_agent_view_remembers_the_last_reactivation_for_the_links_issued_before_it() -> None:
    cat = {**ANN_VIEW, "deactivated": True}
    invited = _invited_ann()
    off = team_commands.deactivate_agent(
        agent=SAM, teammate=ANN_VIEW, team=[(SAM_VIEW, SIGNED_UP)], has_password=False
    )
    back = team_commands.reactivate_agent(agent=SAM, teammate=cat)
    view = _fold(apply_agent, invited, *off, _at(back, 3))
    assert view["reactivated_at"] == NOW + timedelta(minutes=3)


def test_an_invited_supervisor_without_a_password_does_not_keep_the_team_supervised() -> None:
    pending = {**SAM_VIEW, "_id": "zoe", "name": "Zoe"}
    team = [(SAM_VIEW, SIGNED_UP), (ANN_VIEW, SIGNED_UP), (pending, None)]
    with pytest.raises(Conflict, match="without an active supervisor"):
        team_commands.deactivate_agent(agent=SAM, teammate=SAM_VIEW, team=team, has_password=True)
    with pytest.raises(Conflict, match="without an active supervisor"):
        team_commands.change_role(agent=SAM, teammate=SAM_VIEW, role="agent", team=team, has_password=True)
    # Once Zoe set her password, Sam may step down.
    team = [*team[:2], (pending, SIGNED_UP)]
    assert team_commands.change_role(agent=SAM, teammate=SAM_VIEW, role="agent", team=team, has_password=True)


def test_an_instance_lets_one_request_at_a_time_use_a_link() -> None:
    record = CredentialRecord()
    assert record.claim_link("link-1") and record.link_used("link-1")
    assert not record.claim_link("link-1")  # a concurrent second request is refused
    record.release_link("link-1")  # the append failed: the link may be tried again
    assert not record.link_used("link-1") and record.claim_link("link-1")


def test_inviting_into_a_full_department_is_a_conflict_not_a_server_error() -> None:
    full = {"_id": "sales", "tenant": "acme", "name": "Sales", "members": [f"a{i}" for i in range(1000)]}
    with pytest.raises(Conflict, match="Sales is full"):
        team_commands.invite_agent(
            agent=SAM,
            invitation=InviteAgent(name="Cat", email="cat@acme.test", departments=["sales"]),
            email_in_use=False,
            departments_found={"sales": full},
            link=team_commands.NewLink("l1", "0" * 64, NOW + timedelta(hours=1)),
        )


def test_an_email_in_use_gets_one_answer_that_names_no_team_or_address() -> None:
    with pytest.raises(Conflict) as refused:
        team_commands.require_email_free(email_in_use=True)
    assert refused.value.code == "email_in_use" and "@" not in refused.value.message
    team_commands.require_email_free(email_in_use=False)


def test_a_deactivated_agents_status_stays_offline_live_and_on_replay() -> None:
    invited = _invited_ann()
    ann = {**ANN_VIEW, "_id": invited.aggregate_id}
    off = team_commands.deactivate_agent(
        agent=SAM, teammate=ann, team=[(SAM_VIEW, SIGNED_UP)], has_password=False
    )
    available = agent_events.AgentStatusChanged.model_validate(
        {
            "tenant": "acme",
            "aggregate_id": invited.aggregate_id,
            "actor": {"kind": "agent", "id": invited.aggregate_id},
            "payload": {"status": "available"},
        }
    )
    view = _fold(apply_agent, invited, *off, available)
    assert (view["status"], view["deactivated"]) == ("offline", True)
    back = team_commands.reactivate_agent(agent=SAM, teammate={**ann, "deactivated": True})
    assert _fold(apply_agent, invited, *off, available, back, available)["status"] == "available"


def test_link_tokens_come_from_a_key_derived_from_the_secret_not_the_secret_itself() -> None:
    secret = "s" * 40
    key = link_key(secret)
    assert key != secret.encode() and secret not in key.hex()
    assert link_token(key, "l1") != link_token(secret.encode(), "l1")
    assert hash_link_token(link_token(key, "l1")) != hash_link_token(link_token(key, "l2"))


def test_a_whitespace_only_name_is_refused() -> None:
    with pytest.raises(ValidationError):
        InviteAgent(name="  \t ", email="cat@acme.test")


def test_the_account_rules_the_routes_ask() -> None:
    assert team_commands.account_state({**ANN_VIEW, "deactivated": True}, SIGNED_UP) == "deactivated"
    assert team_commands.account_state(ANN_VIEW, None) == "invited"
    assert team_commands.account_state(ANN_VIEW, {"email": "ann@acme.test"}) == "invited"
    assert team_commands.account_state(ANN_VIEW, SIGNED_UP) == "active"
    with pytest.raises(Forbidden) as refused:
        team_commands.require_may_sign_in(deactivated=True)
    assert refused.value.code == "account_deactivated"
    team_commands.require_may_sign_in(deactivated=False)
    with pytest.raises(Conflict, match="Ann is deactivated"):
        team_commands.require_may_take_chats({**ANN_VIEW, "deactivated": True})
    team_commands.require_may_take_chats(ANN_VIEW)
    # One spelling per address wherever an account is keyed or found.
    assert team_commands.agent_id_for("acme", " Ann@Acme.TEST ") == team_commands.agent_id_for(
        "acme", "ann@acme.test"
    )


def test_the_mailer_runs_on_the_derived_link_key_alone_in_production() -> None:
    secret = "s" * 40
    derived = link_key(secret)
    mailer = MailerSettings(environment="production", password_link_key=SecretStr(derived.hex()))
    assert mailer.link_key() == derived and mailer.secret_key.get_secret_value() != secret
    assert GatewaySettings(secret_key=SecretStr(secret)).link_key() == derived  # the same links
    with pytest.raises(ValidationError, match="PARLEY_SECRET_KEY"):
        MailerSettings(environment="production")  # neither key
    with pytest.raises(ValidationError, match="64 hex digits"):
        MailerSettings(password_link_key=SecretStr("ab" * 16))
    with pytest.raises(ValidationError, match="PARLEY_SECRET_KEY"):  # it signs tokens: it needs the secret
        GatewaySettings(environment="production", password_link_key=SecretStr(derived.hex()))
