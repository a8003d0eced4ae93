"""`parley`: the operator's command line.

parley agents create --email E --name N --password P [--role supervisor] [--max-chats N]
parley seed-demo          the demo team and canned responses `make run` starts with
parley topics             create the topic catalogue (idempotent)
parley replay [--prefix]  rebuild every view from the topics into fresh collections
parley schemas            regenerate docs/events (JSON Schemas + catalogue) from the event models
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.gateway.auth import hash_password
from services.gateway.config import GatewaySettings
from services.gateway.publisher import EventPublisher
from services.gateway.team_commands import agent_id_for
from shared.emails import normalized_email
from shared.events.agent import AgentPasswordSet, AgentRegistered, AgentRole
from shared.events.canned_response import CannedResponseCreated
from shared.events.envelope import Actor
from shared.kafka import create_consumer, create_producer, ensure_topics
from shared.settings import ParleySettings
from shared.topics import CATALOGUE

CLI = Actor(kind="system", id="parley-cli")


@dataclass(frozen=True)
class NewAgent:
    """An account the command line registers with a password of its own, no invitation link."""

    email: str
    name: str
    password: str
    role: AgentRole = "agent"
    max_chats: int | None = None  # None: their department's limit, else the team's


DEMO_PASSWORD = "parley-demo"
DEMO_TEAM = (
    NewAgent("sam@parley.test", "Sam Supervisor", DEMO_PASSWORD, "supervisor", max_chats=8),
    NewAgent("ann@parley.test", "Ann Agent", DEMO_PASSWORD, max_chats=3),
    NewAgent("bob@parley.test", "Bob Agent", DEMO_PASSWORD, max_chats=3),
)
DEMO_CANNED = (
    ("hello", "Hi {visitor.name}, I'm {agent.name}. How can I help you today?"),
    ("thanks", "Thanks for reaching out, {visitor.name}! Is there anything else I can do for you?"),
    ("refund", "Refunds reach your account within 5 business days of approval."),
)


async def ensure_writable_topics(settings: ParleySettings, *, timeout: float = 60.0) -> list[str]:
    """Create the catalogue's missing topics, then wait until the broker leads every partition of them.

    Right after CreateTopics the metadata already names a leader, but a new partition's leader may not act as
    one yet: the first records then come back NotLeaderForPartitionError and the producer warns on each retry.
    Asking every partition's leader for its end offset retries quietly until each one answers.
    """
    created = await ensure_topics(settings)
    names = [spec.name(settings.topic_prefix) for spec in CATALOGUE]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        async with asyncio.timeout(timeout):
            while True:
                topics = await admin.describe_topics(names)
                if all(
                    not topic["error_code"]
                    and topic["partitions"]
                    and all(not p["error_code"] and p["leader"] >= 0 for p in topic["partitions"])
                    for topic in topics
                ):
                    break
                await asyncio.sleep(0.1)
    finally:
        await admin.close()
    reader = create_consumer(settings, group_id=None)
    await reader.start()
    try:
        partitions = [TopicPartition(t["topic"], p["partition"]) for t in topics for p in t["partitions"]]
        async with asyncio.timeout(timeout):
            await reader.end_offsets(partitions)
    finally:
        await reader.stop()
    return created


@asynccontextmanager
async def own_publisher(
    settings: ParleySettings, *, client_id: str | None = None
) -> AsyncIterator[EventPublisher]:
    """A publisher on a producer of its own, stopped on the way out: for one-off commands (and tests) that
    append a few events outside a running gateway."""
    producer = create_producer(settings, client_id=client_id)
    await producer.start()
    try:
        yield EventPublisher(producer, settings)
    finally:
        await producer.stop()


async def register_agent(publisher: EventPublisher, *, tenant: str, agent: NewAgent) -> str:
    """Registers the account, or updates the one with the same email; returns its id."""
    agent_id = agent_id_for(tenant, agent.email)
    registered = AgentRegistered(
        tenant=tenant,
        aggregate_id=agent_id,
        actor=CLI,
        payload={
            "email": normalized_email(agent.email),
            "name": agent.name,
            "role": agent.role,
            "max_concurrent_chats": agent.max_chats,
        },
    )
    password_set = AgentPasswordSet(
        tenant=tenant,
        aggregate_id=agent_id,
        actor=CLI,
        payload={"email": normalized_email(agent.email), "password_hash": hash_password(agent.password)},
    )
    await publisher.append_all(registered, password_set)
    return agent_id


async def create_agent(args: argparse.Namespace) -> None:
    settings = GatewaySettings()
    await ensure_writable_topics(settings)
    async with own_publisher(settings, client_id=CLI.id) as publisher:
        agent = NewAgent(args.email, args.name, args.password, args.role, args.max_chats)
        agent_id = await register_agent(publisher, tenant=args.tenant or settings.default_tenant, agent=agent)
    print(f"agent {args.email} registered with id {agent_id}")


async def seed_demo() -> None:
    settings = GatewaySettings()
    tenant = settings.default_tenant
    await ensure_writable_topics(settings)
    async with own_publisher(settings, client_id=CLI.id) as publisher:
        supervisor = ""
        for member in DEMO_TEAM:
            agent_id = await register_agent(publisher, tenant=tenant, agent=member)
            supervisor = supervisor or agent_id
        for shortcut, text in DEMO_CANNED:
            await publisher.append(
                CannedResponseCreated(
                    tenant=tenant,
                    aggregate_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"parley:{tenant}:canned:{shortcut}")),
                    actor=Actor(kind="agent", id=supervisor),
                    payload={"shortcut": shortcut, "text": text},
                )
            )
    emails = ", ".join(member.email for member in DEMO_TEAM)
    print(f"demo team ready: {emails} (password: {DEMO_PASSWORD})")


async def create_topics() -> None:
    created = await ensure_writable_topics(GatewaySettings())
    print(f"created: {', '.join(created)}" if created else "all topics already exist")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="parley", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    agents = sub.add_parser("agents", help="manage agent accounts").add_subparsers(
        dest="action", required=True
    )
    create = agents.add_parser("create", help="register an agent (or update one with the same email)")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--role", choices=("agent", "supervisor"), default="agent")
    create.add_argument(
        "--max-chats",
        type=int,
        default=None,
        help="the agent's own chat limit (default: their department's, else the team's)",
    )
    create.add_argument("--tenant")
    sub.add_parser("seed-demo", help="register the demo team and canned responses")
    sub.add_parser("topics", help="create the topic catalogue")
    replay = sub.add_parser("replay", help="rebuild every view from the topics into fresh collections")
    replay.add_argument("--prefix", default="rebuild_")
    sub.add_parser("schemas", help="regenerate docs/events from the event models")
    sub.add_parser(
        "link-key",
        help="print PARLEY_PASSWORD_LINK_KEY for the mailer, derived from PARLEY_SECRET_KEY",
    )
    args = parser.parse_args(argv)

    if args.command == "agents":
        if len(args.password) < 8:
            sys.exit("the password needs at least 8 characters")
        asyncio.run(create_agent(args))
    elif args.command == "seed-demo":
        try:
            asyncio.run(seed_demo())
        except KeyboardInterrupt:
            # Ctrl-C during `make run`'s start-up: end by SIGINT like any command, without a traceback.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
            raise
    elif args.command == "topics":
        asyncio.run(create_topics())
    elif args.command == "replay":
        from services.replay import replay_all

        asyncio.run(replay_all(prefix=args.prefix))
    elif args.command == "schemas":
        from shared.events.docs import write_docs

        for path in write_docs():
            print(f"wrote {path}")
    elif args.command == "link-key":
        print(GatewaySettings().link_key().hex())


if __name__ == "__main__":
    main()
