"""Signing in, in-process (tests/unit/gateway_fakes.py): what a wrong email or password tells the caller."""

from __future__ import annotations

import pytest

from services.gateway import auth
from services.gateway.credential_record import CredentialRecord
from services.gateway.routes import sign_in
from tests.unit.gateway_fakes import FakePublisher, fake_views, gateway

ANN_CREDENTIALS = {
    "_id": "ann",
    "tenant": "acme",
    "email": "ann@acme.test",
    "password_hash": auth.hash_password("ann's right password"),
}


def test_an_unknown_email_is_answered_as_a_wrong_password_after_as_much_password_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Answering an unknown email without an argon2 check would be measurably faster: a caller could tell
    which emails have accounts from the response time alone."""
    checked: list[str] = []
    verify = auth.verify_password

    def counted(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return verify(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counted)
    monkeypatch.setattr(sign_in, "verify_password", counted)
    publisher, record = FakePublisher(), CredentialRecord()
    client = gateway(fake_views(agent_credentials=[ANN_CREDENTIALS]), publisher, record=record)
    answers = [
        client.post("/api/agent/auth/login", json={"email": email, "password": "a wrong password"})
        for email in ("nobody@acme.test", "ann@acme.test")
    ]
    assert [a.status_code for a in answers] == [401, 401]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["error"]["message"] == "wrong email or password"
    assert len(checked) == 2 and record.password_checks == 2, "one argon2 check each"
    assert checked[1] == ANN_CREDENTIALS["password_hash"] and checked[0] != checked[1]
    [failure] = publisher.appended
    assert failure.aggregate_id == "ann", "only the real account counts a failed sign-in"
