"""The SMTP adapter: one email per connection, with the standard library's `smtplib` in a worker thread
(plain, STARTTLS or implicit TLS; login when a username is set). It never raises for the mail server's
answer: every outcome is a `SendResult` the pure rules decide on."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from services.mailer.config import SmtpSettings
from services.mailer.domain import RenderedEmail, SendResult


def build_message(transcript: RenderedEmail, *, sender: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = transcript.subject
    message["Date"] = formatdate(localtime=False)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "parley.invalid"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders must not answer it
    message.set_content(transcript.text)
    message.add_alternative(transcript.html, subtype="html")
    return message


def _describe(code: int, text: bytes | str) -> str:
    detail = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"SMTP {code} {detail}".strip()[:500]


class SmtpSender:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> SendResult:
        return await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> SendResult:
        settings = self.settings
        assert settings.smtp_host is not None, "the mailer runs only with SMTP configured"
        try:
            client: smtplib.SMTP
            if settings.smtp_tls == "tls":
                client = smtplib.SMTP_SSL(
                    settings.smtp_host,
                    settings.smtp_port,
                    timeout=settings.smtp_timeout_seconds,
                    context=ssl.create_default_context(),
                )
            else:
                client = smtplib.SMTP(
                    settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
                )
            with client:
                if settings.smtp_tls == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if settings.smtp_username:
                    password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                    client.login(settings.smtp_username, password)
                refused = client.send_message(message)
            if refused:  # some recipients refused: there is one recipient, so this is its answer
                code, text = next(iter(refused.values()))
                return SendResult(None, _describe(code, text), permanent=code >= 500)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return SendResult(None, _describe(code, text), permanent=code >= 500)
        except smtplib.SMTPResponseException as exc:
            # 5xx is final (no such mailbox, relaying denied, bad credentials); 4xx says "try again later".
            return SendResult(None, _describe(exc.smtp_code, exc.smtp_error), permanent=exc.smtp_code >= 500)
        except (OSError, smtplib.SMTPException) as exc:  # refused connection, timeout, TLS, a dropped line
            return SendResult(None, f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__)
        return SendResult(str(message["Message-ID"]))
