"""Transcripts by email in the browser: after Ann closes the chat, Vera asks for the transcript in the widget;
Ann sends one to a colleague from the conversation's Actions menu; the sidebar shows both sent, and the real
SMTP server on loopback received both, without Ann's internal note."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Pages, screenshot
from tests.e2e.conftest import Stack, eventually
from tests.e2e.test_transcript_emails import mail_stack, mailbox  # noqa: F401  (module-scoped fixtures)
from tests.smtp_server import Mailbox, parts_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

NOTE = "VIP: refund if lost"


@pytest.fixture(scope="module")
def stack(mail_stack: Stack) -> Stack:  # noqa: F811  (the pages fixture's stack: one with the mailer)
    return mail_stack


def test_the_visitor_and_an_agent_email_the_transcript_after_the_chat(
    stack: Stack,
    pages: Pages,
    mailbox: Mailbox,  # noqa: F811
) -> None:
    ann = pages.agent("ann@example.com")
    widget = pages.start_chat("Wanda Widget", "wanda@example.com", "Where is my <b>parcel</b>?", height=860)
    visitor = widget.page
    expect(widget.get_by_text("Where is my <b>parcel</b>?")).to_be_visible()

    row = ann.locator(".monitor-row", has_text="Wanda Widget")
    row.click()
    sidebar = ann.get_by_role("complementary", name="Conversation details")
    sidebar.get_by_role("button", name="Join to chat").click()
    sidebar.get_by_role("link", name="Open the chat").click()
    expect(ann).to_have_url(re.compile(r"#/chats/"))
    message = ann.get_by_role("textbox", name="Message")
    message.fill("It left our warehouse today.")
    message.press("Enter")
    expect(widget.get_by_text("It left our warehouse today.")).to_be_visible()
    ann.get_by_role("button", name="Private note").click()
    message.fill(NOTE)
    message.press("Enter")
    expect(ann.locator(".line.note", has_text=NOTE)).to_be_visible()
    ann.get_by_role("button", name="Close conversation").click()
    ann.get_by_role("dialog", name="Close this conversation?").get_by_role(
        "button", name="Close conversation"
    ).click()

    # The widget offers the transcript once the chat has ended, to the email given before the chat.
    offer = widget.get_by_role("form", name="Email the transcript")
    expect(offer.get_by_label("Email for the transcript")).to_have_value("wanda@example.com")
    offer.get_by_role("button", name="Email me the transcript").click()
    expect(widget.get_by_text("We are sending the transcript to wanda@example.com.")).to_be_visible()
    screenshot(visitor, "widget-transcript-requested")

    def received_by(address: str) -> None:
        assert len(mailbox.to(address)) == 1

    eventually(lambda: received_by("wanda@example.com"))
    text, html = parts_of(mailbox.to("wanda@example.com")[0])
    assert "Where is my &lt;b&gt;parcel&lt;/b&gt;?" in html and "It left our warehouse today." in text
    assert NOTE not in text and NOTE not in html

    # Once her sidebar shows the first email sent, Ann emails it to a colleague from the Actions menu of the
    # closed conversation.
    emails = ann.get_by_role("list", name="Transcript emails")
    expect(emails).to_contain_text("Transcript sent to wanda@example.com")
    ann.get_by_role("button", name="Actions").click()
    ann.get_by_role("menuitem", name="Email transcript…").click()
    dialog = ann.get_by_role("dialog", name="Email the transcript")
    expect(dialog.get_by_label("Recipient email")).to_have_value("wanda@example.com")
    dialog.get_by_label("Recipient email").fill("lead@example.com")
    dialog.get_by_role("button", name="Send transcript").click()
    expect(emails).to_contain_text("Transcript sent to wanda@example.com")
    expect(emails).to_contain_text("Transcript sent to lead@example.com")
    expect(emails).to_contain_text("Sent by You")
    eventually(lambda: received_by("lead@example.com"))
    assert NOTE not in parts_of(mailbox.to("lead@example.com")[0])[0]
    screenshot(ann, "chat-transcript-emails")
