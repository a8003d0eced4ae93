"""A real SMTP server on loopback (aiosmtpd) that keeps what it accepted, for the transcript-email tests.

Each recipient address behaves as told: by default it accepts; `refuse_until_recovered(address)` answers
451 (try again later) until `recover(address)`; `refuse_for_good(address)` answers 550 (no such user).
"""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.processes import free_port


@dataclass
class Mailbox:
    port: int = 0
    received: list[EmailMessage] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)  # recipient -> RCPT commands seen
    failing: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse_until_recovered(self, address: str) -> None:
        self.failing.add(address)

    def recover(self, address: str) -> None:
        self.failing.discard(address)

    def refuse_for_good(self, address: str) -> None:
        self.unknown.add(address)

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.received if m["To"] == address]

    # aiosmtpd's handler hooks.

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        with self.lock:
            self.attempts[address] = self.attempts.get(address, 0) + 1
        if address in self.unknown:
            return "550 5.1.1 no such user here"
        if address in self.failing:
            return "451 4.3.2 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(message)
        return "250 Message accepted for delivery"


def parts_of(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies of a received email."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None, "a transcript has a text and an HTML part"
    # SMTP lines end in CRLF; compare texts with the LF they were written with.
    return str(text.get_content()).replace("\r\n", "\n"), str(html.get_content()).replace("\r\n", "\n")


@contextmanager
def running_mailbox(credentials: tuple[str, str] | None = None) -> Iterator[Mailbox]:
    """With `credentials`, the server requires AUTH (over plain SMTP: loopback only) and accepts just those."""
    mailbox = Mailbox(port=free_port())
    auth: dict[str, Any] = {}
    if credentials is not None:

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            given = (data.login.decode(), data.password.decode()) if isinstance(data, LoginPassword) else None
            # handled=False: aiosmtpd answers a refusal with 535 itself.
            return AuthResult(success=given == credentials, handled=False)

        auth = {
            "authenticator": authenticator,
            "auth_required": True,
            "auth_require_tls": False,
        }
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port, **auth)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
