"""The Team page: Sue (supervisor) invites Cat and hands her the one-time link, Cat sets her password with
it and signs in (no Team page for her), Sue sets Cat's chat limit, promotes her (confirmed) and deactivates
Ann, who can no longer sign in."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Pages, screenshot
from tests.e2e.conftest import Stack, json_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
CAT = "Cat <img src=x onerror=alert(1)> Doe"


@pytest.fixture(scope="module")
def team(stack: Stack) -> Stack:
    stack.register("sue@team-page.test", "Sue Supervisor", role="supervisor")
    stack.register("ann@team-page.test", "Ann Agent")
    sue = stack.client(stack.login("sue@team-page.test", PASSWORD))
    json_of(sue.put("/api/agent/departments/sales", json={"name": "Sales", "members": []}))
    return stack


def test_a_supervisor_invites_promotes_and_deactivates_teammates(team: Stack, pages: Pages) -> None:
    page = pages.agent("sue@team-page.test")
    page.get_by_role("link", name="Team").click()
    ann_row = page.locator("tr", has_text="ann@team-page.test")
    expect(ann_row).to_contain_text("Agent")

    form = page.get_by_role("form", name="Invite a teammate")
    form.get_by_role("button", name="Invite").click()
    expect(form.get_by_role("alert")).to_contain_text("name and a valid email")
    form.get_by_label("Name").fill(CAT)
    form.get_by_label("Email").fill("cat@team-page.test")
    form.get_by_label("Max chats at once").fill("2")
    form.get_by_label("Sales").check()
    form.get_by_role("button", name="Invite").click()
    link_field = page.get_by_role("textbox", name=f"Link for {CAT}")
    expect(link_field).to_be_visible()
    link = link_field.input_value()
    assert link.startswith(f"{team.base_url}/set-password#token="), link
    page.get_by_role("button", name="Copy link").click()
    cat_row = page.locator("tr", has_text="cat@team-page.test")
    expect(cat_row).to_contain_text(CAT)  # shown as text, never as markup
    expect(cat_row).to_contain_text("Invited")
    expect(cat_row).to_contain_text("Sales")
    expect(cat_row).to_contain_text("0 / 2")
    screenshot(page, "team-page-invited")

    # Cat opens the link in her own browser, chooses a password and signs in.
    cat = pages.new()
    cat.goto(link)
    expect(cat).to_have_url(f"{team.base_url}/set-password")  # the token left the address bar
    cat.get_by_label("New password").fill("cats-new-password")
    cat.get_by_label("Repeat it").fill("cats-other-password")
    cat.get_by_role("button", name="Set password").click()
    expect(cat.get_by_role("alert")).to_contain_text("differ")
    cat.get_by_label("Repeat it").fill("cats-new-password")
    cat.get_by_role("button", name="Set password").click()
    expect(cat.get_by_text("Your password is set")).to_be_visible()
    screenshot(cat, "set-password-page")
    cat.get_by_role("link", name="Sign in").click()
    cat.get_by_label("Email").fill("cat@team-page.test")
    cat.get_by_label("Password").fill("cats-new-password")
    cat.get_by_role("button", name="Sign in").click()
    expect(cat.get_by_role("group", name="Availability")).to_be_visible()
    expect(cat.get_by_role("link", name="Team")).to_have_count(0)
    cat.goto("/#/team")
    expect(cat.get_by_text("The team is managed by supervisors")).to_be_visible()
    expect(cat_row).to_contain_text("available")  # her first sign-in, pushed to Sue's page

    # The same link again: refused, in words.
    reuse = pages.new()
    reuse.goto(link)
    reuse.get_by_label("New password").fill("someone-elses-password")
    reuse.get_by_label("Repeat it").fill("someone-elses-password")
    reuse.get_by_role("button", name="Set password").click()
    expect(reuse.get_by_role("alert")).to_contain_text("already used")

    # Her chat limit, from her row: 3 instead of the 2 she was invited with.
    page.get_by_label(f"Chat limit of {CAT}", exact=True).fill("3")
    page.get_by_role("button", name=f"Set the chat limit of {CAT}").click()
    expect(cat_row).to_contain_text("0 / 3")
    expect(page.get_by_label(f"Chat limit of {CAT}", exact=True)).to_have_value("3")
    screenshot(page, "team-page-chat-limit")

    # A role change signs her out: it waits for a confirmation, which can be cancelled.
    page.get_by_label(f"Role of {CAT}").select_option("supervisor")
    confirm = page.get_by_role("button", name=f"Confirm: make {CAT} a supervisor (signs them out)")
    expect(confirm).to_be_visible()
    cat_row.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(page.get_by_label(f"Role of {CAT}")).to_have_value("agent")
    page.get_by_label(f"Role of {CAT}").select_option("supervisor")
    confirm.click()
    expect(cat_row.locator("td").nth(1)).to_have_text("Supervisor")
    # Demoting herself would sign Sue out: the confirmation says so.
    page.get_by_label("Role of Sue Supervisor").select_option("agent")
    expect(page.get_by_role("button", name="Confirm: make me an agent (signs me out)")).to_be_visible()
    page.locator("tr", has_text="sue@team-page.test").get_by_role("button", name="Cancel").click()

    deactivate = page.get_by_role("button", name="Deactivate Ann Agent")
    deactivate.click()
    expect(deactivate).to_have_text("Confirm: deactivate Ann Agent")
    deactivate.click()
    expect(ann_row).to_contain_text("Deactivated")
    expect(ann_row.get_by_role("button", name="Reactivate Ann Agent")).to_be_visible()
    expect(page.get_by_label("Role of Ann Agent")).to_have_count(0)  # no role for an account that is off
    screenshot(page, "team-page")

    ann = pages.new()
    ann.goto("/")
    ann.get_by_label("Email").fill("ann@team-page.test")
    ann.get_by_label("Password").fill(PASSWORD)
    ann.get_by_role("button", name="Sign in").click()
    expect(ann.get_by_role("alert")).to_contain_text("this account is deactivated")
