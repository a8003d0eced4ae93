"""The public paths under a flood, on the real stack over real HTTP: chat starts and visitor messages are
rate limited per address and per visitor (429 + Retry-After), wrong passwords lock the account on every
gateway instance without costing argon2 work, and a signed-out token stops working at once, socket too.

This stack turns the limits on with small windows, and trusts 127.0.0.1 as a proxy, so a test can speak
from other addresses with X-Forwarded-For.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.e2e.conftest import Stack, eventually, json_of, running_stack
from tests.infrastructure import Infrastructure
from tests.processes import ServiceProcess, free_port

pytestmark = pytest.mark.e2e

SERVICES = ("services.conversation", "services.history", "services.gateway")
PASSWORD = "correct horse battery"
STARTS_PER_WINDOW = 10
STARTS_WINDOW_SECONDS = 15
MESSAGES_PER_VISITOR = 5
LOCKOUT_FAILURES = 5
LIMITS = {
    "PARLEY_RATE_LIMITS_ENABLED": "true",
    "PARLEY_TRUSTED_PROXIES": '["127.0.0.1"]',
    "PARLEY_LIMIT_CONVERSATION_STARTS_PER_ADDRESS": f"{STARTS_PER_WINDOW}/{STARTS_WINDOW_SECONDS}",
    "PARLEY_LIMIT_MESSAGES_PER_VISITOR": f"{MESSAGES_PER_VISITOR}/600",
    # Wide enough that the 20 wrong passwords below meet the account lock first.
    "PARLEY_LIMIT_SIGN_INS_PER_ADDRESS": "200/600",
    "PARLEY_LIMIT_SIGN_INS_PER_ACCOUNT": "100/600",
    "PARLEY_LOCKOUT_FAILURES": str(LOCKOUT_FAILURES),
    "PARLEY_LOCKOUT_FIRST_SECONDS": "8",
}


@pytest.fixture(scope="module")
def stack(infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("rate-limit-logs")
    with running_stack(infrastructure, logs, services=SERVICES, extra_env=LIMITS) as started:
        yield started


@pytest.fixture(scope="module")
def second_gateway(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Another gateway instance on the same topics and views, as behind a load balancer."""
    port = free_port()
    logs = tmp_path_factory.mktemp("second-gateway")
    process = ServiceProcess(
        "services.gateway", {**stack.env, "PARLEY_PORT": str(port)}, logs / "gateway.log"
    )
    try:
        process.wait_http_ready(f"http://127.0.0.1:{port}/healthz", timeout=90)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


def _start(base_url: str, address: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": address} if address else {}
    body = {"name": "Flood", "message": "hello"}
    return httpx.post(f"{base_url}/api/visitor/conversations", json=body, headers=headers, timeout=30)


def _metric(base_url: str, name: str) -> float:
    text = httpx.get(f"{base_url}/metrics").text
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics:\n{text}"
    return float(match.group(1))


def _login(base_url: str, email: str, password: str) -> httpx.Response:
    return httpx.post(f"{base_url}/api/agent/auth/login", json={"email": email, "password": password})


def test_a_flood_of_chat_starts_from_one_address_is_held_back(stack: Stack) -> None:
    flood = "198.51.100.7"
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: _start(stack.base_url, flood), range(100)))
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(201) == STARTS_PER_WINDOW, statuses
    assert statuses.count(429) == 100 - STARTS_PER_WINDOW, statuses
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert 0 < int(refused.headers["Retry-After"]) <= STARTS_WINDOW_SECONDS
    error = refused.json()["error"]
    assert error["code"] == "too_many_requests" and "wait" in error["message"]
    assert (
        _metric(stack.base_url, 'parley_gateway_rate_limited_total{limit="conversation_starts_per_address"}')
        >= 90
    )

    # Another address is not affected.
    assert _start(stack.base_url, "203.0.113.50").status_code == 201

    # Once the window is over, the flooding address may start chats again.
    def passes_again() -> None:
        assert _start(stack.base_url, flood).status_code == 201

    eventually(passes_again, timeout=STARTS_WINDOW_SECONDS + 15, interval=1)


def test_a_visitor_writing_too_fast_is_told_to_wait_and_keeps_what_was_accepted(stack: Stack) -> None:
    started = json_of(_start(stack.base_url, "192.0.2.33"), 201)
    visitor = stack.client(started["visitor_token"])
    answers = [
        visitor.post("/api/visitor/conversation/messages", json={"text": f"line {n}"}) for n in range(8)
    ]
    assert [a.status_code for a in answers] == [201] * MESSAGES_PER_VISITOR + [429] * 3
    assert "wait" in answers[-1].json()["error"]["message"] and answers[-1].headers["Retry-After"]

    def all_accepted_lines_are_there() -> None:
        texts = [m["text"] for m in json_of(visitor.get("/api/visitor/conversation/messages"))["items"]]
        assert texts == ["hello", *(f"line {n}" for n in range(MESSAGES_PER_VISITOR))], texts

    eventually(all_accepted_lines_are_there)


def test_wrong_passwords_lock_the_account_without_hashing_during_the_lock(stack: Stack) -> None:
    stack.register("lou@example.com", "Lou Locked")
    stack.login("lou@example.com", PASSWORD)  # the credentials view has the account
    checks_before = _metric(stack.base_url, "parley_gateway_password_checks_total")
    answers = [_login(stack.base_url, "lou@example.com", "not my password") for _ in range(20)]
    statuses = [answer.status_code for answer in answers]
    assert statuses == [401] * LOCKOUT_FAILURES + [429] * (20 - LOCKOUT_FAILURES), statuses
    locked = _login(stack.base_url, "lou@example.com", PASSWORD)
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "account_locked"
    assert int(locked.headers["Retry-After"]) > 0
    # Only the attempts before the lock cost an argon2 verification.
    checks = _metric(stack.base_url, "parley_gateway_password_checks_total") - checks_before
    assert checks == LOCKOUT_FAILURES
    assert _metric(stack.base_url, "parley_gateway_accounts_locked_total") >= 1

    def signs_in_once_the_lock_ends() -> None:
        assert _login(stack.base_url, "lou@example.com", PASSWORD).status_code == 200

    eventually(signs_in_once_the_lock_ends, timeout=30, interval=1)


def test_two_gateway_instances_share_the_lockout_and_the_supervisor_sees_it(
    stack: Stack, second_gateway: str
) -> None:
    stack.register("sue@example.com", "Sue Supervisor", role="supervisor")
    stack.register("lea@example.com", "Lea Locked")
    supervisor = httpx.Client(
        base_url=second_gateway,
        headers={"Authorization": f"Bearer {stack.login('sue@example.com', PASSWORD)}"},
    )
    stack.login("lea@example.com", PASSWORD)
    for _ in range(LOCKOUT_FAILURES):
        assert _login(stack.base_url, "lea@example.com", "wrong").status_code == 401

    def shown_locked() -> str:
        [lea] = [
            a
            for a in json_of(supervisor.get("/api/agent/agents"))["items"]
            if a["email"] == "lea@example.com"
        ]
        assert lea["locked_until"], lea
        return str(lea["id"])

    lea_id = eventually(shown_locked)
    checks_before = _metric(second_gateway, "parley_gateway_password_checks_total")
    refused = _login(second_gateway, "lea@example.com", PASSWORD)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "account_locked"
    assert _metric(second_gateway, "parley_gateway_password_checks_total") == checks_before

    # A supervisor lifts the lock; both instances let Lea in again.
    assert supervisor.post(f"/api/agent/agents/{lea_id}/unlock").status_code == 204
    eventually(lambda: _assert_status(_login(stack.base_url, "lea@example.com", PASSWORD), 200))


def _assert_status(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text


def test_a_signed_out_token_is_refused_on_every_instance_and_its_socket_closes(
    stack: Stack, second_gateway: str
) -> None:
    stack.register("rex@example.com", "Rex Revoked")
    token = stack.login("rex@example.com", PASSWORD)
    headers = {"Authorization": f"Bearer {token}"}
    url = second_gateway.replace("http://", "ws://") + f"/ws/agent?token={token}"
    with connect(url, open_timeout=10) as socket:
        assert json.loads(socket.recv(timeout=10))["kind"] == "ready"
        assert httpx.get(f"{second_gateway}/api/agent/me", headers=headers).status_code == 200
        assert httpx.post(f"{stack.base_url}/api/agent/auth/logout", headers=headers).status_code == 204
        assert httpx.get(f"{stack.base_url}/api/agent/me", headers=headers).status_code == 401
        with pytest.raises(ConnectionClosed) as closed:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                socket.recv(timeout=deadline - time.monotonic())
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    eventually(lambda: _assert_status(httpx.get(f"{second_gateway}/api/agent/me", headers=headers), 401))
    # A new sign-in is a new session.
    assert httpx.get(f"{stack.base_url}/api/agent/me", headers=_bearer(stack)).status_code == 200


def _bearer(stack: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.login('rex@example.com', PASSWORD)}"}
