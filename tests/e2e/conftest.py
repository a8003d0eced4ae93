"""The whole Parley stack as separate processes on the real broker and database, isolated per test module."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from services.cli import NewAgent, own_publisher, register_agent
from services.gateway.config import GatewaySettings
from shared.events import Actor
from shared.events.agent import AgentRole, AgentStatus, AgentStatusChanged
from shared.kafka import ensure_topics
from shared.replay import ProjectionSpec, Rebuildable, rebuild_views
from shared.settings import ParleySettings
from tests.infrastructure import Infrastructure, delete_topics
from tests.processes import ServiceProcess, free_port

T = TypeVar("T")
SERVICES = ("services.conversation", "services.history", "services.routing", "services.gateway")


def eventually(check: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.2) -> T:
    """Views are eventually consistent: retry an assertion until it holds or the time is up.

    Only a failed assertion (the view has not caught up yet) is retried. Any other exception is a bug in
    the check or the service, and fails at once: a check must assert what it waits for, e.g. that a field
    is set before reading into it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(interval)


PASSWORD = "correct horse battery"  # every agent the tests register


@dataclass
class Stack:
    base_url: str
    env: dict[str, str]
    processes: dict[str, ServiceProcess]
    settings: GatewaySettings
    agents: dict[str, str] = field(default_factory=dict)  # email -> agent id

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=15)

    def login(self, email: str, password: str) -> str:
        def attempt() -> str:
            response = httpx.post(
                f"{self.base_url}/api/agent/auth/login", json={"email": email, "password": password}
            )
            assert response.status_code == 200, response.text
            token: str = response.json()["access_token"]
            return token

        return eventually(attempt)

    def register(
        self,
        email: str,
        name: str,
        *,
        role: AgentRole = "agent",
        max_chats: int = 3,
        chosen_status: AgentStatus | None = "offline",
        tenant: str | None = None,
    ) -> str:
        """An agent of the team. By default one who already chose a status (offline), as a returning agent
        has: signing in then keeps it. `chosen_status=None` is a brand-new agent, whom sign-in makes available.
        `tenant`: another team than the default one."""
        team = tenant or self.settings.default_tenant

        async def go() -> str:
            async with own_publisher(self.settings) as publisher:
                agent = NewAgent(email, name, PASSWORD, role, max_chats)
                agent_id = await register_agent(publisher, tenant=team, agent=agent)
                if chosen_status is not None:
                    await publisher.append(
                        AgentStatusChanged(
                            tenant=team,
                            aggregate_id=agent_id,
                            actor=Actor(kind="agent", id=agent_id),
                            payload={"status": chosen_status},
                        )
                    )
                return agent_id

        self.agents[email] = agent_id = asyncio.run(go())
        if chosen_status is not None:
            # Signing in before the view has the chosen status would count as a first sign-in.
            eventually(lambda: self._assert_agent_view(agent_id, status_chosen=True))
        return agent_id

    def register_team(self) -> dict[str, str]:
        """The team of the seed-guide stories: Sam (supervisor, 5 chats), Ann and Bob; ids by first name."""
        return {
            "sam": self.register("sam@example.com", "Sam Supervisor", role="supervisor", max_chats=5),
            "ann": self.register("ann@example.com", "Ann Agent"),
            "bob": self.register("bob@example.com", "Bob Agent"),
        }

    def start_conversation(self, **visitor: str) -> dict[str, Any]:
        """A visitor starts a chat over the API (name, message, email, department, ...): the 201 answer."""
        started: dict[str, Any] = json_of(
            httpx.post(f"{self.base_url}/api/visitor/conversations", json=visitor), 201
        )
        return started

    def joined_chat(self, agent_email: str, **visitor: str) -> str:
        """The id of a visitor's chat, started over the API, that the agent joined."""
        conversation_id: str = self.start_conversation(**visitor)["conversation_id"]
        with self.client(self.login(agent_email, PASSWORD)) as api:
            json_of(api.post(f"/api/agent/conversations/{conversation_id}/join"))
        return conversation_id

    def _assert_agent_view(self, agent_id: str, **expected: object) -> None:
        from pymongo import MongoClient

        client: MongoClient[dict[str, Any]] = MongoClient(self.env["PARLEY_MONGODB_URI"])
        with client:
            view = client[self.env["PARLEY_MONGODB_DATABASE"]]["agents"].find_one({"_id": agent_id})
        assert view is not None and all(view.get(k) == v for k, v in expected.items()), view


def isolated_env(infrastructure: Infrastructure) -> dict[str, str]:
    """Service settings of one test module: the shared real servers, topics and a database of its own."""
    run = uuid.uuid4().hex[:10]
    return {
        "PARLEY_KAFKA_BOOTSTRAP": infrastructure.kafka_bootstrap,
        "PARLEY_MONGODB_URI": infrastructure.mongodb_uri,
        "PARLEY_MONGODB_DATABASE": f"parley_e2e_{run}",
        "PARLEY_TOPIC_PREFIX": f"e2e-{run}",
        "PARLEY_KAFKA_PARTITIONS": "3",
        # The e2e stacks start hundreds of chats and sign-ins from 127.0.0.1 in minutes; the limits have a
        # stack of their own in test_rate_limits.py.
        "PARLEY_RATE_LIMITS_ENABLED": "false",
    }


@pytest.fixture(scope="module")
def stack(infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(infrastructure, tmp_path_factory.mktemp("service-logs")) as started:
        yield started


@contextlib.contextmanager
def running_stack(
    infrastructure: Infrastructure,
    logs: Path,
    *,
    services: Sequence[str] = SERVICES,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Stack]:
    """The services as real processes on isolated topics and database; stopped and dropped afterwards."""
    env = {**isolated_env(infrastructure), **(extra_env or {})}
    settings = GatewaySettings(
        kafka_bootstrap=env["PARLEY_KAFKA_BOOTSTRAP"],
        mongodb_uri=env["PARLEY_MONGODB_URI"],
        mongodb_database=env["PARLEY_MONGODB_DATABASE"],
        topic_prefix=env["PARLEY_TOPIC_PREFIX"],
        kafka_partitions=3,
    )
    asyncio.run(ensure_topics(settings))
    processes: dict[str, ServiceProcess] = {}
    try:
        for module in services:
            port = free_port()
            name = module.split(".")[-1]
            process = ServiceProcess(module, {**env, "PARLEY_PORT": str(port)}, logs / f"{name}.log")
            processes[name] = process
        # Ready, not just alive: the router has joined its group (a test's first chat is routed at once), the
        # gateway and the projections reach Kafka and MongoDB.
        for process in processes.values():
            process.wait_http_ready(f"http://127.0.0.1:{process.port}/readyz", timeout=90)
        yield Stack(
            base_url=f"http://127.0.0.1:{processes['gateway'].port}",
            env=env,
            processes=processes,
            settings=settings,
        )
    finally:
        for process in processes.values():
            process.stop()
        _drop_database(infrastructure.mongodb_uri, env["PARLEY_MONGODB_DATABASE"])
        delete_topics(infrastructure.kafka_bootstrap, env["PARLEY_TOPIC_PREFIX"])


def _drop_database(uri: str, name: str) -> None:
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    with client:
        client.drop_database(name)


def assert_views_equal_replay(
    stack: Stack,
    projection: ProjectionSpec[Rebuildable],
    settings_class: type[ParleySettings],
    names: Sequence[str],
) -> None:
    """A replay of the projection's topics into `rebuild_`-prefixed collections;
    each of `names` must then equal the live view. Retried while the live projections catch up."""
    env = stack.env
    settings = settings_class(
        kafka_bootstrap=env["PARLEY_KAFKA_BOOTSTRAP"],
        mongodb_uri=env["PARLEY_MONGODB_URI"],
        mongodb_database=env["PARLEY_MONGODB_DATABASE"],
        topic_prefix=env["PARLEY_TOPIC_PREFIX"],
    )

    def same_as_replayed() -> None:
        asyncio.run(rebuild_views(settings, projection, prefix="rebuild_", show_progress=False))
        from pymongo import MongoClient

        client: MongoClient[dict[str, Any]] = MongoClient(env["PARLEY_MONGODB_URI"])
        with client:
            db = client[env["PARLEY_MONGODB_DATABASE"]]
            for name in names:
                live = list(db[name].find().sort("_id"))
                assert live and live == list(db[f"rebuild_{name}"].find().sort("_id")), name

    eventually(same_as_replayed, timeout=60, interval=1)


def json_of(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()
