"""The gateway in-process: the real app, routes, rules and error handlers, with an in-memory publisher and
in-memory views on `app.state` where the lifespan would put Kafka's and MongoDB's.

The fake collections answer the few query shapes `services/conversation/queries.py` sends (an `_id`
lookup or `$in`, equality and array-membership filters, a regex `$or`, sort, limit); anything else fails loudly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, cast

from fastapi.testclient import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from services.gateway.app import create_app, rate_limits_of
from services.gateway.auth import AgentPrincipal, VisitorPrincipal, agent_token, visitor_token
from services.gateway.config import GatewaySettings
from services.gateway.credential_record import CredentialRecord
from services.gateway.deps import Views
from services.gateway.live_hub import LiveHub
from services.gateway.publisher import Appended
from shared.events import Actor, EventBase
from shared.events.agent import AgentHeartbeat

Doc = dict[str, Any]

# Who asks: Ann and Bob are agents of the acme team, Sam its supervisor, Vera a visitor in chat c1.
ANN = AgentPrincipal(agent_id="ann", tenant="acme", role="agent")
BOB = AgentPrincipal(agent_id="bob", tenant="acme", role="agent")
SAM = AgentPrincipal(agent_id="sam", tenant="acme", role="supervisor")
VERA = VisitorPrincipal(conversation_id="c1", visitor_id="v1", tenant="acme")


def _matches(doc: Doc, query: Doc) -> bool:
    for key, wanted in query.items():
        if key == "$or":
            if not any(_matches(doc, alternative) for alternative in wanted):
                return False
            continue
        value = doc.get(key)
        if isinstance(wanted, dict) and set(wanted) == {"$in"}:
            if value not in wanted["$in"]:
                return False
        elif isinstance(wanted, dict) and set(wanted) == {"$exists"}:
            if (key in doc) != wanted["$exists"]:
                return False
        elif isinstance(wanted, dict):
            if set(wanted) - {"$regex", "$options"}:
                raise NotImplementedError(f"fake views do not answer {wanted}")
            flags = re.IGNORECASE if "i" in wanted.get("$options", "") else 0
            if not isinstance(value, str) or not re.search(wanted["$regex"], value, flags):
                return False
        elif isinstance(value, list) and not isinstance(wanted, list):
            if wanted not in value:
                return False
        elif value != wanted:
            return False
    return True


class FakeCursor:
    def __init__(self, docs: list[Doc]) -> None:
        self._docs = docs

    def sort(self, keys: list[tuple[str, int]]) -> FakeCursor:
        for key, direction in reversed(keys):
            self._docs.sort(key=lambda doc: doc.get(key) or "", reverse=direction < 0)
        return self

    def limit(self, count: int) -> FakeCursor:
        self._docs = self._docs[:count]
        return self

    async def to_list(self) -> list[Doc]:
        return self._docs


class FakeCollection:
    def __init__(self, docs: Iterable[Doc] = ()) -> None:
        self.docs: dict[str, Doc] = {doc["_id"]: dict(doc) for doc in docs}

    async def find_one(self, query: Doc, projection: Doc | None = None) -> Doc | None:
        return next((dict(doc) for doc in self.docs.values() if _matches(doc, query)), None)

    def find(self, query: Doc, projection: Doc | None = None) -> FakeCursor:
        return FakeCursor([dict(doc) for doc in self.docs.values() if _matches(doc, query)])


def conversation_view(**overrides: Any) -> Doc:
    """A conversation as the view shows it: c1 of team acme, open, assigned to Ann, visitor Vera."""
    return {
        "_id": "c1",
        "tenant": "acme",
        "kind": "visitor",
        "status": "open",
        "assignment": "assigned",
        "assignee_id": "ann",
        "participants": ["ann"],
        "tags": [],
        "department": None,
        "visitor": {"name": "Vera", "email": None},
        "rating": None,
        **overrides,
    }


def fake_views(**collections: Iterable[Doc]) -> Views:
    """`Views` over in-memory collections: fake_views(agents=[...], conversations=[...])."""
    names = [
        *("conversations", "agents", "agent_credentials", "canned_responses", "departments"),
        *("history_messages", "history_conversations"),
    ]
    db = {name: FakeCollection(collections.get(name, ())) for name in names}
    return Views(cast(AsyncDatabase[dict[str, Any]], db))


class FakePublisher:
    """Records what a route appends, in order; positions count from 0 like a fresh partition."""

    def __init__(self) -> None:
        self.appended: list[EventBase] = []
        self.heartbeats: list[AgentHeartbeat] = []
        self.typing_signals: list[dict[str, Any]] = []
        self.request_ids: list[str | None] = []

    async def append(self, event: EventBase) -> Appended:
        self.appended.append(event)
        return Appended(event.event_id, event.type, 0, len(self.appended) - 1, event.aggregate_id)

    def for_request(self, correlation_id: str | None) -> FakePublisher:
        """The same fake for every request; which `X-Request-ID` each asked for is kept in request_ids."""
        self.request_ids.append(correlation_id)
        return self

    async def append_all(self, *events: EventBase) -> list[Appended]:
        return [await self.append(event) for event in events]

    async def heartbeat(self, beat: AgentHeartbeat) -> None:
        self.heartbeats.append(beat)

    async def typing(
        self, tenant: str, conversation_id: str, *, sender: Actor, typing: bool, mode: str
    ) -> None:
        signal = {"tenant": tenant, "conversation_id": conversation_id, "typing": typing, "mode": mode}
        self.typing_signals.append({**signal, "sender": sender.model_dump()})


def gateway(
    views: Views,
    publisher: FakePublisher,
    *,
    agent: AgentPrincipal | None = None,
    visitor: VisitorPrincipal | None = None,
    settings: GatewaySettings | None = None,
    hub: LiveHub | None = None,
    record: CredentialRecord | None = None,
) -> TestClient:
    """The gateway app without its lifespan (no Kafka, no MongoDB), signed in as `agent` or `visitor` with
    a real token. What the lifespan would put on `app.state` is put there by hand: the routes of a chat
    message read it in one dependency (deps/chat_messages.py), not through the overridable `get_*` seams.
    The live hub is not started: sockets register with it, and it follows only what a test feeds it."""
    settings = settings or GatewaySettings()
    app = create_app(settings)
    app.state.settings = settings
    app.state.views = views
    app.state.publisher = publisher
    app.state.hub = hub or LiveHub(settings)
    # No file store: a route that reaches for a file fails loudly (messages without files never do).
    app.state.attachments = None
    app.state.credential_record = record if record is not None else CredentialRecord()
    app.state.rate_limits = rate_limits_of(settings)
    headers = {}
    if agent is not None:
        headers["Authorization"] = f"Bearer {agent_token(settings, agent)[0]}"
    if visitor is not None:
        headers["Authorization"] = f"Bearer {visitor_token(settings, visitor)}"
    return TestClient(app, headers=headers)
