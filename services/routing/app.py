"""The routing service as a faust app: the only writer of assignment decisions.

Three parts. The re-keyer (`forwarder.py`, its own consumer group) copies the facts that affect assignment from the conversation, agent, presence
and department topics onto routing-facts keyed by tenant, so all of one tenant's facts meet on one
partition in one order; each copy carries its source partition and offset in a header, which makes
re-deliveries recognisable. The router applies them to the tenant's state (a faust table, one entry per
agent, conversation, department and queue, recovered from its changelog) and publishes each decision as
conversation.assignment_decided, and each queue move as conversation.queue_position_changed, on the
conversation's own partition. A timer publishes routing.tick facts for the tenants this worker routes:
the router's clock, so time rules replay like any other fact.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import ConsumerRecord, TopicPartition
from faust import web
from faust.types import TP

from services.routing.config import RoutingSettings
from services.routing.forwarder import SOURCE_HEADER, FactForwarder
from services.routing.metrics import RoutingMetrics
from services.routing.policy import (
    Decision,
    Output,
    PositionChanged,
    decide,
)
from services.routing.state import TenantState
from shared.deadletter import dead_letter_value
from shared.events import Actor, EventBase, parse_event, serialize
from shared.events.agent import RoutingTick, RoutingTickPayload
from shared.events.conversation import (
    AssignmentDecided,
    AssignmentDecidedPayload,
    QueuePositionChanged,
    QueuePositionChangedPayload,
)
from shared.kafka import create_consumer, create_producer, read_range
from shared.logging import bind_event_context, get_logger
from shared.topics import (
    AGENT_EVENTS_TOPIC,
    CONVERSATION_EVENTS_TOPIC,
    DEAD_LETTERS,
    DEPARTMENTS,
    PRESENCE,
    ROUTING_FACTS,
)

log = get_logger(__name__)

ROUTER = Actor(kind="system", id="router")
# Decision ids derive from the fact that caused them, so a decision re-sent after a crash is recognisably
# the same event to every consumer.
DECISION_IDS = uuid.UUID("6f1d5a3c-4b8e-4d2a-9c61-0b7e5f3a2d10")
# Table keys: tenant, separator, entry ("meta", "agent/<id>", "conv/<id>", "dept/<id>", "queue/<id>").
SEP = "\x1f"
PENDING = "pending"
# Starts the key of each partition's last applied offset; a tenant key starts with the tenant's id instead.
APPLIED = "\x1eapplied/"


def output_event(fact: EventBase, output: Output, index: int) -> AssignmentDecided | QueuePositionChanged:
    envelope: dict[str, Any] = {
        "event_id": str(uuid.uuid5(DECISION_IDS, f"{fact.event_id}/{index}")),
        # The fact's time, not the clock: replaying the same facts yields byte-identical decisions.
        "occurred_at": fact.occurred_at,
        "tenant": fact.tenant,
        "aggregate_id": output.conversation_id,
        "actor": ROUTER,
        "correlation_id": fact.correlation_id or fact.event_id,
        "causation_id": fact.event_id,
    }
    if isinstance(output, PositionChanged):
        return QueuePositionChanged(
            **envelope,
            payload=QueuePositionChangedPayload(
                department=output.department or None,
                position=output.position,
                queue_length=output.queue_length,
            ),
        )
    return AssignmentDecided(
        **envelope,
        payload=AssignmentDecidedPayload(
            outcome=output.outcome,
            agent_id=output.agent_id,
            previous_agent_id=output.previous_agent_id,
            reason=output.reason,
            queue_position=output.queue_position,
            forced=output.forced,
            over_capacity=output.over_capacity,
            department=output.department or None,
        ),
    )


def decision_event(fact: EventBase, decision: Decision, index: int) -> AssignmentDecided:
    event = output_event(fact, decision, index)
    assert isinstance(event, AssignmentDecided)
    return event


def _record(message: Any) -> ConsumerRecord[bytes, bytes]:
    """The faust message as the aiokafka record shared.deadletter describes."""
    key = message.key.encode() if isinstance(message.key, str) else message.key
    value = message.value if isinstance(message.value, bytes) else str(message.value).encode()
    return ConsumerRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp=int(message.timestamp * 1000),
        timestamp_type=message.timestamp_type,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=message.serialized_key_size,
        serialized_value_size=message.serialized_value_size,
        headers=tuple(headers.items() if isinstance(headers := message.headers or (), dict) else headers),
    )


def applied_key(partition: int) -> str:
    """The table entry holding the last routing-facts offset applied on a partition (no tenant's prefix)."""
    return f"{APPLIED}{partition}"


def source_of(record: ConsumerRecord[bytes, bytes]) -> tuple[str, int] | None:
    """(source partition, offset) from the re-keyer's header, or None for the router's own ticks."""
    items = record.headers or ()
    for name, value in items:
        if name == SOURCE_HEADER:
            text = value.decode() if isinstance(value, bytes) else str(value)
            where, _, offset = text.rpartition(":")
            return where, int(offset)
    return None


def _text(key: Any) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


def create_app(settings: RoutingSettings) -> faust.App:
    prefix = settings.topic_prefix
    app_id = f"{prefix}-routing"
    app = faust.App(
        app_id,
        broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
        # State lives in the changelog topic; memory is rebuilt from it at start.
        store="memory://",
        datadir=str(Path(settings.data_dir) / app_id),
        topic_partitions=settings.kafka_partitions,
        topic_replication_factor=settings.kafka_replication_factor,
        web_host=settings.host,
        web_bind=settings.host,
        web_port=settings.port,
        autodiscover=False,
        producer_acks=-1,
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        broker_heartbeat_interval=max(0.5, settings.kafka_session_timeout_seconds / 4),
        # On a broker still electing leaders the first assignment can see routing-facts as missing and hand
        # this worker nothing; a metadata refresh that finds its partitions triggers the rejoin that fixes
        # it. Kafka's default waits five minutes for that refresh.
        consumer_metadata_max_age_ms=10_000,
    )
    metrics = RoutingMetrics()
    app.routing_metrics = metrics  # type: ignore[attr-defined]
    facts_name = ROUTING_FACTS.name(prefix)

    source_topics = [
        topic.name(prefix) for topic in (CONVERSATION_EVENTS_TOPIC, AGENT_EVENTS_TOPIC, PRESENCE, DEPARTMENTS)
    ]
    facts = app.topic(facts_name, key_type=str, value_serializer="raw")
    decisions_out = app.topic(CONVERSATION_EVENTS_TOPIC.name(prefix), key_type=str, value_serializer="raw")
    dead_letters = app.topic(DEAD_LETTERS.name(prefix), key_type=str, value_serializer="raw")
    # No value_type: faust's model codec for dict values breaks changelog recovery.
    entries = app.Table("routing-state", default=dict, key_type=str, partitions=settings.kafka_partitions)
    # The tenants this worker routes, as last written; dropped on every rebalance and re-read from the table.
    cache: dict[str, tuple[TenantState, dict[str, Any]]] = {}
    partitioner = DefaultPartitioner()

    async def forget(*_: Any, **__: Any) -> None:
        cache.clear()

    async def assigned(*_: Any, **__: Any) -> None:
        metrics.assigned_once = True

    app.on_partitions_revoked.connect(forget)
    app.on_partitions_assigned.connect(forget)
    app.on_partitions_assigned.connect(assigned)

    def rebalancing() -> bool:
        return bool(app.rebalancing or getattr(app, "in_recovery", False))

    def load(tenant: str) -> tuple[TenantState, dict[str, Any]]:
        if tenant not in cache:
            mine = f"{tenant}{SEP}"
            stored = {
                _text(key)[len(mine) :]: value
                for key, value in entries.items()
                if _text(key).startswith(mine)
            }
            # The last fact's changes, written as one record before its entries: a crash can persist a
            # prefix of the entry writes, never half of this record, so re-applying it completes them.
            pending = stored.pop(PENDING, None) or {}
            stored.update(pending.get("set", {}))
            for key in pending.get("del", []):
                stored.pop(key, None)
            cache[tenant] = (TenantState.from_entries(stored), stored)
        return cache[tenant]

    def save(tenant: str, state: TenantState, before: dict[str, Any]) -> None:
        after = state.to_entries()
        changed = {key: value for key, value in after.items() if before.get(key) != value}
        deleted = sorted(before.keys() - after.keys())
        entries[f"{tenant}{SEP}{PENDING}"] = {"set": changed, "del": deleted}
        for key, value in changed.items():
            entries[f"{tenant}{SEP}{key}"] = value
        for key in deleted:
            del entries[f"{tenant}{SEP}{key}"]
        cache[tenant] = (state, after)

    async def dead_letter(record: ConsumerRecord[bytes, bytes], reason: str, group: str) -> None:
        metrics.dead_letters += 1
        log.warning("dead_letter", source_topic=record.topic, offset=record.offset, reason=reason[:300])
        value = dead_letter_value(record, reason=reason, service=settings.service_name, group=group)
        await dead_letters.send(key=record.topic, value=value)

    async def forward_facts() -> None:
        """Run the re-keyer beside the router, in its own consumer group, for as long as the app runs."""
        group = f"{app_id}-rekey"
        consumer = create_consumer(settings, *source_topics, group_id=group)
        producer = create_producer(settings, client_id=f"{app_id}-rekey")

        def count(copied: int, dead: int) -> None:
            metrics.facts_forwarded += copied
            metrics.dead_letters += dead

        forwarder = FactForwarder(settings, consumer, producer, facts_name, group, on_batch=count)
        await producer.start()
        await consumer.start()
        try:
            await forwarder.run(asyncio.Event())
        finally:
            await consumer.stop()  # leaves the group at once: the other workers take its partitions now
            await producer.stop()

    app.task(forward_facts)

    async def apply(record: ConsumerRecord[bytes, bytes]) -> None:
        """Apply one routing fact, decide, publish the decisions, then record the state and the offset."""
        try:
            fact = parse_event(record.value or b"")
            source = source_of(record)
            tenant = fact.tenant
            state, stored = load(tenant)
            new_state, outputs = decide(state, fact, source)
        except Exception as exc:  # a schema or a fact this build cannot apply: never silently skipped
            await dead_letter(record, f"{type(exc).__name__}: {exc}", group=app_id)
            entries[applied_key(record.partition)] = record.offset
            return
        if new_state is state:
            metrics.duplicates_skipped += 1
            entries[applied_key(record.partition)] = record.offset
            return
        # Decisions are acknowledged by the broker before the state that records them is written: after
        # a crash in between, the fact is re-decided from the old state with the same event ids.
        pending = []
        for index, output in enumerate(outputs):
            if isinstance(output, Decision):
                with bind_event_context(tenant=tenant, conversation_id=output.conversation_id):
                    log.info(
                        "assignment_decided",
                        outcome=output.outcome,
                        agent_id=output.agent_id,
                        reason=output.reason,
                        queue_position=output.queue_position,
                        department=output.department,
                        forced=output.forced,
                        over_capacity=output.over_capacity,
                        fact=fact.type,
                    )
                metrics.observe(tenant, output)
            else:
                metrics.position_updates += 1
            out = output_event(fact, output, index)
            pending.append(await decisions_out.send(key=output.conversation_id, value=serialize(out)))
        if pending:
            await asyncio.gather(*pending)
        save(tenant, new_state, stored)
        # Last: a crash before this line re-delivers the fact, and decide() recognises it as applied.
        entries[applied_key(record.partition)] = record.offset
        metrics.facts_processed += 1
        metrics.fact_types[fact.type] += 1

    @app.agent(facts, concurrency=1)
    async def route(stream: faust.StreamT[bytes]) -> None:
        """Apply routing-facts in offset order, each once, none skipped.

        faust can drop buffered messages during a rebalance and still commit past them, so the router keeps
        the last offset it applied per partition (in the table, beside the state it produced): a repeat is
        skipped, and a gap is filled by reading the missing records straight from the broker first.
        """
        async for event in stream.events():
            record = _record(event.message)
            key = applied_key(record.partition)
            applied: int | None = entries[key] if key in entries else None
            if applied is not None and record.offset <= applied:
                metrics.duplicates_skipped += 1
                continue
            if applied is not None and record.offset > applied + 1:
                tp = TopicPartition(facts_name, record.partition)
                missing = await read_range(settings, tp, applied + 1, record.offset)
                metrics.gaps_filled += 1
                metrics.facts_refetched += len(missing)
                log.warning(
                    "routing_facts_gap_filled",
                    partition=record.partition,
                    first_missing=applied + 1,
                    offset=record.offset,
                    records=len(missing),
                )
                for earlier in missing:
                    await apply(earlier)
            await apply(record)

    @app.timer(interval=settings.tick_interval_seconds)  # type: ignore[untyped-decorator]
    async def tick() -> None:
        """Publish the router's clock to every tenant whose routing-facts partition this worker holds."""
        assigned = app.consumer.assignment()
        partitions = [p for p in range(settings.kafka_partitions)]
        at = datetime.now(UTC)
        for key in list(entries.keys()):
            tenant, _, entry = _text(key).partition(SEP)
            if entry != "meta":
                continue
            partition = partitioner(tenant.encode(), partitions, partitions)
            if TP(facts_name, partition) not in assigned:
                continue
            fact = RoutingTick(
                tenant=tenant,
                aggregate_id=tenant,
                actor=ROUTER,
                occurred_at=at,
                payload=RoutingTickPayload(
                    offline_grace_seconds=settings.offline_grace_seconds,
                    heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds,
                ),
            )
            await facts.send(key=tenant, value=serialize(fact))
            metrics.ticks_sent += 1

    started_at = time.monotonic()

    async def announce() -> None:
        log.info("routing_started", app_id=app_id, web_port=settings.port)

    app.task(announce)

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def watch_rebalance() -> None:
        """Note when the worker entered its current rebalance or table recovery, for the probes."""
        if not rebalancing():
            metrics.rebalancing_since = None
        elif metrics.rebalancing_since is None:
            metrics.rebalancing_since = time.monotonic()

    @app.page("/healthz")
    async def healthz(view: web.View, request: web.Request) -> web.Response:
        """Alive unless a rebalance or recovery has gone on far too long: faust 0.15 can hang in one.

        A supervisor that restarts the worker on a 503 here gets it routing again after a fresh recovery.
        """
        body: dict[str, Any] = {"status": "ok", "uptime_seconds": round(time.monotonic() - started_at, 1)}
        rebalancing = metrics.rebalancing_seconds()
        if rebalancing > settings.stuck_rebalance_seconds:
            body.update(status="stuck", rebalancing_seconds=round(rebalancing, 1))
            return view.json(body, status=503)
        return view.json(body)

    @app.page("/readyz")
    async def readyz(view: web.View, request: web.Request) -> web.Response:
        """Ready once the worker joined its group and while it is not rebalancing or recovering its table."""
        if not metrics.assigned_once:
            return view.json({"status": "joining"}, status=503)
        if rebalancing():
            return view.json({"status": "rebalancing"}, status=503)
        # A worker may rightly route nothing (more workers than partitions), so this informs, not gates.
        routed = sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == facts_name)
        return view.json({"status": "ready", "routing_facts_partitions": routed})

    @app.page("/metrics")
    async def prometheus(view: web.View, request: web.Request) -> web.Response:
        states = {tenant: state for tenant, (state, _) in cache.items()}
        return view.text(metrics.render(states), content_type="text/plain; version=0.0.4")

    return app
