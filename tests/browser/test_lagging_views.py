"""When the views lag behind the event log, the dashboard still ends up showing what happened.

The conversation projection is paused (SIGSTOP) while Lia tags a chat: her socket hears of the tag at
once, but the view does not have it yet, so every refresh in that window answers without it. Once the
projection resumes, the sidebar must show the tag: the dashboard asks again until the view has caught up
with the last event it was pushed, instead of trusting whatever a fixed delay returned.
"""

from __future__ import annotations

import signal

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Pages
from tests.e2e.conftest import Stack, json_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def lia_id(stack: Stack) -> str:
    # Registered before the browser starts: registration runs its own event loop.
    return stack.register("lia@example.com", "Lia Lag")


def test_a_tag_added_while_the_views_lag_shows_once_they_catch_up(
    stack: Stack, lia_id: str, pages: Pages
) -> None:
    started = json_of(
        httpx.post(
            f"{stack.base_url}/api/visitor/conversations",
            json={"name": "Paul Patient", "message": "My refund is late"},
        ),
        201,
    )
    conversation_id = started["conversation_id"]
    with stack.client(stack.login("lia@example.com", PASSWORD)) as api:
        json_of(api.post(f"/api/agent/conversations/{conversation_id}/join"))
    lia = pages.agent("lia@example.com")
    lia.goto(f"/#/chats/{conversation_id}")
    sidebar = lia.get_by_role("complementary", name="Conversation details")
    expect(sidebar).to_contain_text("Lia Lag")

    projection = stack.processes["conversation"].proc
    projection.send_signal(signal.SIGSTOP)
    try:
        lia.get_by_role("textbox", name="Add tag").fill("refund")
        lia.get_by_role("textbox", name="Add tag").press("Enter")
        # Longer than any fixed refresh delay the dashboard used: every answer in this window is stale.
        lia.wait_for_timeout(2500)
    finally:
        projection.send_signal(signal.SIGCONT)
    expect(sidebar.locator(".tag", has_text="refund")).to_be_visible()
    lia.wait_for_timeout(1500)  # and it stays: no later stale answer takes it away
    expect(sidebar.locator(".tag", has_text="refund")).to_be_visible()
