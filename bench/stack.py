"""The whole Parley stack as separate processes on isolated topics and database, for bench and faults.

The bench also runs the bare pipeline's processes (bench/bare.py) through the same `start_processes`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from services.cli import NewAgent, register_agent
from services.gateway.config import GatewaySettings
from services.gateway.publisher import EventPublisher
from shared.kafka import create_producer, delete_topics, ensure_topics
from tests.processes import REPO_ROOT, ServiceProcess, free_port

# Each process's name in the reports, and its command: a module run with `python -m`, then its arguments.
SERVICES: dict[str, tuple[str, ...]] = {
    name: (f"services.{name}",) for name in ("conversation", "history", "routing", "gateway")
}
RESULTS = REPO_ROOT / "bench-results"
PASSWORD = "bench-password-1"


STARTED = time.monotonic()


def say(text: str) -> None:
    """A progress line, with the seconds since the run started (make bench-quick has three minutes)."""
    print(f"[bench {time.monotonic() - STARTED:4.0f} s] {text}", file=sys.stderr, flush=True)


def infrastructure_pids() -> dict[str, int]:
    """Kafka's and the database's processes, as deploy/local/infra.sh recorded them. When FerretDB runs on
    PostgreSQL, postgres.pid is the postmaster: measured with its whole tree, it counts every backend."""
    run = Path(os.environ.get("PARLEY_LOCAL_DIR", REPO_ROOT / ".local")) / "run"
    pids = {}
    for name in ("kafka", "ferretdb", "postgres"):
        path = run / f"{name}.pid"
        if path.exists():
            pids[name] = int(path.read_text().split()[0])
    return pids


class Stack:
    def __init__(self, agents: int = 6, max_chats: int = 100) -> None:
        self.agent_count = agents
        self.max_chats = max_chats
        run = uuid.uuid4().hex[:8]
        self.env = {
            "PARLEY_KAFKA_BOOTSTRAP": os.environ.get("PARLEY_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            "PARLEY_MONGODB_URI": os.environ.get("PARLEY_MONGODB_URI", "mongodb://127.0.0.1:27017"),
            "PARLEY_MONGODB_DATABASE": f"parley_bench_{run}",
            "PARLEY_TOPIC_PREFIX": f"bench-{run}",
            "PARLEY_LOG_LEVEL": "WARNING",
            # The load generator is one address starting thousands of chats: the public-path rate limits
            # are off for this stack only, by the setting any deployment could set (README: "Limits").
            "PARLEY_RATE_LIMITS_ENABLED": "false",
        }
        # This process reads the same settings as the services it starts (replay, agent registration).
        os.environ.update(self.env)
        self.settings = GatewaySettings()
        self.processes: dict[str, ServiceProcess] = {}
        self.logs = RESULTS / f"logs-{run}"

    def start_services(self) -> None:
        asyncio.run(ensure_topics(self.settings))
        self.start_processes(SERVICES)
        self.base_url = f"http://127.0.0.1:{self.processes['gateway'].port}"

    def start_processes(self, commands: Mapping[str, Sequence[str]]) -> None:
        """Starts each command on a port of its own and waits until every one answers /healthz."""
        self.logs.mkdir(parents=True, exist_ok=True)
        started = []
        for name, (module, *args) in commands.items():
            env = {**self.env, "PARLEY_PORT": str(free_port())}
            self.processes[name] = ServiceProcess(module, env, self.logs / f"{name}.log", *args)
            started.append(name)
        try:
            for name in started:
                process = self.processes[name]
                process.wait_http_ready(f"http://127.0.0.1:{process.port}/healthz", timeout=90)
                say(f"{name} up (pid {process.proc.pid})")
        except BaseException:
            self.stop_services()  # none left running when one does not come up
            raise

    def stop_services(self) -> None:
        for process in self.processes.values():
            process.stop()
        self.processes.clear()

    def remove_data(self) -> None:
        """Deletes this run's topics and databases (Parley's and the bare pipeline's): every run has fresh
        ones, and a broker left with the partitions of every earlier run does more idle work each run, which
        skewed the next run's figures."""

        async def remove() -> None:
            await delete_topics(self.settings.kafka_bootstrap, self.settings.topic_prefix)
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.settings.mongodb_uri)
            try:
                for name in await client.list_database_names():
                    if name.startswith(self.settings.mongodb_database):
                        await client.drop_database(name)
            finally:
                await client.close()

        asyncio.run(remove())

    def register_agents(self) -> list[dict[str, str]]:
        async def go() -> list[str]:
            producer = create_producer(self.settings)
            await producer.start()
            try:
                publisher = EventPublisher(producer, self.settings)
                return [
                    await register_agent(
                        publisher,
                        tenant=self.settings.default_tenant,
                        agent=NewAgent(
                            f"agent{n}@bench.test",
                            f"Agent {n}",
                            PASSWORD,
                            # The first is a supervisor, so the growth step can time the reports too.
                            "supervisor" if n == 0 else "agent",
                            self.max_chats,
                        ),
                    )
                    for n in range(self.agent_count)
                ]
            finally:
                await producer.stop()

        ids = asyncio.run(go())
        agents = []
        for n, agent_id in enumerate(ids):
            token = ""
            for _ in range(300):
                response = httpx.post(
                    f"{self.base_url}/api/agent/auth/login",
                    json={"email": f"agent{n}@bench.test", "password": PASSWORD},
                )
                if response.status_code == 200:
                    token = response.json()["access_token"]
                    break
                time.sleep(0.1)
            httpx.put(
                f"{self.base_url}/api/agent/me/status",
                json={"status": "available"},
                headers={"Authorization": f"Bearer {token}"},
            ).raise_for_status()
            agents.append({"id": agent_id, "token": token})
        say(f"{len(agents)} agents signed in and available")
        return agents
