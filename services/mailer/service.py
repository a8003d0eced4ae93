"""Composition root of the mailer: a consumer group per flow of emails (transcripts on the conversation
events, password links on the agent credentials), the SMTP sender, and the operations endpoint (/healthz,
/readyz, /metrics)."""

from __future__ import annotations

import uvicorn
from pymongo.asynchronous.database import AsyncDatabase

from services.mailer.compose import PasswordLinkComposer, TranscriptComposer
from services.mailer.config import MailerSettings
from services.mailer.domain import PASSWORD_LINKS, TRANSCRIPTS, MailFlow
from services.mailer.mailer import Compose, Mailer
from services.mailer.smtp import SmtpSender
from shared import runtime
from shared.kafka import create_consumer, create_producer, ensure_topics
from shared.logging import get_logger
from shared.metrics import exposition, sample
from shared.mongo import Document, create_mongo_client, get_database
from shared.service import EmbeddedServer, operations_app, serve_until_stopped, stop_on_signals

log = get_logger(__name__)


def mailer_group(settings: MailerSettings, flow: MailFlow = TRANSCRIPTS) -> str:
    suffix = "" if flow is TRANSCRIPTS else f"-{flow.name.replace('_', '-')}s"
    return f"{settings.topic_prefix}-mailer{suffix}"


# Metric names per flow: the transcripts' names are the ones dashboards already use.
_METRIC_NAMES = {TRANSCRIPTS.name: "transcript_emails", PASSWORD_LINKS.name: "password_link_emails"}


def render_mail_metrics(mailers: list[Mailer]) -> str:
    if not mailers:
        return exposition([sample("parley_mailer_configured", 0)])
    lines = [sample("parley_mailer_configured", 1)]
    for mailer in mailers:
        name = _METRIC_NAMES[mailer.flow.name]
        pending, retrying = mailer.backlog()
        for outcome in ("sent", "retrying", "failed", "refused"):
            lines.append(sample(f"parley_{name}_total", mailer.outcomes[outcome], outcome=outcome))
        lines.append(sample(f"parley_{name}_pending", pending))
        lines.append(sample(f"parley_{name}_awaiting_retry", retrying))
    lines.append(sample("parley_mailer_dead_letters_total", sum(m.dead_letters for m in mailers)))
    lines.append(sample("parley_mailer_assigned_partitions", sum(len(m.pending) for m in mailers)))
    return exposition(lines)


async def start_mailer(
    settings: MailerSettings, db: AsyncDatabase[Document], flow: MailFlow = TRANSCRIPTS
) -> Mailer:
    producer = create_producer(settings)
    await producer.start()
    # A new group starts at the end of the topic: requests made before the mailer first ran are not sent.
    group = mailer_group(settings, flow)
    consumer = create_consumer(settings, group_id=group, auto_offset_reset="latest")
    compose: Compose = (
        TranscriptComposer(settings, db) if flow is TRANSCRIPTS else PasswordLinkComposer(settings, db)
    )
    mailer = Mailer(
        settings, consumer, producer, SmtpSender(settings), flow=flow, compose=compose, group=group
    )
    consumer.subscribe([flow.topic.name(settings.topic_prefix)], listener=mailer)
    await consumer.start()
    return mailer


async def serve(settings: MailerSettings) -> None:
    await ensure_topics(settings)
    mongo = create_mongo_client(settings)
    db = get_database(mongo, settings)
    stop = stop_on_signals()
    mailers = (
        [await start_mailer(settings, db, flow) for flow in (TRANSCRIPTS, PASSWORD_LINKS)]
        if settings.email_configured
        else []
    )
    if not mailers:
        # Nothing can be requested (the gateway refuses): stay up for the probes, send nothing.
        log.warning("SMTP is not configured (PARLEY_SMTP_HOST, PARLEY_SMTP_SENDER): no emails are sent")
    app = operations_app(
        "Parley mailer operations",
        db,
        assigned_partitions=lambda: sum(len(m.consumer.assignment()) for m in mailers),
        metrics=lambda: render_mail_metrics(mailers),
    )
    server = EmbeddedServer(uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None))
    log.info("mailer started", ops_port=settings.port, smtp_host=settings.smtp_host, tls=settings.smtp_tls)
    try:
        await serve_until_stopped(stop, server, {f"mail-{m.flow.name}": m.run(stop) for m in mailers})
    finally:
        for mailer in mailers:
            await mailer.consumer.stop()
            await mailer.producer.stop()
        await mongo.close()
        log.info("mailer stopped")


def run(settings: MailerSettings) -> None:
    runtime.run(settings, serve(settings))
