"""The routing service as a faust app: the only writer of assignment decisions. Wiring only.

Three parts. The re-keyer (`forwarder.py`, its own consumer group) copies the facts that affect assignment
from the conversation, agent, presence and department topics onto routing-facts keyed by tenant, so all of
one tenant's facts meet on one partition in one order; each copy carries its source partition and offset in
a header, which makes re-deliveries recognisable. The router (`router.py`) applies them to the tenant's
state (`store.py`: a faust table, one entry per agent, conversation, department and queue, recovered from
its changelog), decides (`policy.py`, with `candidates.py` and `assignment.py`) and publishes each decision and queue move (`outputs.py`) on the
conversation's own partition. A timer publishes routing.tick facts for the tenants this worker routes: the
router's clock, so time rules replay like any other fact. `ops.py` serves the probes and metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust

from services.routing.config import RoutingSettings
from services.routing.forwarder import run_forwarder
from services.routing.metrics import RoutingMetrics
from services.routing.ops import add_ops_pages
from services.routing.outputs import DECISION_IDS
from services.routing.router import Router, record_of
from services.routing.store import TenantStore
from shared.logging import get_logger
from shared.topics import (
    AGENT_EVENTS_TOPIC,
    CONVERSATION_EVENTS_TOPIC,
    DEAD_LETTERS,
    DEPARTMENTS,
    PRESENCE,
    ROUTING_FACTS,
)

log = get_logger(__name__)

__all__ = ["DECISION_IDS", "create_app"]  # DECISION_IDS: the routing load test derives event ids from it


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
    decisions = app.topic(CONVERSATION_EVENTS_TOPIC.name(prefix), key_type=str, value_serializer="raw")
    dead_letters = app.topic(DEAD_LETTERS.name(prefix), key_type=str, value_serializer="raw")
    # No value_type: faust's model codec for dict values breaks changelog recovery.
    table = app.Table("routing-state", default=dict, key_type=str, partitions=settings.kafka_partitions)
    store = TenantStore(table)
    router = Router(
        settings,
        store,
        metrics,
        group=app_id,
        facts_name=facts_name,
        facts=facts,
        decisions=decisions,
        dead_letters=dead_letters,
    )

    async def forget(*_: Any, **__: Any) -> None:
        store.forget()

    app.on_partitions_revoked.connect(forget)
    app.on_partitions_assigned.connect(forget)

    async def forward_facts() -> None:
        """Run the re-keyer beside the router, in its own consumer group, for as long as the app runs."""

        def count(copied: int, dead: int) -> None:
            metrics.counts["facts_forwarded"] += copied
            metrics.dead_letters += dead

        await run_forwarder(settings, source_topics, facts_name, group=f"{app_id}-rekey", on_batch=count)

    app.task(forward_facts)

    @app.agent(facts, concurrency=1)
    async def route(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            await router.handle(record_of(event.message))

    @app.timer(interval=settings.tick_interval_seconds)  # type: ignore[untyped-decorator]
    async def tick() -> None:
        await router.tick(app.consumer.assignment())

    async def announce() -> None:
        log.info("routing_started", app_id=app_id, web_port=settings.port)

    app.task(announce)
    add_ops_pages(app, settings, metrics, store, facts_name)
    return app
