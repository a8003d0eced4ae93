"""The Webhooks page: Sue (supervisor) registers an endpoint, sees its signing secret once, and watches the
deliveries of a visitor's chat arrive in the endpoint's log; the receiver verified every signature."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Pages, screenshot
from tests.e2e.conftest import Stack, eventually, json_of
from tests.e2e.test_webhooks import receiver, start, webhook_stack  # noqa: F401  (module-scoped fixtures)
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def stack(webhook_stack: Stack) -> Stack:  # noqa: F811  (the pages fixture's stack: one with the webhooks service)
    webhook_stack.register("sue@example.com", "Sue Supervisor", role="supervisor")
    return webhook_stack


def test_a_supervisor_registers_an_endpoint_and_sees_deliveries_in_its_log(
    stack: Stack,
    pages: Pages,
    receiver: Receiver,  # noqa: F811
) -> None:
    path = "/ok/browser"
    page = pages.agent("sue@example.com")
    page.get_by_role("link", name="Webhooks").click()
    form = page.get_by_role("form", name="New webhook endpoint")
    form.get_by_label("URL").fill(receiver.url(path))
    form.get_by_role("button", name="Register endpoint").click()
    secret = form.locator("code.webhook-secret")
    expect(secret).to_contain_text("whsec_")
    receiver.secrets[path] = secret.inner_text()
    row = page.locator("tr", has_text=receiver.url(path))
    expect(row).to_contain_text("Enabled")

    token = stack.login("sue@example.com", "correct horse battery")
    ops = f"http://127.0.0.1:{stack.processes['webhooks'].port}/metrics"
    items = json_of(
        httpx.get(f"{stack.base_url}/api/agent/webhooks", headers={"Authorization": f"Bearer {token}"})
    )
    (endpoint_id,) = [item["id"] for item in items["items"] if item["url"] == receiver.url(path)]
    eventually(
        lambda: _assert_in(
            f'parley_webhook_endpoint_enabled{{endpoint="{endpoint_id}"}} 1', httpx.get(ops).text
        )
    )
    conversation_id, _ = start(stack, "Browsing Bea")

    eventually(
        lambda: _assert_in(conversation_id, [r.body["data"]["aggregate_id"] for r in receiver.at(path)])
    )
    assert all(r.verified for r in receiver.at(path))
    page.get_by_role("button", name=f"Deliveries of {receiver.url(path)}").click()
    log = page.get_by_role("table", name="Delivery log")
    expect(log).to_contain_text("conversation.started")
    expect(log).to_contain_text("delivered")
    page.get_by_role("button", name="Send conversation.started again").first.click()

    def sent_twice() -> None:
        assert len(receiver.at(path)) == 2

    eventually(sent_twice)
    expect(log.locator("tbody tr")).to_have_count(2)
    screenshot(page, "webhooks-page")


def _assert_in(item: object, container: object) -> None:
    assert item in container  # type: ignore[operator]
