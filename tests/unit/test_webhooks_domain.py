"""Webhook rules: subscriptions (notes only when named), the retry schedule, what follows an attempt,
signatures a Standard Webhooks receiver accepts, and the addresses a webhook may not reach."""

from __future__ import annotations

import ipaddress
import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.webhooks.config import WebhookTargetSettings
from services.webhooks.domain import (
    DELIVERY_RETRY_POLICY,
    AttemptResult,
    Decision,
    Endpoint,
    decide,
    payload_body,
    subscribes,
    unknown_event_types,
)
from services.webhooks.sender import signed_headers
from services.webhooks.targets import TargetPolicy, TargetRefused, parse_target, refusal_of_address
from shared.events.conversation import ConversationClosed
from shared.events.envelope import Actor

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24="


def test_wildcards_cover_a_family_but_never_internal_notes() -> None:
    assert subscribes(["conversation.*"], "conversation.closed")
    assert subscribes(["*"], "conversation.message_posted")
    assert not subscribes(["*", "conversation.*"], "conversation.note_added")
    assert subscribes(["conversation.note_added"], "conversation.note_added")
    assert not subscribes(["conversation.closed"], "conversation.started")


def test_only_conversation_events_can_be_delivered() -> None:
    assert not subscribes(["*"], "agent.password_set")
    assert not subscribes(["agent.password_set"], "agent.password_set")
    assert unknown_event_types(["agent.password_set", "conversation.*", "*", "conversation.closed"]) == [
        "agent.password_set"
    ]
    assert unknown_event_types(["agent.*"]) == ["agent.*"]


def test_endpoints_receive_only_their_own_tenants_events() -> None:
    endpoint = Endpoint("e1", "acme", "https://example.com/h", ("*",), True, SECRET)
    closed = {"aggregate_id": "c1", "actor": Actor(kind="agent", id="a1"), "payload": {}}
    assert endpoint.wants(ConversationClosed(tenant="acme", **closed))
    assert not endpoint.wants(ConversationClosed(tenant="other", **closed))


def test_the_schedule_is_5s_30s_2min_10min_1h_6h_then_every_6h_for_3_days() -> None:
    policy = replace(DELIVERY_RETRY_POLICY, jitter=0)
    delays = [policy.nominal_delay(n) for n in range(1, 9)]
    assert delays == [5, 30, 120, 600, 3600, 21600, 21600, 21600]
    last = policy.max_attempts()
    assert policy.elapsed_before(last) <= 3 * 24 * 3600 < policy.elapsed_before(last + 1)
    assert policy.next_attempt_at(last, NOW, random.Random(1)) is None
    assert policy.next_attempt_at(1, NOW, random.Random(1)) == NOW + timedelta(seconds=5)


def test_jitter_stays_within_ten_percent_and_a_scale_compresses_everything() -> None:
    policy = DELIVERY_RETRY_POLICY
    rng = random.Random(7)
    for _ in range(100):
        at = policy.next_attempt_at(2, NOW, rng)
        assert at is not None and 27 <= (at - NOW).total_seconds() <= 33
    compressed = replace(DELIVERY_RETRY_POLICY.scaled(0.001), jitter=0)
    assert compressed.nominal_delay(1) == pytest.approx(0.005)
    assert compressed.max_attempts() == DELIVERY_RETRY_POLICY.max_attempts()


def _decide(result: AttemptResult, attempt: int = 1, failures: int = 0, threshold: int = 5) -> Decision:
    return decide(
        result=result,
        attempt=attempt,
        consecutive_failures=failures,
        policy=replace(DELIVERY_RETRY_POLICY, jitter=0),
        disable_after_failures=threshold,
        now=NOW,
        rng=random.Random(0),
    )


def test_a_success_resets_the_failures_and_a_failure_schedules_the_next_attempt() -> None:
    delivered = _decide(AttemptResult(204, 3.0), attempt=3, failures=4)
    assert (delivered.outcome, delivered.consecutive_failures) == ("delivered", 0)
    failed = _decide(AttemptResult(500, 3.0), attempt=2, failures=1)
    assert failed == Decision("retrying", NOW + timedelta(seconds=30), None, 2)


def test_the_threshold_disables_the_endpoint_with_the_reason_and_410_gives_up_at_once() -> None:
    failed = _decide(AttemptResult(None, 10_000.0, error="timed out after 10 s"), failures=4)
    assert failed.outcome == "retrying"
    assert failed.disable_reason == "5 consecutive failed attempts (last: timed out after 10 s)"
    gone = _decide(AttemptResult(410, 1.0))
    assert gone.outcome == "dead_lettered"
    assert gone.disable_reason == "the endpoint answered 410 Gone"
    last = _decide(AttemptResult(503, 1.0), attempt=DELIVERY_RETRY_POLICY.max_attempts())
    assert (last.outcome, last.disable_reason) == ("dead_lettered", None)


def test_a_standard_webhooks_receiver_verifies_the_signature_with_either_secret_during_a_rotation() -> None:
    event = {"type": "conversation.closed", "occurred_at": "2026-01-01T00:00:00Z", "event_id": "ev-1"}
    body = payload_body(event)
    rotated = Endpoint(
        "e1",
        "t",
        "https://example.com",
        ("*",),
        True,
        OTHER_SECRET,
        SECRET,
        datetime.now(UTC) + timedelta(hours=1),
    )
    headers = signed_headers(rotated, "ev-1", body, datetime.now(UTC))
    assert headers["webhook-id"] == "ev-1"
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (SECRET, OTHER_SECRET):
        assert Webhook(secret).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(body, headers)
    expired = Endpoint("e1", "t", "https://example.com", ("*",), True, OTHER_SECRET, SECRET, NOW)
    assert len(signed_headers(expired, "ev-1", body, datetime.now(UTC))["webhook-signature"].split(" ")) == 1
    assert json.loads(body) == {
        "type": "conversation.closed",
        "timestamp": "2026-01-01T00:00:00Z",
        "data": event,
    }


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:10.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
    ],
)
def test_internal_addresses_are_refused_in_production(address: str) -> None:
    assert refusal_of_address(ipaddress.ip_address(address), TargetPolicy()) is not None


def test_public_addresses_pass_and_loopback_only_when_allowed() -> None:
    assert refusal_of_address(ipaddress.ip_address("93.184.216.34"), TargetPolicy()) is None
    assert refusal_of_address(ipaddress.ip_address("127.0.0.1"), TargetPolicy(allow_loopback=True)) is None
    assert refusal_of_address(ipaddress.ip_address("10.0.0.1"), TargetPolicy(allow_loopback=True)) is not None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/x", "https://"),
        ("http://example.com/x", "https"),
        ("https://user:pw@example.com/", "credentials"),
        ("https:///nohost", "no host"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, problem: str) -> None:
    with pytest.raises(TargetRefused, match=problem):
        parse_target(url, TargetPolicy())


def test_loopback_and_http_are_allowed_outside_production_unless_a_setting_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PARLEY_WEBHOOK_ALLOW_LOOPBACK", raising=False)
    assert WebhookTargetSettings(environment="production").target_policy() == TargetPolicy()
    assert WebhookTargetSettings(environment="local").target_policy() == TargetPolicy(True, False)
    monkeypatch.setenv("PARLEY_WEBHOOK_ALLOW_LOOPBACK", "false")
    assert WebhookTargetSettings(environment="local").target_policy() == TargetPolicy()
