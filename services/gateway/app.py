"""The gateway's FastAPI application and its composition root.

`create_app` wires the Kafka producer and the MongoDB client into `app.state` during the lifespan;
routes reach them only through the `deps` package.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.gateway.attachments import AttachmentStore
from services.gateway.config import GatewaySettings
from services.gateway.credential_record import CredentialRecord
from services.gateway.deps import Views
from services.gateway.errors import RefuseNulInUrls, install_error_handlers
from services.gateway.live_hub import LiveHub
from services.gateway.publisher import EventPublisher
from services.gateway.rate_limits import LIMIT_NAMES, RateLimits
from services.gateway.routes import (
    agents,
    attachments,
    canned_responses,
    conversations,
    departments,
    health,
    history,
    profile,
    set_password,
    sign_in,
    sockets,
    team,
    transcripts,
    visitor,
    web,
    webhooks,
)
from shared.kafka import create_producer, ensure_topics
from shared.logging import get_logger
from shared.mongo import create_mongo_client, get_database

log = get_logger(__name__)


def rate_limits_of(settings: GatewaySettings) -> RateLimits:
    rates = {name: getattr(settings, f"limit_{name}") for name in LIMIT_NAMES}
    return RateLimits(rates, enabled=settings.rate_limits_enabled)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        created = await ensure_topics(settings)
        if created:
            log.info("topics created", topics=created)
        producer = create_producer(settings)
        await producer.start()
        mongo = create_mongo_client(settings)
        app.state.settings = settings
        app.state.producer = producer
        app.state.mongo = mongo
        app.state.db = get_database(mongo, settings)
        app.state.views = Views(app.state.db)
        app.state.publisher = EventPublisher(producer, settings)
        app.state.attachments = AttachmentStore(app.state.db)
        app.state.rate_limits = rate_limits_of(settings)
        app.state.credential_record = CredentialRecord()
        app.state.hub = LiveHub(settings, app.state.credential_record)
        await app.state.hub.start()
        # After the hub follows the topic, so no sign-out falls between the two.
        app.state.credential_record.load_sessions(
            await app.state.views.credentials.find({"sessions": {"$exists": True}}, {"sessions": 1}).to_list()
        )
        app.state.credential_record.load_deactivated(
            await app.state.views.agents.find({"deactivated": True}, {"deactivated": 1}).to_list()
        )
        log.info("gateway ready", host=settings.host, port=settings.port)
        try:
            yield
        finally:
            await app.state.hub.stop()
            await producer.stop()
            await mongo.close()

    app = FastAPI(title="Parley gateway", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    for module in (
        health,
        visitor,
        sign_in,
        profile,
        agents,
        team,
        set_password,
        conversations,
        canned_responses,
        departments,
        history,
        attachments,
        sockets,
        web,
        webhooks,
        transcripts,
    ):
        app.include_router(module.router)
    app.add_middleware(web.WidgetCors)
    app.add_middleware(RefuseNulInUrls)
    return app
