"""Every hot query Parley sends is served by an index, on FerretDB-on-PostgreSQL as on MongoDB.

The gateway's read functions run once against an empty database while a command listener records what
they send; each recorded command then goes through the server's `explain` against the same collections
filled with enough documents that the planner cares (with the indexes the projections declare). A
sequential scan (PostgreSQL's "Seq Scan", MongoDB's "COLLSCAN") fails the query's case.
The queries not served yet are listed in NOT_SERVED_YET (xfail); once one is served, its case fails until
it is taken off the list.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from services.conversation import queries as conversation_queries
from services.conversation.views import ConversationViews
from services.gateway.freshness import MAX_WANTED, applied_positions
from services.history import queries as history_queries
from services.history.domain import day_of
from services.history.views import HistoryViews
from shared.mongo import Document
from shared.settings import ParleySettings
from tests.infrastructure import Infrastructure

TENANTS = 100
PER_TENANT = 20  # 2,000 documents in each view, 10,000 transcript lines
LINES_PER_CONVERSATION = 5
TENANT = "t7"
AGENT = "a7-3"
SINCE = datetime(2026, 1, 1, tzinfo=UTC)
NOW = SINCE + timedelta(days=2)

Views = dict[str, Any]
Query = Callable[[Views], Awaitable[object]]


class Recorder(CommandListener):
    def __init__(self) -> None:
        self.commands: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name in ("find", "aggregate", "count"):
            body = {k: v for k, v in event.command.items() if not k.startswith("$") and k != "lsid"}
            self.commands.append((event.command_name, body))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


def _views(db: AsyncDatabase[Document]) -> Views:
    return {
        "conversations": db["conversations"],
        "agents": db["agents"],
        "credentials": db["agent_credentials"],
        "canned": db["canned_responses"],
        "departments": db["departments"],
        "messages": db["history_messages"],
        "closed": db["history_conversations"],
    }


def _doc(tenant: int, n: int) -> Document:
    """One shape for every view: only the fields the filters read matter to the planner."""
    at = SINCE + timedelta(minutes=tenant * PER_TENANT + n)
    return {
        "_id": f"c{tenant}-{n}",
        "tenant": f"t{tenant}",
        "status": "open" if n % 4 == 0 else "closed",
        "kind": "visitor",
        "assignment": "assigned" if n % 2 else "queued",
        "assignee_id": f"a{tenant}-{n % 5}",
        "participants": [f"a{tenant}-{n % 5}"],
        "agent_ids": [f"a{tenant}-{n % 5}"],
        "tags": ["vip"] if n % 10 == 0 else [],
        "name": f"Name {n}",
        "email": f"a{tenant}-{n}@example.com",
        "link_token_hash": f"{tenant:032x}{n:032x}",
        "shortcut": f"s{n}",
        "text": f"text {n}",
        "deleted": False,
        "position": n,
        "created_at": at,
        "last_activity_at": at,
        "closed_at": at,
        "closed_day": day_of(at),
        "search_terms": ["hello", f"word{n}", f"name{tenant}"],
    }


def _line(tenant: int, n: int, line: int) -> Document:
    return {
        "_id": f"c{tenant}-{n}:{line:012d}",
        "tenant": f"t{tenant}",
        "conversation_id": f"c{tenant}-{n}",
        "position": line,
        "kind": "message",
        "internal": False,
        "text": f"hello {line}",
    }


QUERIES: dict[str, Query] = {
    "conversation by id": lambda v: conversation_queries.get_conversation(
        conversations=v["conversations"], tenant=TENANT, conversation_id="c7-3"
    ),
    "monitor": lambda v: conversation_queries.monitor(
        conversations=v["conversations"], tenant=TENANT, agent_id=AGENT, status_filter="all"
    ),
    "my chats": lambda v: conversation_queries.chats_of(
        conversations=v["conversations"], tenant=TENANT, agent_id=AGENT
    ),
    "open counts": lambda v: conversation_queries.open_counts(
        conversations=v["conversations"], tenant=TENANT
    ),
    "agent by id": lambda v: conversation_queries.get_agent(
        agents=v["agents"], tenant=TENANT, agent_id=AGENT
    ),
    "available agents": lambda v: conversation_queries.available_agent_ids(agents=v["agents"], tenant=TENANT),
    "agents by ids": lambda v: conversation_queries.agents_by_id(
        agents=v["agents"], tenant=TENANT, agent_ids=[AGENT, "a7-4"]
    ),
    "agent search": lambda v: conversation_queries.search_agents(
        agents=v["agents"], conversations=v["conversations"], tenant=TENANT, text="ann"
    ),
    "credentials by email": lambda v: conversation_queries.credentials_by_email(
        credentials=v["credentials"], email="a7-3@example.com"
    ),
    "email taken": lambda v: conversation_queries.email_taken(
        credentials=v["credentials"], email="a7-3@example.com"
    ),
    "email taken by another account": lambda v: conversation_queries.email_taken_by_another(
        credentials=v["credentials"], email="a7-3@example.com", agent_id="a7-3"
    ),
    "credentials by link token": lambda v: conversation_queries.credentials_by_link_token(
        credentials=v["credentials"], token_hash="ab" * 32
    ),
    "agent by email": lambda v: conversation_queries.agent_by_email(
        agents=v["agents"], tenant=TENANT, email="a7-3@example.com"
    ),
    "team": lambda v: conversation_queries.team(
        agents=v["agents"], credentials=v["credentials"], tenant=TENANT
    ),
    "canned responses": lambda v: conversation_queries.canned_responses(
        canned=v["canned"], tenant=TENANT, text=None
    ),
    "canned response by id": lambda v: conversation_queries.get_canned_response(
        canned=v["canned"], tenant=TENANT, response_id="c7-3"
    ),
    "departments": lambda v: conversation_queries.departments(departments=v["departments"], tenant=TENANT),
    "department by id": lambda v: conversation_queries.get_department(
        departments=v["departments"], tenant=TENANT, department_id="c7-3"
    ),
    "transcript": lambda v: history_queries.list_messages(
        messages=v["messages"], conversation_id="c7-3", include_internal=False, tenant=TENANT
    ),
    "transcript after a position": lambda v: history_queries.list_messages(
        messages=v["messages"], conversation_id="c7-3", include_internal=True, after_position=2
    ),
    "closed history": lambda v: history_queries.search_closed(
        conversations=v["closed"], tenant=TENANT, now=NOW
    ),
    "closed history by tag and agent": lambda v: history_queries.search_closed(
        conversations=v["closed"],
        tenant=TENANT,
        now=NOW,
        search=history_queries.ClosedSearch(tag="vip", agent_id=AGENT),
    ),
    "closed history by text": lambda v: history_queries.search_closed(
        conversations=v["closed"],
        tenant=TENANT,
        now=NOW,
        search=history_queries.ClosedSearch(text="Hello word3"),
    ),
    "report": lambda v: history_queries.report(
        conversations=v["closed"], tenant=TENANT, since=SINCE, until=SINCE + timedelta(days=30)
    ),
    # A read naming positions (`?min_position=`) polls the positions of the documents it names.
    "positions applied": lambda v: applied_positions(v["conversations"], TENANT, ["c7-3", "c7-4"]),
    # The projections: load a view document by id, replace it only if its position is still the one loaded.
    "view load": lambda v: v["conversations"].find_one({"_id": "c7-3"}),
    "view write guard": lambda v: v["conversations"].find_one({"_id": "c7-3", "position": 3}),
}

# Not served yet, and on which servers. A case listed here that is served now fails, so the list stays true.
NOT_SERVED_YET: dict[str, tuple[str, set[str]]] = {}


@dataclass
class Plans:
    db: AsyncDatabase[Document]
    server: str  # ferretdb or mongodb
    commands: dict[str, list[tuple[str, dict[str, Any]]]]


@pytest.fixture(scope="module")
async def plans(infrastructure: Infrastructure) -> AsyncIterator[Plans]:
    run = uuid.uuid4().hex[:10]
    recorder = Recorder()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        infrastructure.mongodb_uri, tz_aware=True, event_listeners=[recorder]
    )
    empty, seeded = client[f"parley_plans_empty_{run}"], client[f"parley_plans_{run}"]
    try:
        commands: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for name, query in QUERIES.items():
            recorder.commands.clear()
            await query(_views(empty))
            commands[name] = list(recorder.commands)

        settings = ParleySettings(mongodb_uri=infrastructure.mongodb_uri, mongodb_database=seeded.name)
        await ConversationViews(seeded, settings).ensure_indexes()
        await HistoryViews(seeded).ensure_indexes()
        docs = [_doc(t, n) for t in range(TENANTS) for n in range(PER_TENANT)]
        lines = [
            _line(t, n, line)
            for t in range(TENANTS)
            for n in range(PER_TENANT)
            for line in range(LINES_PER_CONVERSATION)
        ]
        for collection in _views(seeded).values():
            rows = lines if collection.name == "history_messages" else docs
            for start in range(0, len(rows), 1000):
                await collection.insert_many(rows[start : start + 1000])
        build = await client.admin.command("buildInfo")
        yield Plans(seeded, "ferretdb" if "ferretdbVersion" in build else "mongodb", commands)
    finally:
        await client.drop_database(empty.name)
        await client.drop_database(seeded.name)
        await client.close()


MONGODB_INDEX_STAGES = {"IXSCAN", "IDHACK", "EXPRESS_IXSCAN", "COUNT_SCAN", "DISTINCT_SCAN"}


def _nodes(plan: object) -> Iterator[dict[str, Any]]:
    """Every node of an explain result, whichever server wrote it."""
    if isinstance(plan, dict):
        yield plan
        children: list[object] = list(plan.values())
    elif isinstance(plan, list):
        children = plan
    else:
        children = []
    for child in children:
        yield from _nodes(child)


def _scans(plan: object) -> tuple[list[str], list[str]]:
    """The sequential and the index scans in an explain result, whichever server wrote it."""
    sequential: list[str] = []
    indexed: list[str] = []
    for step in _nodes(plan):
        node, stage = step.get("Node Type"), step.get("stage")
        if node == "Seq Scan" or stage == "COLLSCAN":
            sequential.append(f"{node or stage} on {step.get('Relation Name', step.get('namespace'))}")
        if (isinstance(node, str) and "Index" in node) or stage in MONGODB_INDEX_STAGES:
            indexed.append(f"{node or stage} on {step.get('Index Name', step.get('indexName'))}")
    return sequential, indexed


@pytest.mark.parametrize("name", list(QUERIES))
async def test_hot_query_uses_an_index(plans: Plans, name: str) -> None:
    assert plans.commands[name], f"{name} sent no query"
    problems = []
    for command_name, body in plans.commands[name]:
        explained = await plans.db.command(
            "explain", {command_name: body[command_name], **body}, verbosity="queryPlanner"
        )
        sequential, indexed = _scans(explained)
        if sequential or not indexed:
            sent = body.get("filter", body.get("pipeline", body.get("query")))
            problems.append(f"{command_name} {sent}: {sequential or 'no index scan'}")
    reason, servers = NOT_SERVED_YET.get(name, ("", set()))
    if plans.server in servers:
        if problems:
            pytest.xfail(f"not served yet: {reason}")
        pytest.fail(f"{name} is served by an index now: take it off NOT_SERVED_YET")
    assert not problems, problems


CROWDED = 5_000  # one tenant's documents


def _index_scans_not_on_id(plan: object) -> list[str]:
    """The index scans of an explain result that read another index than `_id`'s: FerretDB names the field in
    the Index Cond of PostgreSQL's plan, MongoDB in the stage (IDHACK) or its keyPattern."""
    found: list[str] = []
    for step in _nodes(plan):
        node, stage = step.get("Node Type"), step.get("stage")
        if isinstance(node, str) and "Index" in node and "'_id'::text" not in str(step.get("Index Cond")):
            found.append(f"{node} on {step.get('Index Name')}")
        if stage in MONGODB_INDEX_STAGES and stage != "IDHACK" and step.get("keyPattern") != {"_id": 1}:
            found.append(f"{stage} on {step.get('indexName')}")
    return found


async def test_a_read_naming_many_documents_finds_each_through_the_id_index(
    infrastructure: Infrastructure,
) -> None:
    """The most documents a read may name, in one tenant's view of thousands: an index on the tenant narrows
    nothing here, so a plan through it reads (or ANDs in) the tenant's whole view as surely as a Seq Scan
    does. Every query applied_positions sends must reach its document through the `_id` index alone."""
    recorder = Recorder()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        infrastructure.mongodb_uri, tz_aware=True, event_listeners=[recorder]
    )
    db = client[f"parley_plans_crowded_{uuid.uuid4().hex[:10]}"]
    try:
        settings = ParleySettings(mongodb_uri=infrastructure.mongodb_uri, mongodb_database=db.name)
        await ConversationViews(db, settings).ensure_indexes()
        docs = [_doc(0, n) for n in range(CROWDED)] + [_doc(1, n) for n in range(PER_TENANT)]
        for start in range(0, len(docs), 1000):
            await db["conversations"].insert_many(docs[start : start + 1000])
        named = [f"c0-{n}" for n in range(0, CROWDED, CROWDED // MAX_WANTED)]
        recorder.commands.clear()
        # Another team's document is named too: it never counts as applied.
        applied = await applied_positions(db["conversations"], "t0", [*named[1:], "c1-3"])
        assert applied == {doc: int(doc.removeprefix("c0-")) for doc in named[1:]}

        assert recorder.commands, "applied_positions sent no query"
        problems = []
        for command_name, body in recorder.commands:
            explained = await db.command(
                "explain", {command_name: body[command_name], **body}, verbosity="queryPlanner"
            )
            sequential, indexed = _scans(explained)
            if sequential or not indexed or _index_scans_not_on_id(explained):
                sent = body.get("filter")
                problems.append(f"{command_name} {sent}: {sequential + _index_scans_not_on_id(explained)}")
        assert not problems, problems
    finally:
        await client.drop_database(db.name)
        await client.close()
