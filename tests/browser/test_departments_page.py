"""Departments in the dashboard: a supervisor sets them up, an agent transfers a chat to one.

Sue (supervisor) creates Support, then Sales with two members and Support as its fallback; a limit the
API refuses shows in the form in the API's own words; the list names the members and changes when Sue
edits the strategy. Ann transfers a visitor's chat to Sales from the actions menu and the sidebar names
the new department. Ann, not a supervisor, has no Departments link and sees why on the page itself.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Pages, screenshot
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def team(stack: Stack) -> dict[str, str]:
    return {
        "sue": stack.register("sue@example.com", "Sue Supervisor", role="supervisor"),
        "ann": stack.register("ann@example.com", "Ann Agent"),
        "bob": stack.register("bob@example.com", "Bob Agent"),
    }


def department_form(page: Page) -> Locator:
    return page.get_by_role("form", name="Department")


def add_member(form: Locator, name: str) -> None:
    form.get_by_role("searchbox", name="Add member").fill(name.split()[0])
    form.get_by_role("option", name=re.compile(name)).click()
    expect(form.get_by_role("group", name="Members")).to_contain_text(name)


def test_a_supervisor_sets_up_departments_and_an_agent_transfers_a_chat(
    stack: Stack, team: dict[str, str], pages: Pages
) -> None:
    sue = pages.agent("sue@example.com")
    sue.get_by_role("link", name=re.compile("Departments")).click()
    expect(sue.get_by_text("No departments yet")).to_be_visible()

    # Support first: a fallback has to exist before another department can name it.
    form = department_form(sue)
    expect(form.get_by_role("heading", name="New department")).to_be_visible()
    form.get_by_label("Name").fill("Support")
    expect(form.get_by_label("ID")).to_have_value("support")
    add_member(form, "Bob Agent")
    form.get_by_role("button", name="Create department").click()
    expect(sue.get_by_text("Support created")).to_be_visible()
    departments = sue.get_by_role("table")
    expect(departments.get_by_role("row").filter(has_text="Support")).to_contain_text("Bob Agent")

    # Sales: two members, Support as the fallback, and a limit the API refuses at first.
    form.get_by_label("Name").fill("Sales")
    add_member(form, "Ann Agent")
    add_member(form, "Bob Agent")
    form.get_by_label("Fallback department").select_option(label="Support")
    form.get_by_label("Default max chats").fill("500")
    form.get_by_role("button", name="Create department").click()
    expect(form.get_by_role("alert")).to_contain_text("less than or equal to 100")
    form.get_by_label("Default max chats").fill("4")
    form.get_by_role("button", name="Create department").click()
    expect(sue.get_by_text("Sales created")).to_be_visible()
    expect(form.get_by_role("alert")).to_be_hidden()
    sales = departments.get_by_role("row").filter(has_text="Sales")
    expect(sales).to_contain_text("Ann Agent, Bob Agent")
    expect(sales).to_contain_text("Least busy")
    expect(sales.get_by_role("cell").nth(3)).to_have_text("Support")
    expect(sales.get_by_role("cell").nth(4)).to_have_text("4")

    # Editing keeps the members and changes the strategy; the list follows without a reload.
    sales.get_by_role("button", name="Edit Sales").click()
    expect(form.get_by_role("heading", name="Edit Sales")).to_be_visible()
    expect(form.get_by_label("ID")).to_be_hidden()
    expect(form.get_by_role("group", name="Members")).to_contain_text("Ann Agent")
    form.get_by_label("Strategy").select_option(label="Round robin")
    form.get_by_role("button", name="Save changes").click()
    expect(sue.get_by_text("Sales saved")).to_be_visible()
    expect(sales).to_contain_text("Round robin")
    expect(sales).not_to_contain_text("Least busy")
    expect(sales).to_contain_text("Ann Agent, Bob Agent")
    sue.reload()
    expect(sales).to_contain_text("Round robin")
    screenshot(sue, "departments")

    # A visitor writes; Ann joins, then transfers the chat to Sales from the actions menu.
    conversation_id = stack.joined_chat("ann@example.com", name="Bea Buyer", message="Do you ship to Norway?")
    sidebar = pages.chat("ann@example.com", conversation_id)
    ann = sidebar.page
    expect(sidebar).to_contain_text("Ann Agent")
    expect(sidebar).not_to_contain_text("Department")
    ann.get_by_role("button", name="Actions").click()
    ann.get_by_role("menuitem", name="Transfer to department…").click()
    dialog = ann.get_by_role("dialog", name="Transfer to department")
    choice = dialog.get_by_role("listitem").filter(has_text="Sales")
    expect(choice).to_contain_text("2 members · Round robin")
    choice.get_by_role("button", name="Transfer").click()
    expect(ann.get_by_text("Transferred to Sales")).to_be_visible()
    expect(dialog).to_be_hidden()
    expect(sidebar.locator(".facts")).to_contain_text(re.compile(r"Department\s*Sales"))


def test_agents_who_are_not_supervisors_have_no_departments_page(
    stack: Stack, team: dict[str, str], pages: Pages
) -> None:
    ann = pages.agent("ann@example.com")
    expect(ann.get_by_role("link", name=re.compile("Monitor"))).to_be_visible()
    expect(ann.get_by_role("link", name=re.compile("Departments"))).to_have_count(0)
    ann.goto("/#/departments")
    expect(ann.get_by_text("Departments are for supervisors")).to_be_visible()
    expect(ann.get_by_role("form", name="Department")).to_have_count(0)
