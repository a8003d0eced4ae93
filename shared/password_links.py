"""The one-time links to set a password: a link's token is derived from its id and the deployment's secret
key (HMAC-SHA256), so the gateway that shows it and the mailer that emails it name the same token while the
topics only ever hold the id and the token's SHA-256."""

from __future__ import annotations

import base64
import hashlib
import hmac

SET_PASSWORD_PATH = "/set-password"


def link_token(secret_key: str, link_id: str) -> str:
    digest = hmac.new(secret_key.encode(), f"parley:password-link:{link_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def hash_link_token(token: str) -> str:
    """What the credentials topic keeps of a token: its SHA-256 (256 bits from an HMAC: no salt or slow hash
    is needed to keep it from being guessed back)."""
    return hashlib.sha256(token.encode()).hexdigest()


def link_path(token: str) -> str:
    """In the fragment, so the token is in no request line, server log or Referer."""
    return f"{SET_PASSWORD_PATH}#token={token}"
