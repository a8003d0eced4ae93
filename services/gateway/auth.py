"""Passwords (argon2id) and signed tokens (HS256 JWT) for agents and visitors.

A visitor token names one conversation and can reach nothing else.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.gateway.config import GatewaySettings

_hasher = PasswordHasher()
ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class AgentPrincipal:
    agent_id: str
    tenant: str
    role: Literal["agent", "supervisor"]

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"


@dataclass(frozen=True)
class VisitorPrincipal:
    conversation_id: str
    visitor_id: str
    tenant: str


def _sign(
    settings: GatewaySettings, kind: Literal["agent", "visitor"], expires: datetime, **claims: str
) -> str:
    signed = {**claims, "kind": kind, "exp": expires}
    return jwt.encode(signed, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)


def agent_token(settings: GatewaySettings, agent: AgentPrincipal) -> tuple[str, datetime]:
    expires = datetime.now(UTC) + timedelta(minutes=settings.agent_token_minutes)
    token = _sign(settings, "agent", expires, sub=agent.agent_id, tenant=agent.tenant, role=agent.role)
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


def decode_token(settings: GatewaySettings, token: str, kind: Literal["agent", "visitor"]) -> dict[str, str]:
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
    claims = decode_token(settings, token, "agent")
    return AgentPrincipal(agent_id=claims["sub"], tenant=claims["tenant"], role=claims["role"])  # type: ignore[arg-type]


def visitor_of_token(settings: GatewaySettings, token: str) -> VisitorPrincipal:
    """The visitor a token speaks for, scoped to their one conversation; InvalidToken when it speaks for none."""
    claims = decode_token(settings, token, "visitor")
    return VisitorPrincipal(
        conversation_id=claims["conversation_id"], visitor_id=claims["sub"], tenant=claims["tenant"]
    )
