"""Signed tokens: a token verified once is taken on trust only until it expires, and only under its key."""

from __future__ import annotations

import time

import jwt
import pytest
from pydantic import SecretStr

from services.gateway import auth
from services.gateway.auth import InvalidToken, agent_token, decode_token
from services.gateway.config import GatewaySettings
from tests.unit.gateway_fakes import ANN


def test_a_remembered_token_still_expires() -> None:
    settings = GatewaySettings(secret_key=SecretStr("k" * 40))
    claims = {"sub": "ann", "tenant": "acme", "role": "agent", "kind": "agent", "exp": int(time.time()) + 1}
    token = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=auth.ALGORITHM)
    assert decode_token(settings, token, "agent")["sub"] == "ann"
    time.sleep(1.5)
    with pytest.raises(InvalidToken, match="expired"):
        decode_token(settings, token, "agent")


def test_a_remembered_token_is_not_valid_under_another_key_or_as_another_kind() -> None:
    settings = GatewaySettings(secret_key=SecretStr("a" * 40))
    token, _ = agent_token(settings, ANN)
    decode_token(settings, token, "agent")
    with pytest.raises(InvalidToken):
        decode_token(GatewaySettings(secret_key=SecretStr("b" * 40)), token, "agent")
    with pytest.raises(InvalidToken, match="not a visitor token"):
        decode_token(settings, token, "visitor")
