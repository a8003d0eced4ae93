"""Playwright against Debian's Chromium (installed by `make setup`), on the e2e stack of real processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright

from tests.e2e.conftest import PASSWORD as PASSWORD  # re-exported: bench/reads.py signs in with it
from tests.e2e.conftest import Stack, stack  # noqa: F401  (the module-scoped stack fixture, re-exported)
from tests.processes import REPO_ROOT

CHROMIUM = os.environ.get("PARLEY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"

# Views are eventually consistent and routing decides asynchronously: give auto-waiting room, never sleep.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (deploy/local/install-browser.sh installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Pages:
    """Fresh browser contexts (separate storage, like separate people) that fail the test on a JS error."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    def new(
        self,
        *,
        width: int = 1440,
        height: int = 900,
        timezone_id: str | None = None,
        locale: str | None = None,
    ) -> Page:
        """`timezone_id` (IANA) and `locale` are the browser's own, as a visitor abroad has them."""
        context = self.browser.new_context(
            base_url=self.base_url,
            viewport={"width": width, "height": height},
            accept_downloads=True,
            timezone_id=timezone_id,
            locale=locale,
        )
        context.set_default_timeout(20_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.on("dialog", lambda dialog: self.errors.append(f"unexpected dialog: {dialog.message}"))
        return page

    def agent(self, email: str) -> Page:
        page = self.new()
        page.goto("/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("group", name="Availability")).to_be_visible()
        return page

    def widget(
        self, *, height: int = 800, timezone_id: str | None = None, locale: str | None = None
    ) -> Locator:
        """A visitor on the demo shop who opened the chat widget; its `.page` is the visitor's tab."""
        visitor = self.new(width=1280, height=height, timezone_id=timezone_id, locale=locale)
        visitor.goto("/demo")
        visitor.get_by_role("button", name="Open chat").click()
        return visitor.get_by_role("dialog", name="Acme Support")

    def start_chat(
        self, name: str, email: str, message: str, *, department: str | None = None, height: int = 800
    ) -> Locator:
        """A visitor who started a chat from the demo shop's widget with this first message."""
        widget = self.widget(height=height)
        widget.get_by_label("Your name").fill(name)
        widget.get_by_label("Email").fill(email)
        if department is not None:
            widget.get_by_label("Department (optional)").select_option(department)
        widget.get_by_label("Message").fill(message)
        widget.get_by_role("button", name="Start chat").click()
        return widget

    def chat(self, agent_email: str, conversation_id: str) -> Locator:
        """The agent's dashboard open on one chat: its sidebar (`.page` is the agent's tab)."""
        page = self.agent(agent_email)
        page.goto(f"/#/chats/{conversation_id}")
        return page.get_by_role("complementary", name="Conversation details")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Browser, stack: Stack) -> Iterator[Pages]:  # noqa: F811
    opened = Pages(browser, stack.base_url)
    yield opened
    opened.close()
    assert not opened.errors, opened.errors


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
