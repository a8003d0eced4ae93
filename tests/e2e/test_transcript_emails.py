"""Transcripts by email end to end: the gateway, both projections and the mailer as processes on the real
broker and database, sending to a real SMTP server on loopback (aiosmtpd). The retry schedule is compressed
200 times (the first retry comes after 0.15 s)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack, eventually, json_of, running_stack
from tests.e2e.test_seed_guide_story import PNG
from tests.infrastructure import Infrastructure
from tests.smtp_server import Mailbox, parts_of, running_mailbox

pytestmark = pytest.mark.e2e

SERVICES = ("services.conversation", "services.history", "services.gateway", "services.mailer")
PASSWORD = "correct horse battery"
NOTE = "Internal: this customer is on the VIP list"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with running_mailbox() as running:
        yield running


def smtp_env(mailbox: Mailbox) -> dict[str, str]:
    return {
        "PARLEY_SMTP_HOST": "127.0.0.1",
        "PARLEY_SMTP_PORT": str(mailbox.port),
        "PARLEY_SMTP_TLS": "none",
        "PARLEY_SMTP_SENDER": "Parley Support <support@parley.test>",
        "PARLEY_MAILER_RETRY_TIME_SCALE": "0.005",
    }


@pytest.fixture(scope="module")
def mail_stack(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox
) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("mailer-logs")
    with running_stack(infrastructure, logs, services=SERVICES, extra_env=smtp_env(mailbox)) as started:
        started.register("ann@example.com", "Ann Agent")
        yield started


@pytest.fixture(scope="module")
def ann(mail_stack: Stack) -> httpx.Client:
    return mail_stack.client(mail_stack.login("ann@example.com", PASSWORD))


def ended_chat(
    stack: Stack, ann: httpx.Client, email: str | None = "vera@example.com"
) -> tuple[str, httpx.Client]:
    """Vera asks about her order with a photo; Ann answers, writes an internal note and closes the chat."""
    started = json_of(
        httpx.post(
            f"{stack.base_url}/api/visitor/conversations", json={"name": "Vera <Visitor>", "email": email}
        ),
        201,
    )
    conversation_id, visitor = started["conversation_id"], stack.client(started["visitor_token"])
    photo = json_of(
        visitor.post(
            "/api/visitor/conversation/attachments", files={"file": ("parcel.png", PNG, "image/png")}
        ),
        201,
    )
    text = "My order <b>#12</b> & the parcel"
    json_of(
        visitor.post(
            "/api/visitor/conversation/messages",
            json={"text": text, "attachment_ids": [photo["attachment_id"]]},
        ),
        201,
    )
    chat = f"/api/agent/conversations/{conversation_id}"
    eventually(lambda: _assert_status(ann.get(chat), 200))
    json_of(ann.post(f"{chat}/join"))
    ann_id = stack.agents["ann@example.com"]
    eventually(lambda: _assert_in(ann_id, [p["id"] for p in ann.get(chat).json()["participants"]]))
    json_of(ann.post(f"{chat}/messages", json={"text": "It ships today, Vera."}), 201)
    json_of(ann.post(f"{chat}/notes", json={"text": NOTE}), 201)
    json_of(ann.post(f"{chat}/close", json={}))
    eventually(lambda: _assert_in("closed", visitor.get("/api/visitor/conversation").json()["status"]))
    return conversation_id, visitor


def _assert_status(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text


def _assert_in(item: object, container: object) -> None:
    assert item in container  # type: ignore[operator]


def _request(ann: httpx.Client, conversation_id: str, request_id: str) -> dict[str, Any]:
    items = json_of(ann.get(f"/api/agent/conversations/{conversation_id}/transcript-emails"))["items"]
    found = [item for item in items if item["request_id"] == request_id]
    assert len(found) == 1, items  # the view may not have applied the request yet
    return dict(found[0])


def test_a_visitor_gets_the_transcript_after_the_chat_without_the_note_and_at_most_three_times(
    mail_stack: Stack, ann: httpx.Client, mailbox: Mailbox
) -> None:
    started = json_of(
        httpx.post(f"{mail_stack.base_url}/api/visitor/conversations", json={"name": "Early"}), 201
    )
    early = mail_stack.client(started["visitor_token"])
    refused = early.post("/api/visitor/conversation/transcript-emails", json={"email": "early@example.com"})
    assert refused.status_code == 409 and "once the chat has ended" in refused.text

    conversation_id, visitor = ended_chat(mail_stack, ann)
    offer = json_of(visitor.get("/api/visitor/conversation/transcript-emails"))
    assert offer["email_configured"] and offer["can_request"]
    assert offer["suggested_recipient"] == "vera@example.com"
    asked = json_of(visitor.post("/api/visitor/conversation/transcript-emails", json={}), 202)
    assert asked["recipient"] == "vera@example.com"

    def delivered() -> list[Any]:
        mails = mailbox.to("vera@example.com")
        assert len(mails) == 1
        return mails

    (mail,) = eventually(delivered)
    text, html = parts_of(mail)
    assert mail["From"] == "Parley Support <support@parley.test>"
    assert "My order &lt;b&gt;#12&lt;/b&gt; &amp; the parcel" in html and "<b>#12</b>" not in html
    assert "Vera &lt;Visitor&gt;" in html and "Ann Agent" in html
    assert "My order <b>#12</b> & the parcel" in text and "It ships today, Vera." in text
    assert "Attachment: parcel.png" in text and "Attachment: parcel.png" in html
    assert NOTE not in text and NOTE not in html
    eventually(lambda: _assert_in("sent", _request(ann, conversation_id, asked["request_id"])["status"]))
    mine = json_of(visitor.get("/api/visitor/conversation/transcript-emails"))
    assert [item["status"] for item in mine["items"]] == ["sent"] and mine["requests_left"] == 2

    for address in ("vera+2@example.com", "vera+3@example.com"):
        json_of(visitor.post("/api/visitor/conversation/transcript-emails", json={"email": address}), 202)
    eventually(
        lambda: _assert_in(
            0, [json_of(visitor.get("/api/visitor/conversation/transcript-emails"))["requests_left"]]
        )
    )
    fourth = visitor.post("/api/visitor/conversation/transcript-emails", json={"email": "anyone@example.com"})
    assert fourth.status_code == 409 and "already requested 3 times" in fourth.text
    bad = visitor.post("/api/visitor/conversation/transcript-emails", json={"email": "not an address"})
    assert bad.status_code == 422
    eventually(lambda: _assert_in(1, [len(mailbox.to("vera+3@example.com"))]))
    assert mailbox.to("anyone@example.com") == []


def test_a_password_link_is_emailed_retried_while_refused_and_works_once(
    mail_stack: Stack, mailbox: Mailbox
) -> None:
    """The Team's invitation and reset links go out by email too (the same mailer, retried from the
    agent-credentials topic), with the token the supervisor was shown."""
    mail_stack.register("sue@example.com", "Sue Supervisor", role="supervisor")
    sue = mail_stack.client(mail_stack.login("sue@example.com", PASSWORD))
    mailbox.refuse_until_recovered("cat@example.com")
    invited = json_of(
        sue.post("/api/agent/team/invitations", json={"name": "Cat <Cook>", "email": "cat@example.com"}), 201
    )
    assert invited["link"]["emailed"] is True
    token = invited["link"]["url"].partition("#token=")[2]

    def email_state() -> str:
        items = json_of(sue.get("/api/agent/team"))["items"]
        found = [m for m in items if m["id"] == invited["id"]]
        assert len(found) == 1, found  # an assertion, so `eventually` asks again until the view has it
        cat = found[0]
        assert cat["password_link"] and cat["password_link"]["emailed"], cat
        return str(cat["password_link"]["emailed"]["status"])

    eventually(lambda: _assert_in(email_state(), ["retrying"]), timeout=60)
    mailbox.recover("cat@example.com")
    eventually(lambda: _assert_in(email_state(), ["sent"]), timeout=60)
    (mail,) = mailbox.to("cat@example.com")
    text, html = parts_of(mail)
    assert f"/set-password#token={token}" in text and "Cat <Cook>" in text
    assert "Cat &lt;Cook&gt;" in html and "<Cook>" not in html
    assert mail["Subject"] == "You are invited to your team's Parley"
    json_of(
        httpx.post(
            f"{mail_stack.base_url}/api/set-password", json={"token": token, "password": "cats password"}
        )
    )
    mail_stack.login("cat@example.com", "cats password")


def test_a_deactivated_accounts_link_is_not_emailed(mail_stack: Stack, mailbox: Mailbox) -> None:
    """The link would not work any more (`shared/password_links.link_voided`): the mailer drops it."""
    sue = mail_stack.client(mail_stack.login("sue@example.com", PASSWORD))
    mailbox.refuse_until_recovered("dot@example.com")
    invited = json_of(
        sue.post("/api/agent/team/invitations", json={"name": "Dot", "email": "dot@example.com"}), 201
    )

    def row() -> dict[str, Any]:
        found = [m for m in json_of(sue.get("/api/agent/team"))["items"] if m["id"] == invited["id"]]
        assert len(found) == 1, found  # the agents view shows the invitation a moment later
        return dict(found[0])

    eventually(
        lambda: _assert_in(((row()["password_link"] or {}).get("emailed") or {}).get("status"), ["retrying"]),
        timeout=60,
    )
    json_of(sue.post(f"/api/agent/team/{invited['id']}/deactivate"))
    eventually(lambda: _assert_in(row()["account"], ["deactivated"]), timeout=60)
    mailbox.recover("dot@example.com")
    metrics = f"http://127.0.0.1:{mail_stack.processes['mailer'].port}/metrics"
    eventually(
        lambda: _assert_in("parley_password_link_emails_pending 0", httpx.get(metrics).text.splitlines()),
        timeout=60,
    )
    assert 'parley_password_link_emails_total{outcome="refused"} 1' in httpx.get(metrics).text
    assert mailbox.to("dot@example.com") == []


def test_an_agent_sends_it_a_refusing_server_is_retried_visibly_and_a_550_gives_up(
    mail_stack: Stack, ann: httpx.Client, mailbox: Mailbox
) -> None:
    conversation_id, _ = ended_chat(mail_stack, ann, email=None)
    emails = f"/api/agent/conversations/{conversation_id}/transcript-emails"
    offer = json_of(ann.get(emails))
    assert offer["email_configured"] and offer["suggested_recipient"] is None
    no_address = ann.post(emails, json={})
    assert no_address.status_code == 400 and "no email address" in no_address.text

    mailbox.refuse_until_recovered("boss@example.com")
    asked = json_of(ann.post(emails, json={"email": "boss@example.com"}), 202)

    def retrying() -> None:
        request = _request(ann, conversation_id, asked["request_id"])
        assert request["status"] == "retrying", request
        assert "451" in request["reason"] and request["next_attempt_at"] is not None

    eventually(retrying)
    assert mailbox.to("boss@example.com") == []
    mailbox.recover("boss@example.com")

    def sent() -> dict[str, Any]:
        request = _request(ann, conversation_id, asked["request_id"])
        assert request["status"] == "sent", request
        return request

    assert eventually(sent, timeout=60)["attempt"] >= 2  # the next retry may be up to 18 s away
    assert len(mailbox.to("boss@example.com")) == 1
    assert mailbox.attempts["boss@example.com"] >= 2
    text, _ = parts_of(mailbox.to("boss@example.com")[0])
    assert NOTE not in text and "It ships today, Vera." in text

    mailbox.refuse_for_good("nobody@example.com")
    doomed = json_of(ann.post(emails, json={"email": "nobody@example.com"}), 202)

    def failed() -> None:
        request = _request(ann, conversation_id, doomed["request_id"])
        assert (request["status"], request["attempt"]) == ("failed", 1), request
        assert "550" in request["reason"]

    eventually(failed)
    metrics = httpx.get(f"http://127.0.0.1:{mail_stack.processes['mailer'].port}/metrics").text
    assert 'parley_transcript_emails_total{outcome="failed"} 1' in metrics


def test_a_pending_retry_and_a_request_made_while_the_mailer_is_down_are_sent_once_after_a_crash(
    mail_stack: Stack, ann: httpx.Client, mailbox: Mailbox
) -> None:
    conversation_id, _ = ended_chat(mail_stack, ann)
    emails = f"/api/agent/conversations/{conversation_id}/transcript-emails"
    mailbox.refuse_until_recovered("crash@example.com")
    retried = json_of(ann.post(emails, json={"email": "crash@example.com"}), 202)
    eventually(
        lambda: _assert_in("retrying", _request(ann, conversation_id, retried["request_id"])["status"])
    )

    delivered_before = len(mailbox.received)
    mailer = mail_stack.processes["mailer"]
    mailer.proc.kill()  # SIGKILL: the pending retry is only in Kafka now
    mailer.proc.wait()
    while_down = json_of(ann.post(emails, json={"email": "down@example.com"}), 202)
    mailbox.recover("crash@example.com")
    mailer.crash_and_restart()
    mailer.wait_http_ready(f"http://127.0.0.1:{mailer.port}/healthz", timeout=60)

    def both_sent() -> None:
        for request in (retried, while_down):
            assert _request(ann, conversation_id, request["request_id"])["status"] == "sent"

    eventually(both_sent, timeout=120)  # the group waits for the killed member's session to expire
    assert len(mailbox.to("crash@example.com")) == 1
    assert len(mailbox.to("down@example.com")) == 1
    assert len(mailbox.received) == delivered_before + 2, "an email sent before the crash is not sent again"
