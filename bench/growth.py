"""The data-growth step: does Parley stay fast as a support center's history grows?

Seeds a backlog of closed conversations (each started, tagged, a few messages, closed) straight onto the
conversation topic, so the live projections build the views as they would from real traffic. The 1x
backlog spans ten days; 10x spans a hundred, at the same number of chats a day: a history grows longer. Then times
every read endpoint an agent uses. Run once at 1x and again after growing to 10x, in the same stack: the
two sets of latencies should match if every hot query is served by an index.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from bench.report import percentiles
from bench.stack import say
from services.gateway.config import GatewaySettings
from shared.events import Actor, EventBase, serialize
from shared.events.conversation import ConversationClosed, ConversationStarted, MessagePosted, TagAdded
from shared.kafka import create_consumer, create_producer
from shared.topics import CONVERSATION_EVENTS_TOPIC

TAGS = ("billing", "shipping", "refund", "bug", "sales")
# Read endpoints whose data the growth step does not touch: their 10x/1x ratio is the shared machine's drift.
HISTORY_INDEPENDENT = ("canned responses", "departments")
SYSTEM = Actor(kind="system", id="bench")


def closed_at(number: int, *, per_day: int, anchor: datetime) -> datetime:
    """When backlog conversation `number` closed: `per_day` a day, going back in time from `anchor`, so a
    history ten times larger is one ten times longer, as a support center's history grows."""
    day, within = divmod(number, per_day)
    return anchor - timedelta(days=day, seconds=within * 86_400 // per_day)


def backlog_events(
    number: int, messages: int, agent_id: str, tenant: str, *, closed: datetime
) -> list[EventBase]:
    """One closed conversation's events, a minute apart up to `closed`; deterministic in its arguments."""
    conversation_id = f"grown-{number:07d}"
    visitor = Actor(kind="visitor", id=f"grown-visitor-{number}")
    agent = Actor(kind="agent", id=agent_id)
    steps = iter(range(messages + 2, -1, -1))

    def envelope() -> dict[str, Any]:
        occurred = closed - timedelta(minutes=next(steps))
        return {"tenant": tenant, "aggregate_id": conversation_id, "occurred_at": occurred}

    events: list[EventBase] = [
        ConversationStarted(
            **envelope(),
            actor=visitor,
            payload={"visitor_id": visitor.id, "visitor": {"name": f"Visitor {number}"}},
        ),
        TagAdded(**envelope(), actor=agent, payload={"tag": TAGS[number % len(TAGS)]}),
    ]
    for line in range(messages):
        author = visitor if line % 2 == 0 else agent
        events.append(
            MessagePosted(
                **envelope(),
                actor=author,
                payload={"message_id": f"{conversation_id}-{line}", "text": f"line {line} of chat {number}"},
            )
        )
    events.append(ConversationClosed(**envelope(), actor=agent, payload={}))
    return events


async def seed_backlog(
    settings: GatewaySettings,
    *,
    first: int,
    count: int,
    messages: int,
    agent_id: str,
    per_day: int,
    anchor: datetime,
) -> int:
    """Produces `count` closed conversations numbered from `first`; returns the events produced."""
    topic = CONVERSATION_EVENTS_TOPIC.name(settings.topic_prefix)
    producer = create_producer(settings, client_id="parley-bench-growth")
    await producer.start()
    produced = 0
    try:
        pending = []
        for number in range(first, first + count):
            closed = closed_at(number, per_day=per_day, anchor=anchor)
            for event in backlog_events(number, messages, agent_id, settings.default_tenant, closed=closed):
                pending.append(
                    await producer.send(topic, key=event.aggregate_id.encode(), value=serialize(event))
                )
                produced += 1
            if len(pending) >= 5_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return produced


async def group_backlog(settings: GatewaySettings, groups: list[str]) -> int | None:
    """Records the consumer groups have still to commit, over the partitions each has committed on; None
    (not known, so not settled) while a group has committed nothing or the broker does not answer.

    Kafka names only the partitions a group committed on: this counts a partition the group never read as
    nothing to do. The growth step runs after the load steps, so the router has read its tenant's by then."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    reader = create_consumer(settings, group_id=None)
    try:
        await admin.start()
        await reader.start()
        committed: dict[TopicPartition, int] = {}
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            mine = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
            if not mine:
                return None
            committed |= mine
        ends = await reader.end_offsets(list(committed))
        return sum(max(0, int(ends[tp]) - offset) for tp, offset in committed.items())
    except KafkaError:
        return None
    finally:
        await reader.stop()
        await admin.close()


def wait_until_applied(
    backlog: Callable[[], dict[str, int | None]],
    *,
    timeout: float,
    settled: Mapping[str, int],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Seconds until every consumer has applied everything produced: each backlog at or under its `settled`
    count (0 unless named), with a line of progress every 15 s, since a large seed takes minutes."""
    began = last_said = clock()
    while (waited := clock() - began) < timeout:
        counts = backlog()
        if all(count is not None and count <= settled.get(name, 0) for name, count in counts.items()):
            return waited
        if clock() - last_said >= 15:
            last_said = clock()
            say(f"  still to apply: {', '.join(f'{name} {count}' for name, count in counts.items())}")
        sleep(0.5)
    raise TimeoutError(f"still behind after {timeout:.0f} s: {backlog()}")


def wait_until_quiet(
    busy_seconds: Callable[[], float],
    *,
    below: float = 0.1,
    calm_for: int = 3,
    timeout: float = 120,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Seconds until the database's CPU (`busy_seconds`: its cumulative CPU seconds) stayed under `below` of a
    core for `calm_for` seconds in a row; `timeout` if it never did.

    After a bulk load PostgreSQL vacuums and analyses the tables it grew. That is real work, but it is the
    same whatever a query costs: timing the 10x reads while it runs, and the 1x reads without, would blame
    the queries for it."""
    began = clock()
    calm, last = 0, busy_seconds()
    while clock() - began < timeout:
        sleep(1.0)
        now = busy_seconds()
        calm = calm + 1 if now - last < below else 0
        last = now
        if calm >= calm_for:
            break
    return round(clock() - began, 1)


def time_reads(base_url: str, token: str, *, samples: int) -> dict[str, dict[str, float | None]]:
    """Latency of each read endpoint an agent's screens use, `samples` requests each, one at a time.

    Round-robin, one request of every endpoint per round: on a machine shared with other work, a burst of
    someone else's load then falls on every endpoint alike instead of on the whole sample of one of them,
    and a 10x/1x ratio compares the queries, not the moments they happened to run at."""
    now = datetime.now(UTC)
    week_ago = (now - timedelta(days=7)).isoformat()
    endpoints = {
        "monitor": ("/api/agent/monitor", {"filter": "all"}),
        "my chats": ("/api/agent/chats", {}),
        "conversation": ("/api/agent/conversations/grown-0000001", {}),
        "transcript": ("/api/agent/conversations/grown-0000001/messages", {}),
        "history by tag": ("/api/agent/history", {"tag": "refund"}),
        "history by text": ("/api/agent/history", {"q": "chat 1"}),
        "teammates": ("/api/agent/agents", {"q": "agent"}),
        "canned responses": ("/api/agent/canned-responses", {}),
        "departments": ("/api/agent/departments", {}),
        "report (7 days)": ("/api/agent/reports", {"since": week_ago, "until": now.isoformat()}),
    }
    latencies: dict[str, list[float]] = {name: [] for name in endpoints}
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for path, params in endpoints.values():
            client.get(path, params=params).raise_for_status()  # warm: first-use costs are not growth
        for _ in range(samples):
            for name, (path, params) in endpoints.items():
                began = time.perf_counter()
                client.get(path, params=params).raise_for_status()
                latencies[name].append((time.perf_counter() - began) * 1000)
    return {name: percentiles(values) for name, values in latencies.items()}


def growth_ratios(small: dict[str, Any], large: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Latency at 10x over latency at 1x, per endpoint, for p50 and p99."""
    ratios: dict[str, dict[str, float | None]] = {}
    for name, before in small.items():
        after = large[name]
        ratios[name] = {
            key: round(after[key] / before[key], 2) if before[key] and after[key] is not None else None
            for key in ("p50", "p99")
        }
    return ratios


def growth_table(steps: list[dict[str, Any]], ratios: dict[str, dict[str, float | None]]) -> str:
    small, large = steps[0], steps[-1]
    header = (
        f"{'read endpoint':<18} {'p50 @' + str(small['scale']) + 'x':>10} {'p99':>7}"
        f" {'p50 @' + str(large['scale']) + 'x':>10} {'p99':>7} {'ratio p50':>9} {'p99':>6}"
    )
    lines = [header, "-" * len(header)]
    for name, ratio in ratios.items():
        a, b = small["reads_ms"][name], large["reads_ms"][name]
        lines.append(
            f"{name:<18} {a['p50']:>10.1f} {a['p99']:>7.1f} {b['p50']:>10.1f} {b['p99']:>7.1f}"
            f" {_ratio(ratio['p50']):>9} {_ratio(ratio['p99']):>6}"
        )
    control = [ratios[name]["p50"] for name in HISTORY_INDEPENDENT if ratios.get(name, {}).get("p50")]
    if control:
        lines.append(
            f"{' and '.join(HISTORY_INDEPENDENT)} read nothing the growth adds: their p50 moved"
            f" x{' / x'.join(f'{value:.2f}' for value in control)}, how much the machine itself changed"
            " between the two timings"
        )
    for step in steps:
        lines.append(
            f"at {step['scale']}x: {step['conversations']} closed conversations, {step['messages']} messages;"
            f" projections applied the growth at {step['events_per_s_applied']} events/s;"
            f" the router settled {step.get('router_settled_after_s', 0)} s later;"
            f" reads timed once the database was quiet ({step.get('database_quiet_after_s', 0)} s later)"
        )
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
