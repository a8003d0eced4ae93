"""Passwords (argon2id) and signed tokens (HS256 JWT) for agents and visitors.

A visitor token names one conversation and can reach nothing else.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.gateway.config import GatewaySettings
from shared.events.envelope import new_id

_hasher = PasswordHasher()
ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def spend_a_password_check(password: str) -> None:
    """The argon2 work of a wrong password, for a sign-in with no account behind it: without it the answer
    came tens of milliseconds sooner, and the response time told which emails have accounts.

    argon2 runs on the event loop, as every password check here does: sign-in's lockout decides on the
    state it read before the check, and a check in a thread would let a burst of guesses at one account
    all decide on the same state."""
    verify_password(_no_ones_hash(), password)


@functools.cache
def _no_ones_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class AgentPrincipal:
    agent_id: str
    tenant: str
    role: Literal["agent", "supervisor"]
    # The sign-in this token belongs to (kept by refreshes) and when it was issued: what sign-out and
    # "sign out everywhere" revoke. Not part of who the agent is.
    session_id: str = field(default="", compare=False)
    issued_at: float = field(default=0.0, compare=False)

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"


@dataclass(frozen=True)
class VisitorPrincipal:
    conversation_id: str
    visitor_id: str
    tenant: str


def _sign(
    settings: GatewaySettings, kind: Literal["agent", "visitor"], expires: datetime, **claims: str | float
) -> str:
    signed = {**claims, "kind": kind, "exp": expires}
    return jwt.encode(signed, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)


def agent_token(
    settings: GatewaySettings, agent: AgentPrincipal, session_id: str | None = None
) -> tuple[str, datetime]:
    """A token of the sign-in `session_id` (a new one when None); `iat` to the microsecond, so "revoked
    before" is exact."""
    expires = datetime.now(UTC) + timedelta(minutes=settings.agent_token_minutes)
    sid = session_id or new_id()
    claims = {"sub": agent.agent_id, "tenant": agent.tenant, "role": agent.role, "sid": sid}
    token = _sign(settings, "agent", expires, **claims, iat=time.time())
    return token, expires


def visitor_token(settings: GatewaySettings, visitor: VisitorPrincipal) -> str:
    expires = datetime.now(UTC) + timedelta(days=settings.visitor_token_days)
    claims = {"sub": visitor.visitor_id, "conversation_id": visitor.conversation_id, "tenant": visitor.tenant}
    return _sign(settings, "visitor", expires, **claims)


class InvalidToken(Exception):
    pass


# Tokens already verified, with their claims: a visitor or agent sends the same token with every message,
# and checking its signature again cost more than the rest of the request's authentication. Bounded; the
# expiry is still checked on every use.
_VERIFIED: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
VERIFIED_TOKENS_KEPT = 10_000


def decode_token(settings: GatewaySettings, token: str, kind: Literal["agent", "visitor"]) -> dict[str, Any]:
    secret = settings.secret_key.get_secret_value()
    key = (secret, token, kind)
    if (known := _VERIFIED.get(key)) is not None:
        if known["exp"] > time.time():
            return known
        del _VERIFIED[key]
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token expired; sign in again") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("token invalid") from exc
    if claims.get("kind") != kind:
        raise InvalidToken(f"not a {kind} token")
    _VERIFIED[key] = claims
    if len(_VERIFIED) > VERIFIED_TOKENS_KEPT:
        _VERIFIED.popitem(last=False)
    return claims


def agent_of_token(settings: GatewaySettings, token: str) -> AgentPrincipal:
    """The agent a token speaks for, over HTTP or a WebSocket alike; InvalidToken when it speaks for none."""
    claims: dict[str, Any] = decode_token(settings, token, "agent")
    return AgentPrincipal(
        agent_id=claims["sub"],
        tenant=claims["tenant"],
        role=claims["role"],
        session_id=claims.get("sid", ""),
        issued_at=float(claims.get("iat", 0.0)),
    )


def visitor_of_token(settings: GatewaySettings, token: str) -> VisitorPrincipal:
    """The visitor a token speaks for, scoped to their one conversation; InvalidToken when it speaks for none."""
    claims = decode_token(settings, token, "visitor")
    return VisitorPrincipal(
        conversation_id=claims["conversation_id"], visitor_id=claims["sub"], tenant=claims["tenant"]
    )
