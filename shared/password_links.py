"""The one-time links to set a password: a link's token is derived from its id and a link key (HMAC-SHA256),
itself derived from the deployment's secret key, so the gateway that shows it and the mailer that emails it
name the same token while the topics only ever hold the id and the token's SHA-256. The mailer works with the
link key alone: a token it derives says nothing about the key that signs agents' tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

SET_PASSWORD_PATH = "/set-password"


def link_key(secret_key: str) -> bytes:
    """The key one-time links are derived with: HMAC of a fixed label under the secret key, so it cannot be
    turned back into the secret key that signs agents' tokens."""
    return hmac.new(secret_key.encode(), b"parley:password-links", hashlib.sha256).digest()


def link_token(key: bytes, link_id: str) -> str:
    """`key` is `link_key(secret_key)`."""
    digest = hmac.new(key, f"parley:password-link:{link_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def hash_link_token(token: str) -> str:
    """What the credentials topic keeps of a token: its SHA-256 (256 bits from an HMAC: no salt or slow hash
    is needed to keep it from being guessed back)."""
    return hashlib.sha256(token.encode()).hexdigest()


def link_path(token: str) -> str:
    """In the fragment, so the token is in no request line, server log or Referer."""
    return f"{SET_PASSWORD_PATH}#token={token}"


def link_voided(link: Mapping[str, Any], account: Mapping[str, Any] | None) -> bool:
    """Whether deactivation ended this link: the account is deactivated, or the link was issued before its
    last reactivation (a supervisor issues a new one; an old link lying in a mailbox never comes back to
    life). `link` has `issued_at`; `account` is the agent's view, None when the view does not show it yet."""
    if account is None:
        return False
    if account.get("deactivated"):
        return True
    reactivated, issued = account.get("reactivated_at"), link.get("issued_at")
    return reactivated is not None and issued is not None and issued <= reactivated
