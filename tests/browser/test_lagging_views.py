"""When the views lag behind the event log, or answers arrive out of order, the dashboard still ends up
showing what happened.

The conversation projection is paused (SIGSTOP) while Lia tags a chat: her socket hears of the tag at
once, but the view does not have it yet, so every refresh in that window answers without it. Once the
projection resumes, the sidebar must show the tag: the dashboard asks again until the view has caught up
with the last event it was pushed, instead of trusting whatever a fixed delay returned.
"""

from __future__ import annotations

import contextlib
import re
import signal
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Route, expect

from tests.browser.conftest import Pages
from tests.e2e.conftest import PASSWORD, Stack, json_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@contextlib.contextmanager
def projection_paused(stack: Stack) -> Iterator[None]:
    """The conversation projection stopped (SIGSTOP): its views lack every event appended meanwhile."""
    projection = stack.processes["conversation"].proc
    projection.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        projection.send_signal(signal.SIGCONT)


@pytest.fixture(scope="module")
def lia_id(stack: Stack) -> str:
    # Registered before the browser starts: registration runs its own event loop.
    return stack.register("lia@example.com", "Lia Lag")


def test_a_tag_added_while_the_views_lag_shows_once_they_catch_up(
    stack: Stack, lia_id: str, pages: Pages
) -> None:
    conversation_id = stack.joined_chat("lia@example.com", name="Paul Patient", message="My refund is late")
    sidebar = pages.chat("lia@example.com", conversation_id)
    lia = sidebar.page
    expect(sidebar).to_contain_text("Lia Lag")

    with projection_paused(stack):
        lia.get_by_role("textbox", name="Add tag").fill("refund")
        lia.get_by_role("textbox", name="Add tag").press("Enter")
        # Longer than any fixed refresh delay the dashboard used: every answer in this window is stale.
        lia.wait_for_timeout(2500)
    expect(sidebar.locator(".tag", has_text="refund")).to_be_visible()
    lia.wait_for_timeout(1500)  # and it stays: no later stale answer takes it away
    expect(sidebar.locator(".tag", has_text="refund")).to_be_visible()


def test_a_slow_answer_for_the_previous_monitor_tab_never_paints_over_the_chosen_one(
    stack: Stack, lia_id: str, pages: Pages
) -> None:
    """Under load the Monitor's first answer (Unassigned) can arrive after Lia has clicked All: the list
    must show All's answer, not the Unassigned one that came last."""
    started = json_of(
        httpx.post(
            f"{stack.base_url}/api/visitor/conversations",
            json={"name": "Ola Ordered", "message": "Where is my order?"},
        ),
        201,
    )
    with stack.client(stack.login("lia@example.com", PASSWORD)) as api:
        json_of(api.post(f"/api/agent/conversations/{started['conversation_id']}/join"))

    held: list[Route] = []

    def hold_unassigned(route: Route) -> None:
        if "filter=unassigned" in route.request.url and not held:
            held.append(route)  # answered later, after the All tab's answer
        else:
            route.continue_()

    lia = pages.agent("lia@example.com")
    lia.route("**/api/agent/monitor?*", hold_unassigned)
    lia.reload()
    while not held:
        lia.wait_for_timeout(50)
    lia.get_by_role("tab", name=re.compile("All")).click()
    expect(lia.locator(".monitor-row", has_text="Ola Ordered")).to_be_visible()
    held[0].continue_()
    lia.wait_for_timeout(1500)
    expect(lia.locator(".monitor-row", has_text="Ola Ordered")).to_be_visible()


def test_a_canned_response_added_or_deleted_while_the_views_lag_shows_once_they_catch_up(
    stack: Stack, lia_id: str, pages: Pages
) -> None:
    """The list of canned responses is read back after a save: with the projection paused, that read
    waits (503 view_behind, asked again) instead of painting the list without the new response for good."""
    lia = pages.agent("lia@example.com")
    lia.goto("/#/profile")
    canned = lia.locator(".canned-list")
    expect(canned).to_contain_text("No canned responses")
    with projection_paused(stack):
        lia.get_by_role("textbox", name="Shortcut").fill("late")
        lia.get_by_role("textbox", name="Canned response text").fill("Sorry for the wait, {visitor.name}.")
        lia.get_by_role("button", name="Add canned response").click()
        expect(lia.get_by_text("Canned response added")).to_be_visible()
        lia.wait_for_timeout(2500)  # longer than the gateway holds a read: the list is asked again
    expect(canned.locator(".canned-row", has_text="/late")).to_be_visible()

    with projection_paused(stack):
        lia.get_by_role("button", name="Delete /late").click()
        expect(lia.get_by_text("Deleted")).to_be_visible()
        lia.wait_for_timeout(2500)
    expect(canned).to_contain_text("No canned responses")
