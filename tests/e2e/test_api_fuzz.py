"""Fuzzing the gateway from its own OpenAPI document: every operation, with an agent token, a visitor token
and none, gets the generated requests (typically a dozen to a hundred each, thousands in all), and not one is
answered with a 5xx.

Each test (one operation with one kind of token) stands alone: it signs in an agent or starts a visitor
conversation of its own, and checks it sent requests itself, so any order or any single test passes or
fails on its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass
class Fuzzing:
    """The headers one test sends, and how many requests it sent."""

    headers: dict[str, str]
    sent: int = 0


def _fuzzing(headers: dict[str, str]) -> Iterator[Fuzzing]:
    fuzzing = Fuzzing(headers)
    yield fuzzing
    # A test whose generator produced nothing would pass without testing anything.
    assert fuzzing.sent > 0, "no request was sent"


@pytest.fixture
def as_agent(stack: Stack) -> Iterator[Fuzzing]:
    """A supervisor of this test's own: whatever the fuzzer changes of them, no other test sees."""
    email = f"fuzz-{uuid.uuid4().hex[:12]}@example.com"
    stack.register(email, "Fuzz Agent", role="supervisor")
    token = stack.login(email, "correct horse battery")
    yield from _fuzzing({"Authorization": f"Bearer {token}"})


@pytest.fixture
def as_visitor(stack: Stack) -> Iterator[Fuzzing]:
    """A visitor with a conversation of this test's own."""
    started = json_of(httpx.post(f"{stack.base_url}/api/visitor/conversations", json={"name": "Fuzzy"}), 201)
    yield from _fuzzing({"Authorization": f"Bearer {started['visitor_token']}"})


@pytest.fixture
def anonymous() -> Iterator[Fuzzing]:
    yield from _fuzzing({})


def _call(case: Any, stack: Stack, fuzzing: Fuzzing) -> None:
    response = case.call(base_url=stack.base_url, headers=fuzzing.headers, timeout=15)
    fuzzing.sent += 1
    if response.status_code == 503 and response.json()["error"]["code"] == "view_behind":
        # A generated `min_position` the view has not reached: the documented answer, never a stale 200.
        assert response.headers["Retry-After"], "a view_behind answer says when to ask again"
        return
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )
    if response.status_code >= 400:
        assert response.json()["error"]["message"], "every error says what was wrong"


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_agent_requests_never_fail_with_5xx(case: Any, stack: Stack, as_agent: Fuzzing) -> None:
    _call(case, stack, as_agent)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_visitor_requests_never_fail_with_5xx(case: Any, stack: Stack, as_visitor: Fuzzing) -> None:
    _call(case, stack, as_visitor)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_anonymous_requests_never_fail_with_5xx(case: Any, stack: Stack, anonymous: Fuzzing) -> None:
    _call(case, stack, anonymous)
