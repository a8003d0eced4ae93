"""Composition root of the mailer: its consumer group on the conversation events, the SMTP sender, and the
operations endpoint (/healthz, /readyz, /metrics)."""

from __future__ import annotations

import asyncio

import uvicorn
from pymongo.asynchronous.database import AsyncDatabase

from services.mailer.config import MailerSettings
from services.mailer.mailer import Mailer
from services.mailer.smtp import SmtpSender
from shared.kafka import create_consumer, create_producer, ensure_topics
from shared.logging import get_logger
from shared.mongo import Document, create_mongo_client, get_database
from shared.service import EmbeddedServer, operations_app, serve_until_stopped, stop_on_signals
from shared.topics import CONVERSATION_EVENTS_TOPIC

log = get_logger(__name__)


def mailer_group(settings: MailerSettings) -> str:
    return f"{settings.topic_prefix}-mailer"


def render_mail_metrics(mailer: Mailer | None) -> str:
    if mailer is None:
        return "parley_mailer_configured 0\n"
    pending, retrying = mailer.backlog()
    lines = ["parley_mailer_configured 1"]
    for outcome in ("sent", "retrying", "failed", "refused"):
        lines.append(f'parley_transcript_emails_total{{outcome="{outcome}"}} {mailer.outcomes[outcome]}')
    lines.append(f"parley_transcript_emails_pending {pending}")
    lines.append(f"parley_transcript_emails_awaiting_retry {retrying}")
    lines.append(f"parley_mailer_dead_letters_total {mailer.dead_letters}")
    lines.append(f"parley_mailer_assigned_partitions {len(mailer.pending)}")
    return "\n".join(lines) + "\n"


async def start_mailer(settings: MailerSettings, db: AsyncDatabase[Document]) -> Mailer:
    producer = create_producer(settings)
    await producer.start()
    # A new group starts at the end of the topic: requests made before the mailer first ran are not sent.
    consumer = create_consumer(settings, group_id=mailer_group(settings), auto_offset_reset="latest")
    mailer = Mailer(settings, consumer, producer, db, SmtpSender(settings), group=mailer_group(settings))
    consumer.subscribe([CONVERSATION_EVENTS_TOPIC.name(settings.topic_prefix)], listener=mailer)
    await consumer.start()
    return mailer


async def serve(settings: MailerSettings) -> None:
    await ensure_topics(settings)
    mongo = create_mongo_client(settings)
    db = get_database(mongo, settings)
    stop = stop_on_signals()
    mailer = await start_mailer(settings, db) if settings.email_configured else None
    if mailer is None:
        # Nothing can be requested (the gateway refuses): stay up for the probes, send nothing.
        log.warning("SMTP is not configured (PARLEY_SMTP_HOST, PARLEY_SMTP_SENDER): no transcript emails")
    app = operations_app(
        "Parley mailer operations",
        db,
        assigned_partitions=lambda: len(mailer.consumer.assignment()) if mailer else 0,
        metrics=lambda: render_mail_metrics(mailer),
    )
    server = EmbeddedServer(uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None))
    log.info("mailer started", ops_port=settings.port, smtp_host=settings.smtp_host, tls=settings.smtp_tls)
    try:
        await serve_until_stopped(stop, server, {"mail": mailer.run(stop)} if mailer else {})
    finally:
        if mailer is not None:
            await mailer.consumer.stop()
            await mailer.producer.stop()
        await mongo.close()
        log.info("mailer stopped")


def run(settings: MailerSettings) -> None:
    asyncio.run(serve(settings))
