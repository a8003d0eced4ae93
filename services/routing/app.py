"""The routing service as a faust app: the only writer of assignment decisions.

Two agents. The re-keyer copies the facts that affect assignment from the conversation and agent topics
onto routing-facts keyed by tenant, so all of one tenant's facts meet on one partition in one order.
The router applies them to the tenant's state (a faust table, recovered from its changelog) and
publishes each decision as conversation.assignment_decided on the conversation's own partition.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import faust
from aiokafka.structs import ConsumerRecord
from faust import web

from services.routing.config import RoutingSettings
from services.routing.policy import ROUTING_FACT_TYPES, Decision, TenantState, decide
from shared.deadletter import dead_letter_value
from shared.events import Actor, EventBase, InvalidEvent, parse_event, serialize
from shared.events.conversation import AssignmentDecided, AssignmentDecidedPayload
from shared.logging import bind_event_context, get_logger
from shared.topics import AGENT_EVENTS_TOPIC, CONVERSATION_EVENTS_TOPIC, DEAD_LETTERS, ROUTING_FACTS

log = get_logger(__name__)

ROUTER = Actor(kind="system", id="router")
# Decision ids derive from the fact that caused them, so a decision re-sent after a crash is recognisably
# the same event to every consumer.
_DECISION_IDS = uuid.UUID("6f1d5a3c-4b8e-4d2a-9c61-0b7e5f3a2d10")


@dataclass
class RoutingMetrics:
    facts_forwarded: int = 0
    facts_processed: int = 0
    dead_letters: int = 0
    decisions: Counter[tuple[str, str]] = field(default_factory=Counter)
    queue_length: dict[str, int] = field(default_factory=dict)

    def render(self) -> str:
        lines = [
            "# TYPE parley_routing_facts_forwarded_total counter",
            f"parley_routing_facts_forwarded_total {self.facts_forwarded}",
            "# TYPE parley_routing_facts_processed_total counter",
            f"parley_routing_facts_processed_total {self.facts_processed}",
            "# TYPE parley_dead_letters_total counter",
            f'parley_dead_letters_total{{service="routing"}} {self.dead_letters}',
            "# TYPE parley_routing_decisions_total counter",
        ]
        for (outcome, reason), count in sorted(self.decisions.items()):
            lines.append(f'parley_routing_decisions_total{{outcome="{outcome}",reason="{reason}"}} {count}')
        lines.append("# TYPE parley_routing_queue_length gauge")
        for tenant, length in sorted(self.queue_length.items()):
            lines.append(f'parley_routing_queue_length{{tenant="{_label(tenant)}"}} {length}')
        return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def decision_event(fact: EventBase, decision: Decision, index: int) -> AssignmentDecided:
    return AssignmentDecided(
        event_id=str(uuid.uuid5(_DECISION_IDS, f"{fact.event_id}/{index}")),
        # The fact's time, not the clock: replaying the same facts yields byte-identical decisions.
        occurred_at=fact.occurred_at,
        tenant=fact.tenant,
        aggregate_id=decision.conversation_id,
        actor=ROUTER,
        correlation_id=fact.correlation_id or fact.event_id,
        causation_id=fact.event_id,
        payload=AssignmentDecidedPayload(
            outcome=decision.outcome,
            agent_id=decision.agent_id,
            previous_agent_id=decision.previous_agent_id,
            reason=decision.reason,
            queue_position=decision.queue_position,
        ),
    )


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
        headers=tuple(message.headers or ()),
    )


def create_app(settings: RoutingSettings) -> faust.App:
    prefix = settings.topic_prefix
    app_id = f"{prefix}-routing"
    app = faust.App(
        app_id,
        broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
        # State lives in the changelog topic; memory is rebuilt from it at start.
        store="memory://",
        topic_partitions=settings.kafka_partitions,
        topic_replication_factor=settings.kafka_replication_factor,
        web_host=settings.host,
        web_bind=settings.host,
        web_port=settings.port,
        autodiscover=False,
        producer_acks=-1,
    )
    metrics = RoutingMetrics()
    app.routing_metrics = metrics  # type: ignore[attr-defined]

    sources = app.topic(
        CONVERSATION_EVENTS_TOPIC.name(prefix),
        AGENT_EVENTS_TOPIC.name(prefix),
        key_type=str,
        value_serializer="raw",
    )
    facts = app.topic(ROUTING_FACTS.name(prefix), key_type=str, value_serializer="raw")
    decisions_out = app.topic(CONVERSATION_EVENTS_TOPIC.name(prefix), key_type=str, value_serializer="raw")
    dead_letters = app.topic(DEAD_LETTERS.name(prefix), key_type=str, value_serializer="raw")
    # No value_type: faust's model codec for dict values breaks changelog recovery.
    states = app.Table(
        "tenant-routing-state", default=dict, key_type=str, partitions=settings.kafka_partitions
    )

    async def dead_letter(message: Any, reason: str, group: str) -> None:
        metrics.dead_letters += 1
        log.warning("dead_letter", source_topic=message.topic, offset=message.offset, reason=reason[:300])
        value = dead_letter_value(_record(message), reason=reason, service=settings.service_name, group=group)
        await dead_letters.send(key=message.topic, value=value)

    @app.agent(sources, concurrency=1)
    async def rekey(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            try:
                fact = parse_event(event.message.value)
            except InvalidEvent as exc:
                await dead_letter(event.message, str(exc), group=app_id)
                continue
            if fact.type in ROUTING_FACT_TYPES:
                # Same bytes, new key: the router sees exactly what was published.
                await facts.send(key=fact.tenant, value=event.message.value)
                metrics.facts_forwarded += 1

    @app.agent(facts, concurrency=1)
    async def route(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            try:
                fact = parse_event(event.message.value)
            except InvalidEvent as exc:  # a schema the re-keyer accepted but this build does not
                await dead_letter(event.message, str(exc), group=app_id)
                continue
            tenant = fact.tenant
            state = TenantState.from_dict(states[tenant])
            new_state, decided = decide(state, fact)
            # Decisions go out before the state is saved: after a crash in between, the fact is
            # replayed and re-decided (same event ids), rather than saved as handled with nothing sent.
            for index, decision in enumerate(decided):
                with bind_event_context(tenant=tenant, conversation_id=decision.conversation_id):
                    log.info(
                        "assignment_decided",
                        outcome=decision.outcome,
                        agent_id=decision.agent_id,
                        reason=decision.reason,
                        queue_position=decision.queue_position,
                        over_capacity=decision.over_capacity,
                        fact=fact.type,
                    )
                out = decision_event(fact, decision, index)
                await decisions_out.send(key=decision.conversation_id, value=serialize(out))
                metrics.decisions[(decision.outcome, decision.reason)] += 1
            if new_state is not state:
                states[tenant] = new_state.to_dict()
            metrics.facts_processed += 1
            metrics.queue_length[tenant] = len(new_state.queue)

    async def announce() -> None:
        log.info("routing_started", app_id=app_id, web_port=settings.port)

    app.task(announce)

    @app.page("/healthz")
    async def healthz(view: web.View, request: web.Request) -> web.Response:
        return view.json({"status": "ok"})

    @app.page("/metrics")
    async def prometheus(view: web.View, request: web.Request) -> web.Response:
        return view.text(metrics.render(), content_type="text/plain; version=0.0.4")

    return app
