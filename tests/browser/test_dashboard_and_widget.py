"""The seed guide's story in a real browser: the demo shop's widget and three agent dashboards at once.

A visitor writes from the widget while nobody is available; Ann sees it in the Monitor without reloading,
joins and opens the chat, replies with text, an emoji, an image and a canned response, tags it and writes a
note the visitor never sees; Bob is added as a teammate and takes over when Ann leaves; Sam (supervisor)
reassigns it to Ann, who closes it with the X; the visitor rates it; it is in the history and search finds
it. Ann and Bob then chat without a visitor: no attach button there. User text is always shown as text.
"""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

import httpx
import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.browser.conftest import Pages, screenshot
from tests.e2e.conftest import PASSWORD, Stack, eventually, json_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _png(width: int, height: int) -> bytes:
    """A real image (a shipping label: white with a blue band) so the screenshots show the preview."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + (b"\x25\x63\xeb" if y < height // 3 else b"\xf5\xf5\xf4") * width for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = _png(160, 100)
LABEL: FilePayload = {"name": "label.png", "mimeType": "image/png", "buffer": PNG}
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def team(stack: Stack) -> dict[str, str]:
    ids = stack.register_team()
    with stack.client(stack.login("sam@example.com", PASSWORD)) as sam:
        json_of(
            sam.post(
                "/api/agent/canned-responses",
                json={"shortcut": "hello", "text": "Hi {visitor.name}, {agent.name} here."},
            ),
            201,
        )
    return ids


def set_available(page: Page) -> None:
    button = page.get_by_role("group", name="Availability").get_by_role("button", name="Available")
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")


def composer(page: Page) -> Any:
    return page.get_by_role("textbox", name="Message")


def thread(page: Page) -> Any:
    return page.get_by_role("log", name="Messages")


def open_actions(page: Page, item: str) -> None:
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name=item).click()


def test_the_seed_guide_story_in_the_browser(stack: Stack, team: dict[str, str], pages: Pages) -> None:
    ann = pages.agent("ann@example.com")
    expect(ann.get_by_text("All clear")).to_be_visible()

    # The visitor starts a chat from the demo shop's widget while every agent is offline.
    widget = pages.start_chat(
        "Vera Visitor", "vera@example.org", "Hello, my order never arrived", department="Support"
    )
    visitor = widget.page
    expect(widget.get_by_text("Hello, my order never arrived")).to_be_visible()
    expect(
        widget.get_by_text(re.compile(r"No agent is available right now\. You are #1 in line"))
    ).to_be_visible()

    # The conversation survives a reload (and another page of the shop).
    visitor.goto("/demo?page=orders")
    widget = visitor.get_by_role("dialog", name="Acme Support")
    expect(widget.get_by_text("Hello, my order never arrived")).to_be_visible()
    screenshot(visitor, "widget-queued")

    # Ann sees it in the Monitor without reloading, with the essentials in the right sidebar.
    row = ann.locator(".monitor-row", has_text="Vera Visitor")
    expect(row).to_be_visible()
    expect(ann.get_by_role("tab", name=re.compile("Unassigned"))).to_contain_text("1")
    expect(row).to_contain_text("Hello, my order never arrived")
    row.click()
    sidebar = ann.get_by_role("complementary", name="Conversation details")
    expect(sidebar).to_contain_text("vera@example.org")
    expect(sidebar).to_contain_text("Support")
    expect(sidebar).to_contain_text(re.compile(r"Queued"))
    screenshot(ann, "monitor")

    # Join to chat, then Open the chat.
    sidebar.get_by_role("button", name="Join to chat").click()
    sidebar.get_by_role("link", name="Open the chat").click()
    expect(ann).to_have_url(re.compile(r"#/chats/"))
    conversation_id = ann.url.rsplit("/", 1)[-1]
    expect(thread(ann)).to_contain_text("Hello, my order never arrived")
    expect(widget.get_by_text("An agent joined the chat")).to_be_visible()
    set_available(ann)

    # A reply with an emoji from the picker; the visitor reads it live.
    composer(ann).fill("Let me check ")
    ann.get_by_role("button", name="Insert emoji").click()
    ann.get_by_role("button", name="👋").click()
    expect(composer(ann)).to_have_value("Let me check 👋")
    composer(ann).press("Enter")
    expect(widget.get_by_text("Let me check 👋")).to_be_visible()
    expect(composer(ann)).to_have_value("")

    # An image with a preview before sending.
    ann.locator(".composer input[type=file]").set_input_files(files=[LABEL])
    expect(ann.locator(".previews img[alt='label.png']")).to_be_visible()
    composer(ann).fill("Your shipping label")
    composer(ann).press("Enter")
    expect(widget.get_by_text("Your shipping label")).to_be_visible()
    expect(widget.locator("img[alt='label.png']")).to_be_visible()
    expect(thread(ann).locator("img[alt='label.png']")).to_be_visible()

    # A canned response: type / to search, pick it, it fills the composer.
    composer(ann).fill("/hel")
    expect(ann.get_by_role("option", name="hello Hi {visitor.name}")).to_be_visible()
    composer(ann).press("Enter")
    expect(composer(ann)).to_have_value("Hi Vera Visitor, Ann Agent here.")
    composer(ann).press("Enter")
    expect(widget.get_by_text("Hi Vera Visitor, Ann Agent here.")).to_be_visible()

    # A tag, and an internal note that looks different and never reaches the visitor.
    # The visitor writes while Ann types the tag: the sidebar repaints, and what she typed stays.
    ann.get_by_role("textbox", name="Add tag").fill("shipping")
    widget.get_by_role("textbox", name="Message").fill("It was a blue parcel")
    widget.get_by_role("textbox", name="Message").press("Enter")
    expect(thread(ann)).to_contain_text("It was a blue parcel")
    details = ann.get_by_role("complementary", name="Conversation details")
    expect(details.locator("xpath=.//dt[.='Messages']/following-sibling::dd[1]")).to_have_text("5")
    expect(ann.get_by_role("textbox", name="Add tag")).to_have_value("shipping")
    ann.get_by_role("textbox", name="Add tag").press("Enter")
    expect(ann.locator(".right-sidebar .tag", has_text="shipping")).to_be_visible()
    ann.get_by_role("button", name="Private note").click()
    composer(ann).fill("VIP: refund if lost")
    composer(ann).press("Enter")
    expect(thread(ann).locator(".line.note", has_text="VIP: refund if lost")).to_be_visible()
    ann.get_by_role("button", name="Reply", exact=True).click()

    # Typing indicators both ways, then text that looks like HTML shows as text, never as markup.
    visitor_box = widget.get_by_role("textbox", name="Message")
    visitor_box.press_sequentially("Thanks")
    expect(ann.get_by_text("Vera Visitor is typing…")).to_be_visible()
    visitor_box.press("Enter")
    expect(thread(ann)).to_contain_text("Thanks")
    visitor_box.fill(XSS)
    visitor_box.press("Enter")
    expect(thread(ann).get_by_text(XSS)).to_be_visible()
    expect(widget.get_by_text(XSS)).to_be_visible()
    expect(ann.locator("img[src='x']")).to_have_count(0)
    expect(visitor.locator("img[src='x']")).to_have_count(0)
    composer(ann).press_sequentially("One")
    expect(widget.get_by_text("is typing…")).to_be_visible()
    composer(ann).fill("")
    screenshot(ann, "chat-with-sidebar")

    # Add Teammate: Bob (available) is picked with "Assign to"; Ann leaves and Bob takes over.
    bob = pages.agent("bob@example.com")
    set_available(bob)
    open_actions(ann, "Add Teammate…")
    ann.get_by_role("dialog", name="Add Teammate").get_by_role("listitem").filter(
        has_text="Bob Agent"
    ).get_by_role("button", name="Assign to").click()
    expect(ann.get_by_role("complementary", name="Conversation details")).to_contain_text("Bob Agent")
    open_actions(ann, "Leave")
    leaving = ann.get_by_role("dialog", name="Leave this conversation?")
    expect(leaving).to_contain_text("Bob Agent will take over the chat.")
    leaving.get_by_role("button", name="Leave").click()
    expect(ann).to_have_url(re.compile(r"#/chats$"))
    expect(widget.get_by_text("An agent left the chat")).to_be_visible()
    bob.get_by_role("link", name=re.compile("Chats")).click()
    bob.locator(".chat-item", has_text="Vera Visitor").click()
    expect(bob.locator(".thread-header")).to_contain_text("Assigned to Bob Agent")
    composer(bob).fill("Bob here, I am taking over.")
    composer(bob).press("Enter")
    expect(widget.get_by_text("Bob here, I am taking over.")).to_be_visible()
    expect(widget).not_to_contain_text("VIP")
    # Each reply is signed by the agent who wrote it, as Intercom and Chatwoot do.
    expect(widget.locator(".msg.theirs", has_text="Bob here").locator(".meta")).to_contain_text("Bob Agent")
    expect(widget.locator(".msg.theirs", has_text="Let me check").locator(".meta")).to_contain_text(
        "Ann Agent"
    )

    # Sam, a supervisor, reassigns it to Ann from the actions menu.
    sam = pages.agent("sam@example.com")
    sam.get_by_role("tab", name=re.compile("All")).click()
    sam.locator(".monitor-row", has_text="Vera Visitor").click()
    sam.get_by_role("link", name="View without joining").click()
    open_actions(sam, "Reassign…")
    sam.get_by_role("dialog", name="Reassign conversation").get_by_role("listitem").filter(
        has_text="Ann Agent"
    ).get_by_role("button", name="Reassign").click()
    expect(sam.locator(".thread-header")).to_contain_text("Assigned to Ann Agent")

    # Ann closes it with the X in the right sidebar; the visitor is asked for a rating.
    ann.locator(".chat-item", has_text="Vera Visitor").click()
    expect(ann.locator(".thread-header")).to_contain_text("Assigned to Ann Agent")
    ann.get_by_role("button", name="Close conversation").click()
    ann.get_by_role("dialog", name="Close this conversation?").get_by_role(
        "button", name="Close conversation"
    ).click()
    expect(ann.get_by_text("This conversation is closed.")).to_be_visible()
    expect(widget.get_by_text("How was this chat?")).to_be_visible()
    widget.get_by_role("radio", name="5 out of 5").click()
    widget.get_by_label("Comment").fill("Fast and friendly")
    widget.get_by_role("button", name="Send rating").click()
    expect(widget.get_by_text("Thanks for your feedback!")).to_be_visible()
    screenshot(visitor, "widget-rated")

    # The history has it, search finds it, the transcript downloads as text and HTML.
    ann.get_by_role("link", name=re.compile("History")).click()
    search = ann.get_by_role("searchbox", name="Search history")
    search.fill("never arrived")
    history_row = ann.locator(".history-row", has_text="Vera Visitor")
    expect(history_row).to_be_visible()
    history_row.click()
    transcript = ann.locator(".transcript")
    expect(transcript).to_contain_text("Hello, my order never arrived")
    expect(transcript).to_contain_text("VIP: refund if lost")
    with ann.expect_download() as text_download:
        ann.get_by_role("button", name="Download .txt").click()
    text = open(text_download.value.path(), encoding="utf-8").read()
    assert "Vera Visitor: Hello, my order never arrived" in text
    assert "(internal note): VIP: refund if lost" in text
    with ann.expect_download() as html_download:
        ann.get_by_role("button", name="Download .html").click()
    html = open(html_download.value.path(), encoding="utf-8").read()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and XSS not in html
    screenshot(ann, "history")
    search.fill("arriv")  # part of a word: search matches whole words, and says so
    expect(ann.get_by_text("Nothing found")).to_be_visible()
    expect(ann.get_by_text("Search finds whole words")).to_be_visible()

    # An agent-to-agent chat, started from the search field: notes allowed, no attach button.
    ann.get_by_role("link", name=re.compile("Chats")).click()
    ann.get_by_role("searchbox", name="Start a new chat with a teammate").fill("Bob")
    ann.get_by_role("option", name=re.compile("Bob Agent")).click()
    expect(ann.locator(".thread-header")).to_contain_text("Chat with Bob Agent")
    expect(composer(ann)).to_be_visible()
    expect(ann.get_by_role("button", name="Private note")).to_be_visible()
    expect(ann.get_by_role("button", name="Attach file")).to_have_count(0)
    composer(ann).fill("Can you cover my lunch break?")
    composer(ann).press("Enter")
    bob.get_by_role("link", name=re.compile("Chats")).click()
    direct = bob.locator(".chat-item", has_text="Chat with Ann Agent")
    expect(direct.get_by_label("1 unread")).to_be_visible()
    direct.click()
    expect(thread(bob)).to_contain_text("Can you cover my lunch break?")
    expect(bob.get_by_role("button", name="Attach file")).to_have_count(0)
    expect(direct.get_by_label("1 unread")).to_have_count(0)

    # The server refuses files in an agent-to-agent chat even without the button.
    direct_id = bob.url.rsplit("/", 1)[-1]
    with stack.client(stack.login("bob@example.com", PASSWORD)) as api:
        refused = api.post(
            f"/api/agent/conversations/{direct_id}/attachments",
            files={"file": ("x.png", PNG, "image/png")},
        )
    assert refused.status_code == 415 and "agent-to-agent" in refused.text, refused.text
    assert conversation_id != direct_id

    # Sam's reports count the closed chat and its rating; Ann, not a supervisor, has no Reports page.
    sam.get_by_role("link", name=re.compile("Reports")).click()
    expect(sam.locator(".stat", has_text="Customer satisfaction")).to_contain_text("5.00 / 5")
    expect(sam.locator(".card", has_text="Per tag")).to_contain_text("shipping")
    screenshot(sam, "reports")
    expect(ann.get_by_role("link", name=re.compile("Reports"))).to_have_count(0)


def test_pages_are_locked_down_and_errors_reach_the_user(
    stack: Stack, team: dict[str, str], pages: Pages
) -> None:
    for path in ("/", "/demo"):
        response = httpx.get(f"{stack.base_url}{path}")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    loader = httpx.get(f"{stack.base_url}/widget.js", headers={"Origin": "https://shop.example.org"})
    assert loader.headers["access-control-allow-origin"] == "*"
    agent_api = httpx.get(f"{stack.base_url}/api/agent/me", headers={"Origin": "https://shop.example.org"})
    assert "access-control-allow-origin" not in agent_api.headers

    page = pages.new()
    page.goto("/")
    page.get_by_label("Email").fill("ann@example.com")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("wrong email or password")


def test_the_actions_menu_stays_open_while_events_about_the_chat_arrive(
    stack: Stack, team: dict[str, str], pages: Pages
) -> None:
    # A team chat: nothing routes it, so only the events this test makes arrive while the menu is open.
    with stack.client(stack.login("bob@example.com", PASSWORD)) as bob:
        started = bob.post("/api/agent/direct-conversations", json={"agent_ids": [team["sam"]]})
        conversation_id = json_of(started, 201)["conversation_id"]
        with stack.client(stack.login("sam@example.com", PASSWORD)) as sam_api:
            eventually(
                lambda: _assert(
                    conversation_id in [c["id"] for c in json_of(sam_api.get("/api/agent/chats"))["items"]]
                )
            )
        sidebar = pages.chat("sam@example.com", conversation_id)
        sam = sidebar.page
        expect(sam.locator(".thread-header")).to_contain_text("Team chat")

        sam.get_by_role("button", name="Actions").click()
        add_teammate = sam.get_by_role("menuitem", name="Add Teammate…")
        expect(add_teammate).to_be_visible()
        # Bob tags the chat while Sam's menu is open: Sam's sidebar shows the tag, and the menu stays open.
        json_of(bob.post(f"/api/agent/conversations/{conversation_id}/tags", json={"tag": "lunch"}))
        expect(sidebar.get_by_role("button", name="Remove tag lunch")).to_be_visible()
        expect(add_teammate).to_be_visible()
        add_teammate.click()
        expect(sam.get_by_role("dialog", name="Add Teammate")).to_be_visible()


def _assert(condition: bool) -> None:
    assert condition
