"""A real HTTP webhook receiver on loopback that verifies every delivery with the `standardwebhooks` library.

Each path behaves as told: `/ok/...` accepts, `/flaky/N/...` fails each delivery's first N attempts, `/gone/...`
answers 410, `/down/...` fails until `recover()` is called for it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    webhook_id: str
    status: int
    verified: bool
    body: dict[str, Any]


@dataclass
class Receiver:
    port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)  # path -> secret that must have signed it
    received: list[Received] = field(default_factory=list)
    recovered: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def recover(self, path: str) -> None:
        self.recovered.add(path)

    def at(self, path: str, *, accepted_only: bool = False) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path and (r.status < 300 or not accepted_only)]

    def status_for(self, path: str, webhook_id: str) -> int:
        if path.startswith("/gone/"):
            return 410
        if path.startswith("/down/") and path not in self.recovered:
            return 500
        if path.startswith("/flaky/"):
            failures = int(path.split("/")[2])
            earlier = sum(1 for r in self.received if r.path == path and r.webhook_id == webhook_id)
            return 503 if earlier < failures else 200
        return 204


class QuietHandler(BaseHTTPRequestHandler):
    """A test server's request handler: one way to answer, and no access log on stderr."""

    def answer(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {key.lower(): value for key, value in self.headers.items()}
            secret = receiver.secrets.get(self.path)
            try:
                verified = secret is not None and Webhook(secret).verify(raw, headers) is not None
            except WebhookVerificationError:
                verified = False
            with receiver.lock:
                status = receiver.status_for(self.path, headers.get("webhook-id", ""))
                receiver.received.append(
                    Received(self.path, headers.get("webhook-id", ""), status, verified, json.loads(raw))
                )
            self.answer(status, b"ok")

    return Handler


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
