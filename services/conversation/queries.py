"""Read functions over the conversation service's views, used by the gateway (which never writes views)."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any, Literal

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from shared.emails import normalized_email

View = dict[str, Any]
MonitorFilter = Literal["unassigned", "assigned", "mine", "offline", "all"]


async def get_conversation(
    *, conversations: AsyncCollection[View], tenant: str, conversation_id: str
) -> View | None:
    doc = await conversations.find_one({"_id": conversation_id})
    return doc if doc is not None and doc["tenant"] == tenant else None


async def monitor(
    *, conversations: AsyncCollection[View], tenant: str, agent_id: str, status_filter: MonitorFilter
) -> dict[str, Any]:
    """Open visitor conversations for the Monitor, with the count behind every filter tab."""
    open_docs = await (
        conversations.find({"tenant": tenant, "status": "open", "kind": "visitor"})
        .sort([("created_at", ASCENDING)])
        .to_list()
    )
    buckets: dict[str, list[View]] = {
        "unassigned": [d for d in open_docs if d["assignment"] != "assigned"],
        "assigned": [d for d in open_docs if d["assignment"] == "assigned"],
        "mine": [d for d in open_docs if d.get("assignee_id") == agent_id or agent_id in d["participants"]],
        # Messages left while the department was closed or nobody was available (views from before: False).
        "offline": [d for d in open_docs if d.get("offline")],
        "all": open_docs,
    }
    return {"items": buckets[status_filter], "counts": {name: len(docs) for name, docs in buckets.items()}}


async def chats_of(*, conversations: AsyncCollection[View], tenant: str, agent_id: str) -> list[View]:
    """The chat list in the left sidebar: open conversations the agent takes part in, newest activity first."""
    return await (
        conversations.find({"tenant": tenant, "status": "open", "participants": agent_id})
        .sort([("last_activity_at", DESCENDING)])
        .to_list()
    )


async def open_counts(*, conversations: AsyncCollection[View], tenant: str) -> Counter[str]:
    docs = await conversations.find(
        {"tenant": tenant, "status": "open", "assignment": "assigned"}, {"assignee_id": 1}
    ).to_list()
    return Counter(doc["assignee_id"] for doc in docs if doc.get("assignee_id"))


async def available_agent_ids(*, agents: AsyncCollection[View], tenant: str) -> set[str]:
    """The team's agents whose status is available (the widget's "anyone there?")."""
    docs = await agents.find({"tenant": tenant, "status": "available"}, {"_id": 1}).to_list()
    return {doc["_id"] for doc in docs}


async def get_agent(*, agents: AsyncCollection[View], tenant: str, agent_id: str) -> View | None:
    doc = await agents.find_one({"_id": agent_id})
    return doc if doc is not None and doc["tenant"] == tenant else None


async def agents_by_id(
    *, agents: AsyncCollection[View], tenant: str, agent_ids: list[str]
) -> dict[str, View]:
    # One `_id` lookup each rather than `$in`, which FerretDB does not send down to PostgreSQL's index;
    # a conversation has a handful of agents.
    docs = await asyncio.gather(
        *(agents.find_one({"_id": agent_id}) for agent_id in dict.fromkeys(agent_ids))
    )
    return {doc["_id"]: doc for doc in docs if doc is not None and doc["tenant"] == tenant}


async def search_agents(
    *, agents: AsyncCollection[View], conversations: AsyncCollection[View], tenant: str, text: str | None
) -> list[View]:
    # Deactivated agents take no chats: they are not offered to reassign, add or write to.
    query: dict[str, Any] = {"tenant": tenant, "deactivated": {"$ne": True}}
    if text:
        pattern = {"$regex": re.escape(text), "$options": "i"}
        query["$or"] = [{"name": pattern}, {"email": pattern}]
    docs = await agents.find(query).sort([("name", ASCENDING)]).limit(100).to_list()
    counts = await open_counts(conversations=conversations, tenant=tenant)
    return [{**doc, "open_conversations": counts.get(doc["_id"], 0)} for doc in docs]


async def credentials_by_email(*, credentials: AsyncCollection[View], email: str) -> View | None:
    """The account with this email and a password (an invitation still pending has none): sign-in finds
    the account that can sign in even if an older pending invitation elsewhere has the same email."""
    return await credentials.find_one({"email": normalized_email(email), "password_hash": {"$exists": True}})


async def email_taken(*, credentials: AsyncCollection[View], email: str) -> bool:
    """Whether any account, in any team, has this email: with a password or a pending invitation."""
    return await credentials.find_one({"email": normalized_email(email)}, {"_id": 1}) is not None


async def email_taken_by_another(*, credentials: AsyncCollection[View], email: str, agent_id: str) -> bool:
    """Whether a credentials document of another account (any team) has this email, with a password or a
    pending link."""
    other = await credentials.find_one(
        {"email": normalized_email(email), "_id": {"$ne": agent_id}}, {"_id": 1}
    )
    return other is not None


async def credentials_by_link_token(*, credentials: AsyncCollection[View], token_hash: str) -> View | None:
    """The account whose latest one-time link has this token (any team: the token is the only key)."""
    return await credentials.find_one({"link_token_hash": token_hash})


async def team(
    *, agents: AsyncCollection[View], credentials: AsyncCollection[View], tenant: str
) -> list[tuple[View, View | None]]:
    """Every agent of the team, deactivated and invited ones too, with their credentials (None before the
    view shows an invited account's link), by name."""
    docs = await team_agents(agents=agents, tenant=tenant)
    creds = await credentials.find(
        {"tenant": tenant}, {"password_hash": 1, "password_link": 1, "sign_in.locked_until": 1}
    ).to_list()
    by_id = {doc["_id"]: doc for doc in creds}
    return [(doc, by_id.get(doc["_id"])) for doc in docs]


async def team_agents(*, agents: AsyncCollection[View], tenant: str) -> list[View]:
    """Every agent of the team, deactivated and invited ones too, by name."""
    return await agents.find({"tenant": tenant}).sort([("name", ASCENDING)]).limit(1000).to_list()


async def agent_by_email(*, agents: AsyncCollection[View], tenant: str, email: str) -> View | None:
    return await agents.find_one({"tenant": tenant, "email": normalized_email(email)})


async def locked_accounts(*, credentials: AsyncCollection[View], tenant: str, now: float) -> dict[str, float]:
    """Agent id -> until when sign-in is locked (epoch seconds), for the team's accounts locked now."""
    docs = await credentials.find(
        {"tenant": tenant, "sign_in.locked_until": {"$gt": now}}, {"sign_in.locked_until": 1}
    ).to_list()
    return {doc["_id"]: doc["sign_in"]["locked_until"] for doc in docs}


async def credentials_of_agent(
    *, credentials: AsyncCollection[View], tenant: str, agent_id: str
) -> View | None:
    doc = await credentials.find_one({"_id": agent_id})
    return doc if doc is not None and doc["tenant"] == tenant else None


async def canned_responses(*, canned: AsyncCollection[View], tenant: str, text: str | None) -> list[View]:
    query: dict[str, Any] = {"tenant": tenant, "deleted": False}
    if text:
        pattern = {"$regex": re.escape(text), "$options": "i"}
        query["$or"] = [{"shortcut": pattern}, {"text": pattern}]
    return await canned.find(query).sort([("shortcut", ASCENDING)]).limit(200).to_list()


async def get_canned_response(*, canned: AsyncCollection[View], tenant: str, response_id: str) -> View | None:
    doc = await canned.find_one({"_id": response_id})
    return doc if doc is not None and doc["tenant"] == tenant and not doc["deleted"] else None


async def departments(*, departments: AsyncCollection[View], tenant: str) -> list[View]:
    return await departments.find({"tenant": tenant}).sort([("name", ASCENDING)]).to_list()


async def get_department(
    *, departments: AsyncCollection[View], tenant: str, department_id: str
) -> View | None:
    doc = await departments.find_one({"_id": department_id})
    return doc if doc is not None and doc["tenant"] == tenant else None
