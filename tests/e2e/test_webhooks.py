"""Webhooks end to end: the gateway, the conversation projection and the webhooks service as processes on the
real broker and database, delivering to real HTTP receivers on loopback that verify every signature with
the `standardwebhooks` library. The retry schedule is compressed 20,000 times (3 days take 13 s)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.webhooks.config import WebhooksSettings
from services.webhooks.views import WEBHOOKS_PROJECTION
from tests.e2e.conftest import Stack, assert_views_equal_replay, eventually, json_of, running_stack
from tests.infrastructure import Infrastructure
from tests.processes import ServiceProcess, free_port
from tests.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.e2e

SERVICES = ("services.conversation", "services.gateway", "services.webhooks")
DISABLE_AFTER = 20
SECRET_KEY = "webhook-e2e-secret-of-at-least-32-characters"


@pytest.fixture(scope="module")
def webhook_stack(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    extra_env = {
        "PARLEY_SECRET_KEY": SECRET_KEY,
        "PARLEY_WEBHOOK_ALLOW_LOOPBACK": "true",
        "PARLEY_WEBHOOK_RETRY_TIME_SCALE": "0.00005",
        "PARLEY_WEBHOOK_DISABLE_AFTER_FAILURES": str(DISABLE_AFTER),
    }
    logs = tmp_path_factory.mktemp("webhook-logs")
    with running_stack(infrastructure, logs, services=SERVICES, extra_env=extra_env) as started:
        yield started


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def supervisor(webhook_stack: Stack) -> httpx.Client:
    webhook_stack.register("sam@example.com", "Sam Super", role="supervisor")
    return webhook_stack.client(webhook_stack.login("sam@example.com", "correct horse battery"))


@pytest.fixture(scope="module")
def agent(webhook_stack: Stack) -> httpx.Client:
    webhook_stack.register("ann@example.com", "Ann Agent")
    return webhook_stack.client(webhook_stack.login("ann@example.com", "correct horse battery"))


def register(stack: Stack, supervisor: httpx.Client, receiver: Receiver, path: str, types: list[str]) -> str:
    created = json_of(
        supervisor.post("/api/agent/webhooks", json={"url": receiver.url(path), "event_types": types}), 201
    )
    receiver.secrets[path] = created["secret"]
    ops = f"http://127.0.0.1:{stack.processes['webhooks'].port}/metrics"
    endpoint_id: str = created["id"]

    def known_to_the_service() -> None:
        assert f'parley_webhook_endpoint_enabled{{endpoint="{endpoint_id}"}} 1' in httpx.get(ops).text

    eventually(known_to_the_service)
    return endpoint_id


def start(stack: Stack, name: str = "Vera") -> tuple[str, httpx.Client]:
    started = json_of(httpx.post(f"{stack.base_url}/api/visitor/conversations", json={"name": name}), 201)
    return started["conversation_id"], stack.client(started["visitor_token"])


def say(visitor: httpx.Client, text: str) -> str:
    event_id: str = json_of(visitor.post("/api/visitor/conversation/messages", json={"text": text}), 201)[
        "events"
    ][0]["event_id"]
    return event_id


def three_messages_to(
    path: str, stack: Stack, supervisor: httpx.Client, receiver: Receiver
) -> tuple[str, list[str]]:
    """An endpoint at `path` for visitor messages, and a visitor's three messages: (endpoint id, event ids)."""
    endpoint_id = register(stack, supervisor, receiver, path, ["conversation.message_posted"])
    _, visitor = start(stack)
    return endpoint_id, [say(visitor, f"message {n}") for n in range(3)]


def log_of(supervisor: httpx.Client, endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json_of(
        supervisor.get(f"/api/agent/webhooks/{endpoint_id}/deliveries", params={"limit": 200, **params})
    )["items"]
    return items


def test_every_subscribed_event_arrives_once_in_order_signed_and_notes_only_when_named(
    webhook_stack: Stack, supervisor: httpx.Client, agent: httpx.Client, receiver: Receiver
) -> None:
    everything = register(webhook_stack, supervisor, receiver, "/ok/everything", ["conversation.*"])
    register(webhook_stack, supervisor, receiver, "/ok/notes", ["conversation.note_added"])
    conversation_id, visitor = start(webhook_stack)
    say(visitor, "hello")
    say(visitor, "my order is late")

    def visible_to_agents() -> None:
        assert agent.get(f"/api/agent/conversations/{conversation_id}").status_code == 200

    eventually(visible_to_agents)
    json_of(agent.post(f"/api/agent/conversations/{conversation_id}/join"))

    def reply() -> None:  # a participant once the view has the join
        json_of(
            agent.post(f"/api/agent/conversations/{conversation_id}/messages", json={"text": "on it"}), 201
        )

    eventually(reply)
    json_of(
        agent.post(f"/api/agent/conversations/{conversation_id}/notes", json={"text": "VIP, be nice"}), 201
    )
    json_of(agent.post(f"/api/agent/conversations/{conversation_id}/close", json={}))
    expected = [
        "conversation.started",
        "conversation.message_posted",
        "conversation.message_posted",
        "conversation.participant_joined",
        "conversation.message_posted",
        "conversation.closed",
    ]

    def all_arrived() -> list[Any]:
        got = [r for r in receiver.at("/ok/everything") if r.body["data"]["aggregate_id"] == conversation_id]
        assert [r.body["type"] for r in got] == expected
        return got

    got = eventually(all_arrived)
    assert all(r.verified for r in got)
    assert [r.webhook_id for r in got] == [r.body["data"]["event_id"] for r in got]
    assert len({r.webhook_id for r in got}) == len(got)
    assert [r.body["data"]["payload"]["text"] for r in got if r.body["type"].endswith("posted")] == [
        "hello",
        "my order is late",
        "on it",
    ]
    notes = eventually(lambda: _one(receiver.at("/ok/notes")))
    assert notes.verified and notes.body["data"]["payload"]["text"] == "VIP, be nice"
    log = eventually(lambda: _at_least(log_of(supervisor, everything), len(expected)))
    assert {line["outcome"] for line in log} == {"delivered"} and {line["status_code"] for line in log} == {
        204
    }
    listed = json_of(supervisor.get("/api/agent/webhooks"))["items"]
    assert everything in [item["id"] for item in listed]
    assert not any("secret" in item or "previous_secret" in item for item in listed)


def test_a_failing_receiver_is_retried_with_order_kept(
    webhook_stack: Stack, supervisor: httpx.Client, receiver: Receiver
) -> None:
    path = "/flaky/2/messages"
    endpoint_id, sent = three_messages_to(path, webhook_stack, supervisor, receiver)

    def delivered() -> None:
        assert [r.webhook_id for r in receiver.at(path, accepted_only=True)] == sent

    eventually(delivered)
    # Each delivery failed twice before it went through, and the next one waited for it.
    assert [(r.webhook_id, r.status) for r in receiver.at(path)] == [
        (event_id, status) for event_id in sent for status in (503, 503, 200)
    ]
    log = eventually(lambda: _at_least(log_of(supervisor, endpoint_id), 9))
    first = sorted((line for line in log if line["event_id"] == sent[0]), key=lambda line: line["attempt"])
    assert [(line["attempt"], line["status_code"], line["outcome"]) for line in first] == [
        (1, 503, "retrying"),
        (2, 503, "retrying"),
        (3, 200, "delivered"),
    ]
    assert (
        first[0]["next_attempt_at"] and first[0]["latency_ms"] >= 0 and first[0]["response_excerpt"] == "ok"
    )


def test_a_supervisor_sends_one_delivery_again_or_replays_since_a_time(
    webhook_stack: Stack, supervisor: httpx.Client, receiver: Receiver
) -> None:
    path = "/ok/replayed"
    endpoint_id = register(webhook_stack, supervisor, receiver, path, ["conversation.message_posted"])
    since = datetime.now(UTC)
    _, visitor = start(webhook_stack)
    sent = [say(visitor, "one"), say(visitor, "two")]

    def accepted(expected: list[str]) -> None:
        assert [r.webhook_id for r in receiver.at(path, accepted_only=True)] == expected

    eventually(lambda: accepted(sent))
    line = eventually(lambda: _one(log_of(supervisor, endpoint_id, outcome="delivered")[-1:]))
    assert line["event_id"] == sent[0]  # newest first: the last is the first delivery
    json_of(supervisor.post(f"/api/agent/webhooks/{endpoint_id}/deliveries/{line['id']}/resend"))
    eventually(lambda: accepted([*sent, sent[0]]))  # the same webhook-id: it is the same event
    json_of(supervisor.post(f"/api/agent/webhooks/{endpoint_id}/replay", json={"since": since.isoformat()}))
    eventually(lambda: accepted([*sent, sent[0], *sent]))
    assert all(r.verified for r in receiver.at(path))
    missing = supervisor.post(f"/api/agent/webhooks/{endpoint_id}/deliveries/nope/resend")
    assert missing.status_code == 404
    naive = supervisor.post(
        f"/api/agent/webhooks/{endpoint_id}/replay", json={"since": "2026-01-01T00:00:00"}
    )
    assert naive.status_code == 400 and "time zone" in naive.json()["error"]["message"]


def test_410_gone_dead_letters_and_disables_the_endpoint(
    webhook_stack: Stack, supervisor: httpx.Client, receiver: Receiver
) -> None:
    endpoint_id = register(webhook_stack, supervisor, receiver, "/gone/x", ["conversation.started"])
    start(webhook_stack)

    def disabled() -> dict[str, Any]:
        endpoint: dict[str, Any] = json_of(supervisor.get(f"/api/agent/webhooks/{endpoint_id}"))
        assert endpoint["enabled"] is False
        return endpoint

    assert eventually(disabled)["disabled_reason"] == "the endpoint answered 410 Gone"
    (line,) = log_of(supervisor, endpoint_id, outcome="dead_lettered")
    assert (line["status_code"], line["attempt"]) == (410, 1)


def test_always_failing_dead_letters_after_the_last_attempt_disables_then_resumes_where_it_stopped(
    webhook_stack: Stack, supervisor: httpx.Client, receiver: Receiver
) -> None:
    path = "/down/crm"
    endpoint_id, sent = three_messages_to(path, webhook_stack, supervisor, receiver)

    def disabled() -> dict[str, Any]:
        endpoint: dict[str, Any] = json_of(supervisor.get(f"/api/agent/webhooks/{endpoint_id}"))
        assert endpoint["enabled"] is False
        return endpoint

    endpoint = eventually(disabled, timeout=60)
    assert endpoint["disabled_reason"].startswith(
        f"{DISABLE_AFTER} consecutive failed attempts (last: HTTP 500)"
    )
    (dead,) = eventually(lambda: _at_least(log_of(supervisor, endpoint_id, outcome="dead_lettered"), 1))
    assert dead["event_id"] == sent[0] and dead["attempt"] > 10
    assert {r.webhook_id for r in receiver.at(path)} <= set(sent[:2])  # the third never went out

    receiver.recover(path)
    json_of(supervisor.patch(f"/api/agent/webhooks/{endpoint_id}", json={"enabled": True}))

    def resumed() -> None:
        assert [r.webhook_id for r in receiver.at(path, accepted_only=True)] == sent[1:]

    eventually(resumed)
    assert json_of(supervisor.get(f"/api/agent/webhooks/{endpoint_id}"))["disabled_reason"] is None


def test_internal_addresses_and_bad_subscriptions_are_refused_at_registration(
    webhook_stack: Stack, supervisor: httpx.Client, agent: httpx.Client, receiver: Receiver
) -> None:
    for url, problem in [
        ("https://10.0.0.5/hook", "private"),
        ("https://169.254.169.254/latest", "metadata"),
        ("ftp://example.com/x", "https"),
    ]:
        error = supervisor.post("/api/agent/webhooks", json={"url": url, "event_types": ["*"]})
        assert error.status_code == 422 and problem in error.json()["error"]["message"], error.text
    unknown = supervisor.post(
        "/api/agent/webhooks", json={"url": receiver.url("/ok/x"), "event_types": ["agent.*"]}
    )
    assert unknown.status_code == 422 and "agent.*" in unknown.json()["error"]["message"]
    assert (
        agent.post(
            "/api/agent/webhooks", json={"url": receiver.url("/ok/x"), "event_types": ["*"]}
        ).status_code
        == 403
    )
    assert supervisor.get("/api/agent/webhooks/nope").status_code == 404
    assert supervisor.patch("/api/agent/webhooks/nope", json={"enabled": False}).status_code == 404
    endpoint_id = register(webhook_stack, supervisor, receiver, "/ok/empty-change", ["conversation.closed"])
    eventually(lambda: json_of(supervisor.get(f"/api/agent/webhooks/{endpoint_id}")))
    nothing = supervisor.patch(f"/api/agent/webhooks/{endpoint_id}", json={})
    assert nothing.status_code == 400 and "nothing to change" in nothing.json()["error"]["message"]


def _one(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


def _at_least(items: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    assert len(items) >= count, items
    return items


def test_a_killed_service_loses_no_pending_delivery_and_keeps_the_order(
    webhook_stack: Stack, supervisor: httpx.Client, receiver: Receiver
) -> None:
    path = "/down/while-killed"
    register(webhook_stack, supervisor, receiver, path, ["conversation.message_posted"])
    _, visitor = start(webhook_stack)
    sent = [say(visitor, "first"), say(visitor, "second")]

    def retrying() -> None:
        assert len([r for r in receiver.at(path) if r.webhook_id == sent[0]]) >= 3

    eventually(retrying)
    webhooks = webhook_stack.processes["webhooks"]
    webhooks.proc.kill()  # SIGKILL: the pending retry and the delivery waiting behind it are only in Kafka now
    webhooks.proc.wait()
    sent.append(say(visitor, "third, while the service is down"))
    receiver.recover(path)
    webhooks.crash_and_restart()
    webhooks.wait_http_ready(f"http://127.0.0.1:{webhooks.port}/healthz", timeout=60)

    def all_delivered() -> None:
        accepted = [r.webhook_id for r in receiver.at(path, accepted_only=True)]
        assert (
            list(dict.fromkeys(accepted)) == sent
        )  # duplicates only of an attempt in flight, same webhook-id

    eventually(all_delivered)


def test_a_production_gateway_refuses_loopback_endpoints(
    webhook_stack: Stack, supervisor: httpx.Client, receiver: Receiver, tmp_path: Path
) -> None:
    env = {**webhook_stack.env, "PARLEY_ENVIRONMENT": "production", "PARLEY_PORT": str(free_port())}
    env.pop("PARLEY_WEBHOOK_ALLOW_LOOPBACK")
    gateway = ServiceProcess("services.gateway", env, tmp_path / "production-gateway.log")
    try:
        gateway.wait_http_ready(f"http://127.0.0.1:{gateway.port}/healthz", timeout=60)
        production = httpx.Client(
            base_url=f"http://127.0.0.1:{gateway.port}", headers=dict(supervisor.headers), timeout=15
        )
        for url, problem in [
            (receiver.url("/ok/prod"), "must use https"),
            (f"https://127.0.0.1:{receiver.port}/ok/prod", "loopback"),
            (f"https://localhost:{receiver.port}/ok/prod", "loopback"),
        ]:
            refused = production.post("/api/agent/webhooks", json={"url": url, "event_types": ["*"]})
            assert refused.status_code == 422 and problem in refused.json()["error"]["message"], refused.text
    finally:
        gateway.stop()


def test_the_webhook_views_equal_a_replay_of_their_topics(webhook_stack: Stack) -> None:
    views = ("webhook_endpoints", "webhook_deliveries")
    assert_views_equal_replay(webhook_stack, WEBHOOKS_PROJECTION, WebhooksSettings, views)


def test_two_instances_share_the_deliveries_each_once_in_order(
    webhook_stack: Stack, supervisor: httpx.Client, receiver: Receiver, tmp_path: Path
) -> None:
    first = webhook_stack.processes["webhooks"]
    env = {**webhook_stack.env, "PARLEY_PORT": str(free_port())}
    second = ServiceProcess("services.webhooks", env, tmp_path / "second-webhooks.log")
    try:
        second.wait_http_ready(f"http://127.0.0.1:{second.port}/healthz", timeout=60)

        def both_assigned() -> None:
            for process in (first, second):
                metrics = httpx.get(f"http://127.0.0.1:{process.port}/metrics").text
                assert _metric(metrics, "parley_webhook_assigned_partitions") > 0, metrics

        eventually(both_assigned, timeout=60)
        path = "/ok/shared"
        endpoint_id = register(webhook_stack, supervisor, receiver, path, ["conversation.message_posted"])
        sent: dict[str, list[str]] = {}
        for n in range(16):
            conversation_id, visitor = start(webhook_stack, f"Visitor {n}")
            sent[conversation_id] = [say(visitor, f"{n}: first"), say(visitor, f"{n}: second")]

        def all_delivered_in_order() -> None:
            got = receiver.at(path, accepted_only=True)
            for conversation_id, event_ids in sent.items():
                ids = [r.webhook_id for r in got if r.body["data"]["aggregate_id"] == conversation_id]
                assert list(dict.fromkeys(ids)) == event_ids

        eventually(all_delivered_in_order)
        line = f'parley_webhook_attempts_total{{endpoint="{endpoint_id}",outcome="delivered"}}'
        counts = [
            _metric(httpx.get(f"http://127.0.0.1:{process.port}/metrics").text, line)
            for process in (first, second)
        ]
        assert all(count > 0 for count in counts) and sum(counts) == 32, counts
    finally:
        second.stop()


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0
