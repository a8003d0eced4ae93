"""HTTP adapter: one signed POST per attempt (Standard Webhooks headers), to the address vetted just before.

No redirect is followed (a 3xx is a failed attempt), at most RESPONSE_EXCERPT_BYTES of the answer are
read, and the whole attempt has a deadline.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from standardwebhooks.webhooks import Webhook

from services.webhooks.domain import AttemptResult, Endpoint
from services.webhooks.targets import TargetPolicy, TargetRefused, vetted_address

RESPONSE_EXCERPT_BYTES = 1000
USER_AGENT = "Parley-Webhooks/1"


def signature_header(secrets: list[str], webhook_id: str, timestamp: datetime, body: bytes) -> str:
    """`v1,<base64>` per secret, space-separated: a receiver accepts the delivery if any one matches."""
    text = body.decode()
    return " ".join(Webhook(secret).sign(webhook_id, timestamp, text) for secret in secrets)


def signed_headers(endpoint: Endpoint, webhook_id: str, body: bytes, now: datetime) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature_header(endpoint.signing_secrets(now), webhook_id, now, body),
    }


@dataclass
class HttpSender:
    client: httpx.AsyncClient
    policy: TargetPolicy
    timeout_seconds: float = 10.0

    @classmethod
    def create(cls, policy: TargetPolicy, timeout_seconds: float) -> HttpSender:
        # Certificates are checked against the endpoint's name (sni_hostname below), not the address.
        client = httpx.AsyncClient(follow_redirects=False, timeout=timeout_seconds, trust_env=False)
        return cls(client, policy, timeout_seconds)

    async def close(self) -> None:
        await self.client.aclose()

    async def send(self, endpoint: Endpoint, webhook_id: str, body: bytes) -> AttemptResult:
        started = time.monotonic()
        try:
            target, address = await vetted_address(endpoint.url, self.policy)
        except TargetRefused as exc:
            return AttemptResult(None, _ms_since(started), error=f"refused: {exc}"[:500])
        headers = signed_headers(endpoint, webhook_id, body, datetime.now(UTC))
        parts = urlsplit(endpoint.url)
        host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
        pinned = urlunsplit((parts.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, ""))
        headers["host"] = parts.netloc.rsplit("@", 1)[-1]
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request = self.client.build_request(
            "POST", pinned, content=body, headers=headers, extensions=extensions
        )
        try:
            response = await self.client.send(request, stream=True)
            try:
                excerpt = await _read_excerpt(response)
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            return AttemptResult(
                None, _ms_since(started), error=f"timed out after {self.timeout_seconds:g} s"
            )
        except httpx.HTTPError as exc:
            return AttemptResult(None, _ms_since(started), error=f"{type(exc).__name__}: {exc}"[:500])
        return AttemptResult(response.status_code, _ms_since(started), response_excerpt=excerpt)


async def _read_excerpt(response: httpx.Response) -> str:
    received = b""
    async for chunk in response.aiter_raw():
        received += chunk
        if len(received) >= RESPONSE_EXCERPT_BYTES:
            break
    return received[:RESPONSE_EXCERPT_BYTES].decode(errors="replace")


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 2)
