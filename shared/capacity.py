"""How many chats an agent takes at once: one rule for the router, which enforces it, and the gateway,
which warns before a reassignment would exceed it and shows the limit on the dashboard."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

# Chatwoot and Tiledesk ship a handful; five keeps a new agent busy without drowning them.
TEAM_DEFAULT_MAX_CHATS = 5

LimitSource = Literal["agent", "department", "team"]


@dataclass(frozen=True, slots=True)
class ChatLimit:
    chats: int
    source: LimitSource  # where the number comes from, so the dashboard can say which limit applies


def chat_limit(
    own: int | None, *, department_default: int | None = None, member_defaults: Iterable[int | None] = ()
) -> ChatLimit:
    """The agent's own limit when set; else the conversation's department default; else, for an agent in
    several departments, the largest default among them; else the team default."""
    if own is not None:
        return ChatLimit(int(own), "agent")
    if department_default is not None:
        return ChatLimit(int(department_default), "department")
    defaults = [d for d in member_defaults if d is not None]
    if defaults:
        return ChatLimit(max(defaults), "department")
    return ChatLimit(TEAM_DEFAULT_MAX_CHATS, "team")


def limit_of_agent(
    agent: Mapping[str, Any], departments: Iterable[Mapping[str, Any]], department_id: str | None = None
) -> ChatLimit:
    """`chat_limit` over view documents: an agent view and the tenant's department views."""
    departments = list(departments)
    current = next((d for d in departments if d["_id"] == department_id), None)
    return chat_limit(
        agent.get("max_concurrent_chats"),
        department_default=current.get("default_max_chats") if current else None,
        member_defaults=(
            d.get("default_max_chats") for d in departments if agent["_id"] in d.get("members", [])
        ),
    )
