"""Sign-in, sign-out and the visitor limits in-process: what is refused, with which status and headers,
and what is appended (nothing, for a refusal)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from services.gateway.auth import AgentPrincipal, agent_token, hash_password
from services.gateway.config import GatewaySettings
from services.gateway.credential_record import CredentialRecord
from services.gateway.rate_limits import Rate
from tests.unit.gateway_fakes import FakePublisher, fake_views, gateway

SETTINGS = GatewaySettings(
    secret_key=SecretStr("s" * 40),
    default_tenant="acme",
    lockout_failures=3,
    limit_conversation_starts_per_address=Rate(2, 600),
)
PASSWORD = "correct horse battery"
ANN_CREDENTIALS = {
    "_id": "ann",
    "tenant": "acme",
    "email": "ann@acme.test",
    "password_hash": hash_password(PASSWORD),
}
ANN_VIEW = {
    "_id": "ann",
    "tenant": "acme",
    "name": "Ann",
    "email": "ann@acme.test",
    "role": "agent",
    "status": "offline",
    "status_chosen": True,
    "max_concurrent_chats": None,
}


def _login(client: Any, password: str) -> Any:
    return client.post("/api/agent/auth/login", json={"email": "ann@acme.test", "password": password})


def test_wrong_passwords_lock_the_account_and_a_locked_one_costs_no_password_check() -> None:
    publisher, record = FakePublisher(), CredentialRecord()
    views = fake_views(agent_credentials=[ANN_CREDENTIALS], agents=[ANN_VIEW])
    client = gateway(views, publisher, settings=SETTINGS, record=record)
    assert [_login(client, "wrong").status_code for _ in range(3)] == [401, 401, 401]
    assert [e.type for e in publisher.appended] == [*["agent.sign_in_failed"] * 3, "agent.sign_in_locked"]
    refused = _login(client, PASSWORD)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "account_locked"
    assert 0 < int(refused.headers["Retry-After"]) <= 60  # the first lock: 60 s from the last failure
    assert (record.password_checks, record.accounts_locked, record.refused_while_locked) == (3, 1, 1)


def test_a_successful_sign_in_after_failures_resets_them() -> None:
    publisher = FakePublisher()
    views = fake_views(agent_credentials=[ANN_CREDENTIALS], agents=[ANN_VIEW])
    client = gateway(views, publisher, settings=SETTINGS)
    assert _login(client, "wrong").status_code == 401
    assert _login(client, PASSWORD).status_code == 200
    assert [e.type for e in publisher.appended] == ["agent.sign_in_failed", "agent.sign_in_reset"]
    assert _login(client, PASSWORD).status_code == 200
    assert len(publisher.appended) == 2  # nothing more to forget


def test_signing_out_ends_the_session_at_once() -> None:
    publisher, record = FakePublisher(), CredentialRecord()
    views = fake_views(agent_credentials=[ANN_CREDENTIALS], agents=[ANN_VIEW])
    client = gateway(views, publisher, settings=SETTINGS, record=record)
    token, _ = agent_token(SETTINGS, AgentPrincipal(agent_id="ann", tenant="acme", role="agent"))
    other, _ = agent_token(SETTINGS, AgentPrincipal(agent_id="ann", tenant="acme", role="agent"))
    me = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/agent/me", headers=me).status_code == 200
    assert client.post("/api/agent/auth/logout", headers=me).status_code == 204
    [ended] = publisher.appended
    assert ended.type == "agent.session_ended"
    refused = client.get("/api/agent/me", headers=me)
    assert (refused.status_code, refused.json()["error"]["message"]) == (
        401,
        "this session has ended; sign in again",
    )
    assert client.post("/api/agent/auth/refresh", headers=me).status_code == 401
    # Ann's session on another device goes on.
    assert client.get("/api/agent/me", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_chat_starts_over_the_limit_get_429_with_retry_after_and_append_nothing() -> None:
    publisher = FakePublisher()
    client = gateway(fake_views(), publisher, settings=SETTINGS)
    body = {"name": "Vera", "message": "hello"}
    assert [client.post("/api/visitor/conversations", json=body).status_code for _ in range(2)] == [201, 201]
    appended = len(publisher.appended)
    refused = client.post("/api/visitor/conversations", json=body)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert "wait" in refused.json()["error"]["message"]
    assert len(publisher.appended) == appended


def test_a_tenant_that_lists_its_sites_accepts_chats_from_them_only() -> None:
    settings = SETTINGS.model_copy(update={"widget_allowed_origins": {"acme": ("https://shop.acme.test",)}})
    client = gateway(fake_views(), FakePublisher(), settings=settings)
    body = {"name": "Vera", "message": "hello"}
    allowed = client.post(
        "/api/visitor/conversations", json=body, headers={"Origin": "https://shop.acme.test"}
    )
    assert allowed.status_code == 201
    for headers in ({"Origin": "https://evil.test"}, {}):
        assert client.post("/api/visitor/conversations", json=body, headers=headers).status_code == 403


def test_a_supervisor_signs_a_teammate_out_everywhere_and_an_agent_may_not() -> None:
    sam_view = {**ANN_VIEW, "_id": "sam", "name": "Sam", "email": "sam@acme.test", "role": "supervisor"}
    publisher, record = FakePublisher(), CredentialRecord()
    views = fake_views(agent_credentials=[ANN_CREDENTIALS], agents=[ANN_VIEW, sam_view])
    client = gateway(views, publisher, settings=SETTINGS, record=record)
    ann, _ = agent_token(SETTINGS, AgentPrincipal(agent_id="ann", tenant="acme", role="agent"))
    sam, _ = agent_token(SETTINGS, AgentPrincipal(agent_id="sam", tenant="acme", role="supervisor"))
    as_ann, as_sam = {"Authorization": f"Bearer {ann}"}, {"Authorization": f"Bearer {sam}"}
    assert client.post("/api/agent/agents/ann/sign-out-everywhere", headers=as_ann).status_code == 403
    assert (
        client.post("/api/agent/agents/sam/sign-out-everywhere", headers=as_sam).status_code == 404
    )  # no password
    assert client.post("/api/agent/agents/ann/sign-out-everywhere", headers=as_sam).status_code == 204
    assert [e.type for e in publisher.appended] == ["agent.sessions_revoked"]
    assert client.get("/api/agent/me", headers=as_ann).status_code == 401
    assert client.get("/api/agent/me", headers=as_sam).status_code == 200


def test_a_pending_invitation_elsewhere_with_the_same_email_does_not_hide_the_account() -> None:
    """An invitation another team sent before emails were checked across teams has no password: sign-in
    finds the account that has one."""
    pending = {"_id": "ann-globex", "tenant": "globex", "email": "ann@acme.test", "password_link": {}}
    views = fake_views(agent_credentials=[pending, ANN_CREDENTIALS], agents=[ANN_VIEW])
    client = gateway(views, FakePublisher(), settings=SETTINGS, record=CredentialRecord())
    assert _login(client, PASSWORD).status_code == 200
