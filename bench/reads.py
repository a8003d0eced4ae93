"""Read requests per chat message: how many GETs to /api/... the dashboard and the widget make to keep up.

`python -m bench.reads` starts the stack as real processes (isolated topics and database, on the
infrastructure `make infra-up` started), opens Debian's Chromium with Playwright: one agent with the
Monitor in one tab and the open chat in another, and a visitor in the demo shop's widget. The visitor
writes N messages, the agent answers a few and tags the chat; each line is waited for on both sides.
Every GET to /api/ made after the pages settled is counted, per page, and divided by the messages sent.
Prints a JSON line; the numbers chose how the browser reads its own writes (README, "Fresh reads").
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Page, Request, expect, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Pages
from tests.e2e.conftest import Stack, json_of, running_stack
from tests.infrastructure import Infrastructure

SETTLE_MS = 4000  # after the last line shows: late refreshes of the run still count


def _count_reads(page: Page, name: str, counts: Counter[str], paths: Counter[str]) -> None:
    def on_request(request: Request) -> None:
        path = urlsplit(request.url).path
        if request.method == "GET" and path.startswith("/api/"):
            counts[name] += 1
            paths[f"{name} GET {'/'.join(p if len(p) < 30 else '{id}' for p in path.split('/'))}"] += 1

    page.on("request", on_request)


def measure(stack: Stack, *, messages: int, replies: int) -> dict[str, object]:
    stack.register("mia@example.com", "Mia Measure", role="supervisor", max_chats=5)
    counts: Counter[str] = Counter()
    paths: Counter[str] = Counter()
    started = json_of(
        httpx.post(
            f"{stack.base_url}/api/visitor/conversations", json={"name": "Rita Reader", "message": "Hi"}
        ),
        201,
    )
    conversation_id = started["conversation_id"]
    with stack.client(stack.login("mia@example.com", PASSWORD)) as api:
        json_of(api.post(f"/api/agent/conversations/{conversation_id}/join"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = Pages(browser, stack.base_url)
        monitor = pages.agent("mia@example.com")
        chat = monitor.context.new_page()  # a second tab of the same session
        chat.goto(f"/#/chats/{conversation_id}")
        thread = chat.get_by_role("log", name="Messages")
        expect(thread).to_contain_text("Hi")
        monitor.get_by_role("tab", name="All").click()
        expect(monitor.locator(".monitor-row", has_text="Rita Reader")).to_be_visible()

        # The visitor's widget carries on the chat started above, as after a reload of the shop.
        visitor = pages.new()
        visit = {"token": started["visitor_token"], "conversation_id": conversation_id, "name": "Rita Reader"}
        visitor.add_init_script(f"localStorage.setItem('parley.visitor', {json.dumps(json.dumps(visit))})")
        visitor.goto("/demo")
        visitor.get_by_role("button", name="Open chat").click()
        widget = visitor.get_by_role("dialog", name="Acme Support")
        expect(widget.get_by_text("Hi", exact=True)).to_be_visible()
        monitor.wait_for_timeout(SETTLE_MS)

        _count_reads(monitor, "dashboard", counts, paths)
        _count_reads(chat, "dashboard", counts, paths)
        _count_reads(visitor, "widget", counts, paths)
        field = widget.get_by_role("textbox", name="Message")
        for n in range(messages):
            field.fill(f"visitor line {n}")
            field.press("Enter")
            expect(thread).to_contain_text(f"visitor line {n}")
            if n < replies:
                chat.get_by_role("textbox", name="Message").fill(f"agent line {n}")
                chat.get_by_role("textbox", name="Message").press("Enter")
                expect(widget.get_by_text(f"agent line {n}")).to_be_visible()
        chat.get_by_role("textbox", name="Add tag").fill("measured")
        chat.get_by_role("textbox", name="Add tag").press("Enter")
        expect(monitor.locator(".monitor-row", has_text="Rita Reader")).to_be_visible()
        chat.wait_for_timeout(SETTLE_MS)
        pages.close()
        browser.close()
    assert not pages.errors, pages.errors
    sent = messages + replies
    return {
        "messages": sent,
        "dashboard_reads": counts["dashboard"],
        "widget_reads": counts["widget"],
        "reads_per_message": round((counts["dashboard"] + counts["widget"]) / sent, 2),
        "dashboard_per_message": round(counts["dashboard"] / sent, 2),
        "widget_per_message": round(counts["widget"] / sent, 2),
        "by_path": dict(paths.most_common()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=12, help="visitor messages")
    parser.add_argument("--replies", type=int, default=4, help="agent answers among them")
    args = parser.parse_args()
    infra = Infrastructure(
        kafka_bootstrap=os.environ.get("PARLEY_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        mongodb_uri=os.environ.get("PARLEY_MONGODB_URI", "mongodb://127.0.0.1:27017"),
    )
    with tempfile.TemporaryDirectory() as logs, running_stack(infra, Path(logs)) as stack:
        httpx.get(f"{stack.base_url}/readyz", timeout=10)
        result = measure(stack, messages=args.messages, replies=args.replies)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
