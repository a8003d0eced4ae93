"""The HTTP sender against real servers on loopback: signed, refused before any byte leaves in production,
no redirect followed, the answer read only up to a cap, and a deadline on every attempt."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook

from services.webhooks.domain import Endpoint
from services.webhooks.sender import RESPONSE_EXCERPT_BYTES, HttpSender
from services.webhooks.targets import TargetPolicy
from tests.webhook_receiver import QuietHandler

pytestmark = pytest.mark.integration
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
LOOPBACK_ALLOWED = TargetPolicy(allow_loopback=True, require_https=False)
BODY = b'{"type":"conversation.closed","timestamp":"2026-01-01T00:00:00Z","data":{}}'


class Server:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        handler = self._handler()
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.http.server_address[1]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.path == "/redirect":
                    self.answer(302, location=f"http://127.0.0.1:{server.port}/elsewhere")
                elif self.path == "/slow":
                    time.sleep(1.5)
                    self.send_response(200)
                    self.end_headers()
                elif self.path == "/huge":
                    self.send_response(500)
                    self.send_header("content-length", str(10_000_000))
                    self.end_headers()
                    self.wfile.write(b"x" * 10_000_000)
                else:
                    self.answer(200, b"received")

        return Handler

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = Server()
    thread = threading.Thread(target=running.http.serve_forever, daemon=True)
    thread.start()
    yield running
    running.http.shutdown()
    running.http.server_close()


@pytest.fixture
async def sender() -> AsyncIterator[HttpSender]:
    # A timeout no answer of the local receiver comes near on a busy machine, the first one (the name
    # lookup, the connection) included; the slow receiver's test uses a sender of its own.
    created = HttpSender.create(LOOPBACK_ALLOWED, timeout_seconds=10)
    yield created
    await created.close()


def endpoint(url: str) -> Endpoint:
    return Endpoint("e1", "t", url, ("*",), True, SECRET)


async def test_a_delivery_is_signed_and_reaches_the_named_host_at_the_vetted_address(
    server: Server, sender: HttpSender
) -> None:
    result = await sender.send(endpoint(server.url("/hook?x=1", host="localhost")), "ev-1", BODY)
    assert (result.status_code, result.response_excerpt) == (200, "received")
    path, headers, body = server.requests[-1]
    assert path == "/hook?x=1" and headers["host"] == f"localhost:{server.port}"
    assert headers["webhook-id"] == "ev-1"
    assert Webhook(SECRET).verify(body, headers) is not None


async def test_production_refuses_loopback_at_send_time_before_connecting(server: Server) -> None:
    production = HttpSender.create(TargetPolicy(allow_loopback=False, require_https=False), timeout_seconds=1)
    before = len(server.requests)
    try:
        for host in ("127.0.0.1", "localhost"):
            result = await production.send(endpoint(server.url("/hook", host=host)), "ev-2", BODY)
            assert result.status_code is None and result.error is not None
            assert "loopback" in result.error
    finally:
        await production.close()
    assert len(server.requests) == before


async def test_no_redirect_is_followed(server: Server, sender: HttpSender) -> None:
    result = await sender.send(endpoint(server.url("/redirect")), "ev-3", BODY)
    assert result.status_code == 302 and not result.succeeded
    assert [path for path, _, _ in server.requests].count("/elsewhere") == 0


async def test_a_slow_receiver_times_out_and_a_huge_answer_is_read_only_to_the_cap(
    server: Server, sender: HttpSender
) -> None:
    impatient = HttpSender.create(LOOPBACK_ALLOWED, timeout_seconds=0.5)
    try:
        slow = await impatient.send(endpoint(server.url("/slow")), "ev-4", BODY)
    finally:
        await impatient.close()
    assert slow.status_code is None and slow.error == "timed out after 0.5 s"
    huge = await sender.send(endpoint(server.url("/huge")), "ev-5", BODY)
    assert huge.status_code == 500 and len(huge.response_excerpt) == RESPONSE_EXCERPT_BYTES
