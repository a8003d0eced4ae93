"""Business hours in the browser: a supervisor sets the team's default hours in Departments; a visitor in
another time zone finds the widget closed, reads the opening hours in their own time, and leaves a message
with a file; an agent finds it under the Monitor's "Offline messages" filter with the visitor's email."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import FilePayload, expect

from tests.browser.conftest import Pages, screenshot
from tests.e2e.conftest import Stack, eventually, json_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

VISITOR_ZONE = "America/New_York"
OFFLINE_TEXT = "We're closed <b>for the night</b>."
NOTE: FilePayload = {"name": "order.txt", "mimeType": "text/plain", "buffer": b"order 1234"}


@pytest.fixture(scope="module")
def team(stack: Stack) -> None:
    # Registered before the browser starts: registering runs its own event loop, which Playwright's forbids.
    stack.register("sue@example.com", "Sue Supervisor", role="supervisor")
    stack.register("ann@example.com", "Ann Agent")


def test_a_visitor_leaves_a_message_while_the_team_is_closed_and_an_agent_finds_it(
    stack: Stack, team: None, pages: Pages
) -> None:
    # Sue sets the team's default hours: open tomorrow (UTC) only, so closed now.
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    day_label = tomorrow.strftime("%a")
    sue = pages.agent("sue@example.com")
    sue.get_by_role("link", name=re.compile("Departments")).click()
    form = sue.get_by_role("form", name="Department")
    form.get_by_label("Name").fill("Default")
    expect(form.get_by_label("ID")).to_have_value("default")
    form.get_by_label(re.compile("Always open")).uncheck()
    form.get_by_label("Time zone").fill("UTC")
    form.get_by_label(f"{day_label} hours").fill("9:00-17:00")
    form.get_by_role("button", name="Create department").click()
    expect(form.get_by_role("alert")).to_contain_text(
        f"{tomorrow.strftime('%A')}: write openings as 09:00-17:00"
    )
    form.get_by_label(f"{day_label} hours").fill("09:00-17:00")
    form.get_by_label("Offline text").fill(OFFLINE_TEXT)
    screenshot(sue, "departments-business-hours")
    form.get_by_role("button", name="Create department").click()
    expect(sue.get_by_text("Default created")).to_be_visible()
    row = sue.locator("tr[data-id='default']")
    expect(row).to_contain_text(f"{day_label} · UTC")

    def closed() -> None:
        answer = json_of(httpx.get(f"{stack.base_url}/api/visitor/availability"))
        assert answer["open"] is False

    eventually(closed)

    # The visitor, in New York, opens the widget: the offline text (as text), the hours in their own time.
    widget = pages.widget(height=900, timezone_id=VISITOR_ZONE, locale="en-US")
    visitor = widget.page
    message_form = widget.get_by_role("form", name="Leave a message")
    expect(message_form).to_contain_text(OFFLINE_TEXT)
    expect(message_form.locator("b")).to_have_count(0)
    opens = datetime.combine(tomorrow, time(9), tzinfo=UTC).astimezone(ZoneInfo(VISITOR_ZONE))
    expect(message_form).to_contain_text(f"Opening hours (your time, {VISITOR_ZONE})")
    expect(message_form.get_by_role("listitem").first).to_contain_text(opens.strftime("%I:%M %p"))
    expect(widget.get_by_role("button", name="Start chat")).to_have_count(0)
    screenshot(visitor, "widget-closed")

    message_form.get_by_role("button", name="Send message").click()
    expect(message_form.get_by_role("alert")).to_contain_text("your name, a valid email, a message")
    message_form.get_by_label("Your name").fill("Vera Visitor")
    expect(message_form.get_by_role("alert")).to_be_hidden()
    message_form.get_by_label(re.compile("Email")).fill("vera@example.org")
    message_form.get_by_label("Message").fill("Please call me back about order 1234")
    message_form.get_by_label(re.compile("Attachment")).set_input_files(files=[NOTE])
    screenshot(visitor, "widget-offline-form")
    message_form.get_by_role("button", name="Send message").click()
    expect(widget.get_by_text("Please call me back about order 1234")).to_be_visible()
    expect(widget.get_by_role("status")).to_contain_text("we got your message and will reply by email")
    expect(widget.get_by_text("order.txt")).to_be_visible()
    screenshot(visitor, "widget-offline-sent")

    # Ann finds it under its own filter, with the email, unassigned.
    ann = pages.agent("ann@example.com")
    offline_tab = ann.get_by_role("tab", name=re.compile("Offline messages"))
    expect(offline_tab).to_contain_text("1")
    offline_tab.click()
    row = ann.locator(".monitor-row", has_text="Vera Visitor")
    expect(row).to_contain_text("Offline message")
    expect(row).to_contain_text("vera@example.org")
    expect(row).to_contain_text(re.compile("Queued|Unassigned", re.IGNORECASE))
    screenshot(ann, "monitor-offline-filter")
