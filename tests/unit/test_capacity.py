"""Which chat limit applies to an agent: the rule the router enforces and the dashboard shows."""

from __future__ import annotations

from shared.capacity import TEAM_DEFAULT_MAX_CHATS, ChatLimit, chat_limit, limit_of_agent

SALES = {"_id": "sales", "members": ["ann", "bob"], "default_max_chats": 2}
SUPPORT = {"_id": "support", "members": ["ann"], "default_max_chats": 4}
BILLING = {"_id": "billing", "members": ["bob"], "default_max_chats": None}


def test_an_agents_own_limit_wins_over_every_default() -> None:
    assert chat_limit(7, department_default=2, member_defaults=[4]) == ChatLimit(7, "agent")
    assert limit_of_agent({"_id": "ann", "max_concurrent_chats": 1}, [SALES, SUPPORT], "sales").chats == 1


def test_without_one_the_conversations_department_default_applies() -> None:
    ann = {"_id": "ann", "max_concurrent_chats": None}
    assert limit_of_agent(ann, [SALES, SUPPORT], "sales") == ChatLimit(2, "department")
    assert limit_of_agent(ann, [SALES, SUPPORT], "support") == ChatLimit(4, "department")


def test_outside_a_department_the_largest_default_of_the_agents_departments_applies() -> None:
    ann = {"_id": "ann", "max_concurrent_chats": None}
    assert limit_of_agent(ann, [SALES, SUPPORT]) == ChatLimit(4, "department")
    # Bob's only other department sets no default: Sales' default is his.
    assert limit_of_agent({"_id": "bob"}, [SALES, BILLING], "billing") == ChatLimit(2, "department")


def test_with_no_department_defaults_the_team_default_applies() -> None:
    assert limit_of_agent({"_id": "cat", "max_concurrent_chats": None}, [SALES, BILLING]) == ChatLimit(
        TEAM_DEFAULT_MAX_CHATS, "team"
    )
