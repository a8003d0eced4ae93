"""The mailer's SMTP adapter against a real SMTP server on loopback (aiosmtpd): it signs in when told, and
turns every answer into the outcome the retry rules need (a 4xx or no answer: try again; a 5xx: give up)."""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from services.mailer.config import SmtpSettings
from services.mailer.domain import SendResult, Transcript
from services.mailer.smtp import SmtpSender, build_message
from tests.processes import free_port
from tests.smtp_server import parts_of, running_mailbox

TRANSCRIPT = Transcript(subject="Transcript", text="Hello & bye", html="<p>Hello &amp; bye</p>")


def _send(
    port: int,
    recipient: str,
    *,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 30,
) -> SendResult:
    smtp = SmtpSettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        smtp_sender="help@acme.test",
        smtp_username=username,
        smtp_password=SecretStr(password) if password is not None else None,
        smtp_timeout_seconds=timeout,
    )
    message = build_message(TRANSCRIPT, sender="help@acme.test", recipient=recipient)
    return asyncio.run(SmtpSender(smtp).send(message))


def test_it_signs_in_and_a_wrong_password_is_final() -> None:
    with running_mailbox(credentials=("parley", "s3cret")) as mailbox:
        sent = _send(mailbox.port, "vera@example.com", username="parley", password="s3cret")
        assert sent.message_id is not None and sent.message_id.endswith("@acme.test>")
        (received,) = mailbox.to("vera@example.com")
        assert received["Message-ID"] == sent.message_id
        assert parts_of(received) == ("Hello & bye\n", "<p>Hello &amp; bye</p>\n")
        refused = _send(mailbox.port, "vera@example.com", username="parley", password="wrong")
        assert refused.message_id is None and refused.permanent and refused.reason
        assert refused.reason.startswith("SMTP 535")


def test_a_busy_mailbox_or_no_server_is_tried_again_and_an_unknown_mailbox_is_not() -> None:
    with running_mailbox() as mailbox:
        mailbox.refuse_until_recovered("busy@example.com")
        busy = _send(mailbox.port, "busy@example.com")
        assert (busy.message_id, busy.permanent) == (None, False)
        assert busy.reason is not None and busy.reason.startswith("SMTP 451")
        mailbox.refuse_for_good("nobody@example.com")
        unknown = _send(mailbox.port, "nobody@example.com")
        assert (unknown.message_id, unknown.permanent) == (None, True)
        assert unknown.reason is not None and unknown.reason.startswith("SMTP 550")
        assert mailbox.received == []
    nobody_listens = _send(free_port(), "vera@example.com", timeout=5)
    assert (nobody_listens.message_id, nobody_listens.permanent) == (None, False)
    assert nobody_listens.reason is not None and "Connection" in nobody_listens.reason
