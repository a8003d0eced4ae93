"""Reads that name a position (`min_position`) on the real stack: while the projections are stopped the
gateway holds the read instead of answering from a view that lacks the event, answers with it once they
resume, and answers an unreachable position with 503 and Retry-After, never with a stale 200."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait

import httpx
import pytest

from tests.e2e.conftest import Stack, eventually, json_of, running_stack
from tests.infrastructure import Infrastructure

pytestmark = pytest.mark.e2e
WAIT_SECONDS = 20  # longer than the projections' stop below: the held reads answer once they resume


@pytest.fixture(scope="module")
def stack(infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        infrastructure,
        tmp_path_factory.mktemp("service-logs"),
        services=("services.conversation", "services.history", "services.gateway"),
        extra_env={"PARLEY_FRESH_READ_WAIT_SECONDS": str(WAIT_SECONDS)},
    ) as started:
        yield started


@pytest.fixture(scope="module")
def agent(stack: Stack) -> Iterator[httpx.Client]:
    stack.register("rhea@example.com", "Rhea Reader")
    with stack.client(stack.login("rhea@example.com", "correct horse battery")) as client:
        client.timeout = httpx.Timeout(WAIT_SECONDS + 15)
        yield client


def _start(stack: Stack) -> tuple[str, httpx.Client, int]:
    started = json_of(
        httpx.post(f"{stack.base_url}/api/visitor/conversations", json={"name": "Nina Now", "message": "Hi"}),
        201,
    )
    visitor = stack.client(started["visitor_token"])
    visitor.timeout = httpx.Timeout(WAIT_SECONDS + 15)
    return started["conversation_id"], visitor, started["events"][-1]["position"]


def test_a_read_waits_for_the_view_to_have_the_event_then_answers_with_it(
    stack: Stack, agent: httpx.Client
) -> None:
    conversation_id, visitor, started_at = _start(stack)
    seen = {"min_position": f"{conversation_id}:{started_at}"}
    # A conversation just started is waited for, not a 404.
    assert (
        json_of(agent.get(f"/api/agent/conversations/{conversation_id}", params=seen))["position"]
        >= started_at
    )

    projections = [stack.processes["conversation"].proc, stack.processes["history"].proc]
    for projection in projections:
        projection.send_signal(signal.SIGSTOP)
    try:
        posted = json_of(
            visitor.post("/api/visitor/conversation/messages", json={"text": "Is it shipped?"}), 201
        )
        (appended,) = posted["events"]
        assert appended["aggregate_id"] == conversation_id
        wanted = {"min_position": f"{conversation_id}:{appended['position']}"}
        with ThreadPoolExecutor(3) as pool:
            detail = pool.submit(agent.get, f"/api/agent/conversations/{conversation_id}", params=wanted)
            lines = pool.submit(
                agent.get, f"/api/agent/conversations/{conversation_id}/messages", params=wanted
            )
            own = pool.submit(visitor.get, "/api/visitor/conversation/messages", params=wanted)
            # No view can have the message while its projection is stopped: any answer now would be stale.
            done, _ = wait([detail, lines, own], timeout=1.5)
            assert not done, [future.result().text for future in done]
            for projection in projections:
                projection.send_signal(signal.SIGCONT)
            answered = json_of(detail.result())
            assert answered["position"] >= appended["position"]
            assert answered["last_message"]["text"] == "Is it shipped?"
            assert "Is it shipped?" in [line["text"] for line in json_of(lines.result())["items"]]
            assert "Is it shipped?" in [line["text"] for line in json_of(own.result())["items"]]
    finally:
        for projection in projections:
            projection.send_signal(signal.SIGCONT)
        visitor.close()


def test_a_position_the_view_does_not_reach_is_a_503_with_retry_after_not_a_stale_answer(
    stack: Stack, agent: httpx.Client
) -> None:
    conversation_id, visitor, started_at = _start(stack)
    with visitor:
        # The monitor lists the conversation once its view has it.
        eventually(lambda: _listed(agent, conversation_id, started_at))
        beyond = {"min_position": f"{conversation_id}:{started_at + 1_000_000}"}
        for response in (
            agent.get("/api/agent/monitor", params=beyond),
            visitor.get("/api/visitor/conversation", params=beyond),
        ):
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "1"
            error = response.json()["error"]
            assert error["code"] == "view_behind" and "ask again" in error["message"]
        # A visitor waits for their own conversation only.
        refused = visitor.get("/api/visitor/conversation", params={"min_position": "someone-else:1"})
        assert refused.status_code == 400 and "your own conversation" in refused.json()["error"]["message"]


def _listed(agent: httpx.Client, conversation_id: str, position: int) -> None:
    page = json_of(agent.get("/api/agent/monitor", params={"min_position": f"{conversation_id}:{position}"}))
    assert conversation_id in [item["id"] for item in page["items"]]
