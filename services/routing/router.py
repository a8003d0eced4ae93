"""The router: applies routing-facts to each tenant's state, once each and in order, and publishes decisions.

For each fact: load the tenant's state, decide (the pure policy), publish the decisions and queue moves and
wait for the broker's acknowledgement, save the state, and only then record the fact's offset. A crash
anywhere in between re-delivers the fact, which is then either re-decided from the old state with the same
event ids, or recognised as applied.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import faust
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import ConsumerRecord, TopicPartition
from faust.types import TP

from services.routing.config import RoutingSettings
from services.routing.decisions import Decision
from services.routing.forwarder import SOURCE_HEADER
from services.routing.metrics import RoutingMetrics
from services.routing.outputs import output_event, tick_fact
from services.routing.policy import decide
from services.routing.store import TenantStore
from shared.deadletter import dead_letter_value
from shared.events import parse_event, serialize
from shared.kafka import read_range
from shared.logging import bind_event_context, get_logger

log = get_logger(__name__)


def record_of(message: Any) -> ConsumerRecord[bytes, bytes]:
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


def source_of(record: ConsumerRecord[bytes, bytes]) -> tuple[str, int] | None:
    """(source partition, offset) from the re-keyer's header, or None for the router's own ticks."""
    items = record.headers or ()
    for name, value in items:
        if name == SOURCE_HEADER:
            text = value.decode() if isinstance(value, bytes) else str(value)
            where, _, offset = text.rpartition(":")
            return where, int(offset)
    return None


class Router:
    def __init__(
        self,
        settings: RoutingSettings,
        store: TenantStore,
        metrics: RoutingMetrics,
        *,
        group: str,
        facts_name: str,
        facts: faust.TopicT,
        decisions: faust.TopicT,
        dead_letters: faust.TopicT,
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.group = group  # named in dead letters
        self.facts_name = facts_name
        self.facts = facts
        self.decisions = decisions
        self.dead_letters = dead_letters
        self._partitioner = DefaultPartitioner()

    async def handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Apply routing-facts in offset order, each once, none skipped.

        faust can drop buffered messages during a rebalance and still commit past them, so the router keeps
        the last offset it applied per partition (in the table, beside the state it produced): a repeat is
        skipped, and a gap is filled by reading the missing records straight from the broker first.
        """
        applied = self.store.applied(record.partition)
        if applied is not None and record.offset <= applied:
            self.metrics.counts["duplicates_skipped"] += 1
            return
        if applied is not None and record.offset > applied + 1:
            tp = TopicPartition(self.facts_name, record.partition)
            missing = await read_range(self.settings, tp, applied + 1, record.offset)
            self.metrics.counts["fact_gaps_filled"] += 1
            self.metrics.counts["facts_refetched"] += len(missing)
            log.warning(
                "routing_facts_gap_filled",
                partition=record.partition,
                first_missing=applied + 1,
                offset=record.offset,
                records=len(missing),
            )
            for earlier in missing:
                await self.apply(earlier)
        await self.apply(record)

    async def apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Apply one routing fact, decide, publish the decisions, then record the state and the offset."""
        try:
            fact = parse_event(record.value or b"")
            source = source_of(record)
            tenant = fact.tenant
            state, stored = self.store.load(tenant)
            new_state, outputs = decide(state, fact, source)
        except Exception as exc:  # a schema or a fact this build cannot apply: never silently skipped
            await self.dead_letter(record, f"{type(exc).__name__}: {exc}")
            self.store.mark_applied(record.partition, record.offset)
            return
        if new_state is state:
            self.metrics.counts["duplicates_skipped"] += 1
            self.store.mark_applied(record.partition, record.offset)
            return
        # Decisions are acknowledged by the broker before the state that records them is written: after
        # a crash in between, the fact is re-decided from the old state with the same event ids.
        pending = []
        for index, output in enumerate(outputs):
            out = output_event(fact, output, index)
            if isinstance(output, Decision):
                with bind_event_context(tenant=tenant, conversation_id=output.conversation_id):
                    # The log line says what the event records, field for field.
                    log.info("assignment_decided", **out.payload.model_dump(mode="json"), fact=fact.type)
                self.metrics.observe(tenant, output)
            else:
                self.metrics.counts["queue_position_updates"] += 1
            pending.append(await self.decisions.send(key=output.conversation_id, value=serialize(out)))
        if pending:
            await asyncio.gather(*pending)
        self.store.save(tenant, new_state, stored)
        # Last: a crash before this line re-delivers the fact, and decide() recognises it as applied.
        self.store.mark_applied(record.partition, record.offset)
        self.metrics.counts["facts_processed"] += 1
        self.metrics.fact_types[fact.type] += 1

    async def dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        self.metrics.dead_letters += 1
        log.warning("dead_letter", source_topic=record.topic, offset=record.offset, reason=reason[:300])
        value = dead_letter_value(record, reason=reason, service=self.settings.service_name, group=self.group)
        await self.dead_letters.send(key=record.topic, value=value)

    async def tick(self, assigned: set[TP]) -> None:
        """Publish the router's clock to every tenant whose routing-facts partition is in `assigned`."""
        partitions = list(range(self.settings.kafka_partitions))
        at = datetime.now(UTC)
        for tenant in self.store.tenants():
            partition = self._partitioner(tenant.encode(), partitions, partitions)
            if TP(self.facts_name, partition) not in assigned:
                continue
            await self.facts.send(key=tenant, value=serialize(tick_fact(tenant, at, self.settings)))
            self.metrics.counts["ticks_sent"] += 1
