"""Composition root shared by the projection services: Kafka consumer + producer + MongoDB, an operations
HTTP endpoint (/healthz, /readyz, /metrics), and a clean stop on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any, Protocol

import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from pymongo.asynchronous.database import AsyncDatabase

from shared.consumer import DocumentCounts, Projection, ProjectionConsumer
from shared.kafka import create_consumer, create_producer, ensure_topics
from shared.logging import get_logger
from shared.metrics import exposition, sample
from shared.mongo import Document, create_mongo_client, get_database
from shared.replay import ProjectionSpec, Rebuildable
from shared.settings import ParleySettings

log = get_logger(__name__)


class LiveViews(Projection, Rebuildable, Protocol):
    """A projection's views as its service runs them: applied batch by batch, and rebuildable by a replay."""


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside a service that owns its signals: the service decides when the server stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def operations_app(
    title: str,
    db: AsyncDatabase[Document],
    *,
    assigned_partitions: Callable[[], int],
    metrics: Callable[[], str],
) -> FastAPI:
    """/healthz (the process is up), /readyz (MongoDB answers; the partitions it holds) and /metrics."""
    app = FastAPI(title=title)

    @app.get("/healthz")
    async def liveness() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readiness() -> JSONResponse:
        try:
            await db.command("ping")
        except Exception as exc:  # reported, not raised: readiness answers even when MongoDB is down
            return JSONResponse({"status": "degraded", "mongodb": repr(exc)}, status_code=503)
        return JSONResponse({"status": "ready", "assigned_partitions": assigned_partitions()})

    @app.get("/metrics", response_class=PlainTextResponse)
    async def render() -> str:
        return metrics()

    return app


def projection_operations_app(
    projection: ProjectionConsumer,
    views: Projection,
    db: AsyncDatabase[Document],
    *,
    extra_metrics: Callable[[], str] = str,
) -> FastAPI:
    return operations_app(
        f"Parley {projection.settings.service_name} operations",
        db,
        assigned_partitions=lambda: len(projection.consumer.assignment()),
        metrics=lambda: render_metrics(projection, views.document_counts()) + extra_metrics(),
    )


def render_metrics(projection: ProjectionConsumer, documents: DocumentCounts) -> str:
    service = projection.settings.service_name
    stats = projection.stats
    lines = [
        sample("parley_view_documents_read_total", documents.read, service=service),
        sample("parley_view_documents_written_total", documents.written, service=service),
        sample("parley_events_applied_total", stats.events_applied, service=service),
        sample("parley_dead_letters_total", stats.dead_letters, service=service),
        sample("parley_batches_total", stats.batches, service=service),
        sample("parley_view_write_retries_total", stats.retries, service=service),
    ]
    for tp in projection.consumer.assignment():
        highwater = projection.consumer.highwater(tp)
        position = stats.last_offsets.get(f"{tp.topic}/{tp.partition}", -1) + 1
        if highwater is not None:
            lag = max(highwater - position, 0)
            lines.append(
                sample("parley_consumer_lag", lag, service=service, topic=tp.topic, partition=tp.partition)
            )
    return exposition(lines)


def projection_consumer(
    settings: ParleySettings,
    projection: ProjectionSpec[LiveViews],
    views: LiveViews,
    producer: AIOKafkaProducer,
    *,
    gather: bool = False,
) -> ProjectionConsumer:
    """The consume loop that applies the projection's topics to `views` in the projection's own consumer
    group; its Kafka consumer is the caller's to start and stop. `gather`: see `create_consumer`."""
    group = projection.group(settings)
    topics = [t.name(settings.topic_prefix) for t in projection.topics]
    consumer = create_consumer(settings, *topics, group_id=group, gather=gather)
    return ProjectionConsumer(
        settings, consumer, producer, group, views.handle_batch, on_reassigned=views.forget_cached
    )


async def run_projection_service(
    *,
    settings: ParleySettings,
    projection: ProjectionSpec[LiveViews],
    ops_port: int,
    ops_host: str = "127.0.0.1",
) -> None:
    await ensure_topics(settings)
    mongo = create_mongo_client(settings)
    db = get_database(mongo, settings)
    views = await projection.live_views(db, settings)
    producer = create_producer(settings)
    consuming = projection_consumer(settings, projection, views, producer, gather=True)
    await producer.start()
    await consuming.consumer.start()

    stop = stop_on_signals()
    server = EmbeddedServer(
        uvicorn.Config(
            projection_operations_app(consuming, views, db), host=ops_host, port=ops_port, log_config=None
        )
    )
    topics = [t.suffix for t in projection.topics]
    log.info("projection started", group=consuming.group, topics=topics, ops_port=ops_port)
    try:
        await serve_until_stopped(stop, server, {"consume": consuming.run(stop)})
    finally:
        await consuming.consumer.stop()
        await producer.stop()
        await mongo.close()
        log.info("projection stopped", group=consuming.group)


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM: the workers' cue to finish what they hold and return."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve_until_stopped(
    stop: asyncio.Event, server: EmbeddedServer, workers: Mapping[str, Coroutine[Any, Any, object]]
) -> None:
    """Runs a service's workers beside its operations server until `stop` is set or one of them fails;
    then stops them all and raises the failure, so a dead worker never leaves a half-alive service."""
    tasks = [asyncio.create_task(work, name=name) for name, work in workers.items()]
    tasks.append(asyncio.create_task(server.serve(), name="operations-http"))
    try:
        done, _ = await asyncio.wait(
            [*tasks, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        for task in done:
            if task in tasks and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        stop.set()
        server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
