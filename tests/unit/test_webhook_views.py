"""The endpoint view fold: what supervisors see of an endpoint, including why it was disabled."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.webhooks.queries import SECRET_FIELDS
from services.webhooks.views import fold_endpoint
from shared.events import webhook as webhook_events
from shared.events.envelope import SYSTEM, Actor

SAM = Actor(kind="agent", id="sam")
FIRST, SECOND = "whsec_" + "A" * 32, "whsec_" + "B" * 32
ENVELOPE = {"tenant": "t", "aggregate_id": "e1"}


def test_disabling_records_the_reason_and_enabling_clears_it() -> None:
    doc = fold_endpoint(
        None,
        webhook_events.WebhookEndpointRegistered(
            **ENVELOPE, actor=SAM, payload={"url": "https://x.test/h", "event_types": ["*"], "secret": FIRST}
        ),
        0,
    )
    assert (doc["enabled"], doc["disabled_reason"], doc["position"]) == (True, None, 0)
    reason = "50 consecutive failed attempts (last: HTTP 500)"
    doc = fold_endpoint(
        doc,
        webhook_events.WebhookEndpointDisabled(
            **ENVELOPE, actor=SYSTEM, payload={"reason": reason, "consecutive_failures": 50}
        ),
        1,
    )
    assert (doc["enabled"], doc["disabled_reason"]) == (False, reason) and doc["disabled_at"] is not None
    doc = fold_endpoint(
        doc, webhook_events.WebhookEndpointUpdated(**ENVELOPE, actor=SAM, payload={"enabled": True}), 2
    )
    assert (doc["enabled"], doc["disabled_reason"], doc["disabled_at"], doc["event_types"]) == (
        True,
        None,
        None,
        ["*"],
    )


def test_a_rotation_keeps_the_previous_secret_until_its_time() -> None:
    registered = webhook_events.WebhookEndpointRegistered(
        **ENVELOPE, actor=SAM, payload={"url": "https://x.test/h", "event_types": ["*"], "secret": FIRST}
    )
    until = datetime(2030, 1, 1, tzinfo=UTC)
    rotated = webhook_events.WebhookSecretRotated(
        **ENVELOPE, actor=SAM, payload={"secret": SECOND, "previous_secret_valid_until": until}
    )
    doc = fold_endpoint(fold_endpoint(None, registered, 0), rotated, 1)
    assert (doc["secret"], doc["previous_secret"], doc["previous_secret_valid_until"]) == (
        SECOND,
        FIRST,
        until,
    )
    assert set(SECRET_FIELDS) <= set(doc)  # the fields the gateway's queries leave out


def test_a_change_to_an_endpoint_never_registered_is_refused() -> None:
    with pytest.raises(ValueError, match="never registered"):
        fold_endpoint(
            None, webhook_events.WebhookEndpointUpdated(**ENVELOPE, actor=SAM, payload={"enabled": True}), 0
        )
