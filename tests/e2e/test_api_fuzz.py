"""Fuzzing the gateway from its own OpenAPI document: over a thousand generated requests, with an agent
token, a visitor token and none, and not one answered with a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from services.gateway.app import create_app
from tests.e2e.conftest import Stack, json_of

pytestmark = pytest.mark.e2e

schema = schemathesis.openapi.from_dict(create_app().openapi())
EXAMPLES_PER_OPERATION = 12
requests_sent: dict[str, int] = {"total": 0}


@pytest.fixture(scope="module")
def tokens(stack: Stack) -> dict[str, dict[str, str]]:
    stack.register("fuzz@example.com", "Fuzz Agent", role="supervisor")
    agent = stack.login("fuzz@example.com", "correct horse battery")
    started = json_of(httpx.post(f"{stack.base_url}/api/visitor/conversations", json={"name": "Fuzzy"}), 201)
    return {
        "agent": {"Authorization": f"Bearer {agent}"},
        "visitor": {"Authorization": f"Bearer {started['visitor_token']}"},
        "anonymous": {},
    }


def _call(case: Any, stack: Stack, headers: dict[str, str]) -> None:
    response = case.call(base_url=stack.base_url, headers=headers, timeout=15)
    requests_sent["total"] += 1
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )
    if response.status_code >= 400:
        assert response.json()["error"]["message"], "every error says what was wrong"


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_agent_requests_never_fail_with_5xx(
    case: Any, stack: Stack, tokens: dict[str, dict[str, str]]
) -> None:
    _call(case, stack, tokens["agent"])


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_visitor_requests_never_fail_with_5xx(
    case: Any, stack: Stack, tokens: dict[str, dict[str, str]]
) -> None:
    _call(case, stack, tokens["visitor"])


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_anonymous_requests_never_fail_with_5xx(
    case: Any, stack: Stack, tokens: dict[str, dict[str, str]]
) -> None:
    _call(case, stack, tokens["anonymous"])


def test_the_fuzzer_sent_over_a_thousand_requests() -> None:
    assert requests_sent["total"] >= 1000, requests_sent
