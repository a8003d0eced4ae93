"""Kafka adapter of the mailer: for one flow of emails (`MailFlow`: transcripts on the conversation events,
password links on the agent credentials) it reads the flow's topic in its own consumer group, sends each
requested email, and appends the outcome of every attempt to the requesting aggregate's own partition.

A failed attempt's record (`conversation.transcript_failed`, `agent.password_link_email_failed`) carries the
next attempt's time: the retry schedule lives in the topic, not in memory. The group commits a partition
up to the first record still holding a pending request; on an assignment the instance reads the partition
back from there to its end (a later outcome supersedes an earlier schedule) before it attempts anything, so
nothing is sent twice after a clean handover and nothing pending is forgotten after a crash (an attempt in
flight during a crash is repeated: at least once).
"""

from __future__ import annotations

import contextlib
import functools
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from services.mailer.config import MailerSettings
from services.mailer.domain import MailFlow, NotYet, PendingEmail, PendingEmails, decide
from services.mailer.smtp import SmtpSender
from shared.attempts import until_done
from shared.deadletter import publish_dead_letter
from shared.events import EventBase, InvalidEvent, parse_event, serialize
from shared.events.envelope import SYSTEM
from shared.kafka import append_until_acknowledged, read_range
from shared.logging import get_logger
from shared.outbound import OutboundConsumer

log = get_logger(__name__)
VIEWS_BEHIND_RETRY = timedelta(seconds=0.5)  # the views have not applied the request yet: look again soon
UNEXPECTED_RETRY = timedelta(seconds=5)
# The email for a pending request, or None when the views say it is not to be sent (a visitor's request
# past the cap, a link replaced or used since); raises NotYet while they have not applied the request.
Compose = Callable[[PendingEmail], Awaitable[EmailMessage | None]]


class Mailer(OutboundConsumer[MailerSettings, PendingEmail]):
    scheduler_name = "mail-scheduler"

    def __init__(
        self,
        settings: MailerSettings,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        sender: SmtpSender,
        *,
        flow: MailFlow,
        compose: Compose,
        group: str,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(settings, consumer, producer, group=group, policy=settings.retry_policy(), rng=rng)
        self.sender = sender
        self.flow = flow
        self._compose = compose
        self.topic = flow.topic.name(settings.topic_prefix)
        self.pending: dict[int, PendingEmails] = {}
        self.positions: dict[int, int] = {}
        self.outcomes: Counter[str] = Counter()  # sent, retrying, failed, refused
        self.dead_letters = 0

    # The consumer group.

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Attempts in flight finish first: their outcomes are then on the topic for the next owner, which
        # would otherwise read the request back as pending and send it a second time.
        await self.attempts.finish([tp.partition for tp in revoked], self.settings.smtp_timeout_seconds + 5)
        with contextlib.suppress(Exception):  # the next owner reads back whatever was not committed
            await self.commit()
        for tp in revoked:
            self.pending.pop(tp.partition, None)
            self.positions.pop(tp.partition, None)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.consumer.pause(*assigned)
        for tp in assigned:
            await until_done(
                functools.partial(self._read_back, tp), failure="cannot read back pending emails; retrying"
            )
        self.consumer.resume(*assigned)
        self.attempts.wake()

    async def _read_back(self, tp: TopicPartition) -> None:
        committed = await self.consumer.committed(tp)
        end = (await self.consumer.end_offsets([tp]))[tp]
        pending = PendingEmails(self.flow)
        if committed is not None:  # else a new group: it starts at the end, with nothing pending
            for record in await read_range(self.settings, tp, committed, end):
                await self._fold(pending, record)
            self.consumer.seek(tp, end)
        else:
            end = await self.consumer.position(tp)
        self.positions[tp.partition] = end
        self.pending[tp.partition] = pending
        log.info(
            "pending emails read back",
            flow=self.flow.name,
            partition=tp.partition,
            pending=len(pending),
            start=committed,
        )

    async def _fold(self, pending: PendingEmails, record: ConsumerRecord[bytes, bytes]) -> None:
        if self.flow.mark not in (record.value or b""):
            return
        try:
            event = parse_event(record.value or b"")
        except InvalidEvent as exc:
            self.dead_letters += 1
            await publish_dead_letter(
                self.producer, self.settings, record, reason=f"invalid event: {exc}", group=self.group
            )
            return
        pending.apply(event, record.offset)

    # The loops.

    async def _take(self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        pending = self.pending.get(tp.partition)
        if pending is None:  # fetched before the partition was read back
            self.consumer.seek(tp, records[0].offset)
            return
        for record in records:
            if record.offset >= self.positions[tp.partition]:  # not already read back
                await self._fold(pending, record)
                self.positions[tp.partition] = record.offset + 1
        self.attempts.wake()

    def _commit_offsets(self) -> dict[TopicPartition, OffsetAndMetadata]:
        return {
            TopicPartition(self.topic, partition): OffsetAndMetadata(
                pending.commit_offset(self.positions[partition]), ""
            )
            for partition, pending in self.pending.items()
            if partition in self.positions
        }

    def _ready(self, now: datetime) -> Iterator[tuple[int, PendingEmail]]:
        for partition, pending in list(self.pending.items()):
            for email in pending.ready(now):
                yield partition, email

    def _next_due(self) -> datetime | None:
        return min(filter(None, (pending.next_due() for pending in self.pending.values())), default=None)

    async def _attempt(self, partition: int, email: PendingEmail) -> None:
        try:
            message = await self._compose(email)
            if message is None:
                self.outcomes["refused"] += 1
                self._settle(partition, email)
                return
            result = await self.sender.send(message)
            decision = decide(
                result=result, attempt=email.attempt, policy=self.policy, now=datetime.now(UTC), rng=self.rng
            )
            flow = self.flow
            envelope: dict[str, Any] = {
                "tenant": email.tenant,
                "aggregate_id": email.aggregate_id,
                "actor": SYSTEM,
                "causation_id": email.request_event_id,
            }
            common = {flow.id_field: email.request_id, "recipient": email.recipient, "attempt": email.attempt}
            outcome: EventBase
            if decision.outcome == "sent":
                sent = {**common, "message_id": result.message_id}
                outcome = flow.sent.model_validate({**envelope, "payload": sent})
            else:
                reason = result.reason or "not sent"
                failed = {**common, "reason": reason, "next_attempt_at": decision.next_attempt_at}
                outcome = flow.failed.model_validate({**envelope, "payload": failed})
                log.warning("email failed", flow=flow.name, request_id=email.request_id, reason=reason)
            await append_until_acknowledged(
                self.producer,
                self.topic,
                key=email.aggregate_id,
                value=serialize(outcome),
                partition=partition,
            )
            self.outcomes[decision.outcome] += 1
            self._settle(partition, email)
        except NotYet:
            email.due_at = datetime.now(UTC) + VIEWS_BEHIND_RETRY
        except Exception:
            # MongoDB unreachable or a bug, not the mail server's answer: say so; the request stays pending.
            log.exception(
                "email attempt failed unexpectedly", flow=self.flow.name, request_id=email.request_id
            )
            email.due_at = datetime.now(UTC) + UNEXPECTED_RETRY
        finally:
            email.in_flight = False
            self.attempts.wake()

    def _settle(self, partition: int, email: PendingEmail) -> None:
        pending = self.pending.get(partition)
        if pending is not None:
            pending.settle(email)

    def backlog(self) -> tuple[int, int]:
        """Pending emails, and how many of them are waiting to be retried."""
        emails = [email for pending in self.pending.values() for email in pending.all()]
        return len(emails), sum(1 for email in emails if email.attempt > 1)
