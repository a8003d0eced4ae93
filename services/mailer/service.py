"""Composition root of the mailer: its consumer group on the conversation events, the SMTP sender, and the
operations endpoint (/healthz, /readyz, /metrics)."""

from __future__ import annotations

import asyncio

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from pymongo.asynchronous.database import AsyncDatabase

from services.mailer.config import MailerSettings
from services.mailer.mailer import Mailer
from services.mailer.smtp import SmtpSender
from shared.kafka import create_consumer, create_producer, ensure_topics
from shared.logging import get_logger
from shared.mongo import Document, create_mongo_client, get_database
from shared.service import EmbeddedServer, serve_until_stopped, stop_on_signals
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


def operations_app(mailer: Mailer | None, db: AsyncDatabase[Document]) -> FastAPI:
    app = FastAPI(title="Parley mailer operations")

    @app.get("/healthz")
    async def liveness() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readiness() -> JSONResponse:
        try:
            await db.command("ping")
        except Exception as exc:  # reported, not raised: readiness answers even when MongoDB is down
            return JSONResponse({"status": "degraded", "mongodb": repr(exc)}, status_code=503)
        partitions = len(mailer.consumer.assignment()) if mailer else 0
        return JSONResponse({"status": "ready", "assigned_partitions": partitions})

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> str:
        return render_mail_metrics(mailer)

    return app


async def serve(settings: MailerSettings) -> None:
    await ensure_topics(settings)
    mongo = create_mongo_client(settings)
    db = get_database(mongo, settings)
    stop = stop_on_signals()
    if not settings.email_configured:
        # Nothing can be requested (the gateway refuses): stay up for the probes, send nothing.
        log.warning("SMTP is not configured (PARLEY_SMTP_HOST, PARLEY_SMTP_SENDER): no transcript emails")
        server = EmbeddedServer(
            uvicorn.Config(operations_app(None, db), host=settings.host, port=settings.port, log_config=None)
        )
        try:
            await serve_until_stopped(stop, server, {})
        finally:
            await mongo.close()
        return
    producer = create_producer(settings)
    await producer.start()
    # A new group starts at the end of the topic: requests made before the mailer first ran are not sent.
    consumer = create_consumer(settings, group_id=mailer_group(settings), auto_offset_reset="latest")
    mailer = Mailer(settings, consumer, producer, db, SmtpSender(settings), group=mailer_group(settings))
    consumer.subscribe([CONVERSATION_EVENTS_TOPIC.name(settings.topic_prefix)], listener=mailer)
    await consumer.start()
    server = EmbeddedServer(
        uvicorn.Config(operations_app(mailer, db), host=settings.host, port=settings.port, log_config=None)
    )
    log.info("mailer started", ops_port=settings.port, smtp_host=settings.smtp_host, tls=settings.smtp_tls)
    try:
        await serve_until_stopped(stop, server, {"mail": mailer.run(stop)})
    finally:
        await consumer.stop()
        await producer.stop()
        await mongo.close()
        log.info("mailer stopped")


def run(settings: MailerSettings) -> None:
    asyncio.run(serve(settings))
