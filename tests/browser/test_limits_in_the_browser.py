"""The limits as people meet them in a browser, on a stack with the rate limits on: a visitor writing too
fast is told to wait and keeps what they typed; a supervisor sees a teammate's locked account on their
Profile page and unlocks it; Sign out ends the session on the server, not only in the tab."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Pages, screenshot
from tests.e2e.conftest import PASSWORD, Stack, eventually, running_stack
from tests.infrastructure import Infrastructure

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

MESSAGES_PER_VISITOR = 2


@pytest.fixture(scope="module")
def stack(infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    limits = {
        "PARLEY_RATE_LIMITS_ENABLED": "true",
        "PARLEY_LIMIT_MESSAGES_PER_VISITOR": f"{MESSAGES_PER_VISITOR}/600",
        "PARLEY_LOCKOUT_FAILURES": "3",
    }
    logs = tmp_path_factory.mktemp("browser-limits-logs")
    with running_stack(infrastructure, logs, extra_env=limits) as started:
        yield started


@pytest.fixture(scope="module")
def team(stack: Stack) -> None:
    """Registered before the browser starts: Playwright's sync API holds this thread's event loop."""
    stack.register("sal@example.com", "Sal Supervisor", role="supervisor")
    stack.register("lin@example.com", "Lin Locked")
    stack.register("sol@example.com", "Sol Signout")


def test_a_visitor_writing_too_fast_is_told_to_wait_and_keeps_the_text(
    stack: Stack, team: None, pages: Pages
) -> None:
    widget = pages.start_chat("Quinn Quick", "quinn@example.org", "Hello")
    visitor = widget.page
    expect(widget.get_by_text("Hello", exact=True)).to_be_visible()
    message = widget.get_by_role("textbox", name="Message")
    for n in range(MESSAGES_PER_VISITOR):
        message.fill(f"Line {n}")
        widget.get_by_role("button", name="Send").click()
        expect(widget.get_by_text(f"Line {n}")).to_be_visible()
        expect(message).to_have_value("")
    message.fill("One too many")
    widget.get_by_role("button", name="Send").click()
    expect(widget.get_by_role("alert")).to_contain_text(re.compile(r"too fast; please wait \d+ s"))
    expect(message).to_have_value("One too many")
    screenshot(visitor, "widget-rate-limited")


def test_a_supervisor_sees_a_locked_teammate_and_unlocks_them(stack: Stack, team: None, pages: Pages) -> None:
    stack.login("lin@example.com", PASSWORD)
    for _ in range(3):
        wrong = {"email": "lin@example.com", "password": "not it"}
        assert httpx.post(f"{stack.base_url}/api/agent/auth/login", json=wrong).status_code == 401
    sal = pages.agent("sal@example.com")
    sal.goto("/#/profile")
    card = sal.locator(".card", has=sal.get_by_role("heading", name="Locked accounts"))
    row = card.locator(".locked-row", has_text="Lin Locked")

    def shown() -> None:
        sal.reload()
        expect(row).to_be_visible(timeout=2000)

    eventually(shown, timeout=30, interval=0.5)
    expect(row).to_contain_text("Locked until")
    screenshot(sal, "profile-locked-accounts")
    row.get_by_role("button", name="Unlock Lin Locked").click()
    expect(sal.get_by_text("Lin Locked can sign in again")).to_be_visible()
    expect(row).to_be_hidden()
    assert stack.login("lin@example.com", PASSWORD)


def test_sign_out_ends_the_session_on_the_server(stack: Stack, team: None, pages: Pages) -> None:
    sol = pages.agent("sol@example.com")
    token = sol.evaluate("JSON.parse(localStorage.getItem('parley.agent.session')).access_token")
    me = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{stack.base_url}/api/agent/me", headers=me).status_code == 200
    sol.get_by_role("button", name="Sign out").click()
    expect(sol.get_by_role("button", name="Sign in")).to_be_visible()
    refused = httpx.get(f"{stack.base_url}/api/agent/me", headers=me)
    assert refused.status_code == 401, refused.text
