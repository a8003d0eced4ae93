"""Where the tests find a real Kafka broker and a real MongoDB-wire server.

Default (`PARLEY_INFRA` unset or `local`): the servers that `make infra-up` started, or whatever
`PARLEY_KAFKA_BOOTSTRAP` / `PARLEY_MONGODB_URI` name (a real cluster works too). If they do not answer,
the tests fail with a message saying how to start them: they are never silently skipped.

`PARLEY_INFRA=containers`: start Kafka and MongoDB with testcontainers; skipped with the reason when no
Docker engine answers on this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from shared import kafka


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap: str
    mongodb_uri: str


def _docker_answers() -> tuple[bool, str]:
    try:
        import docker

        docker.from_env().ping()
        return True, ""
    except Exception as exc:  # any failure means there is no usable engine
        return False, f"{type(exc).__name__}: {exc}"


@contextmanager
def _containers() -> Iterator[Infrastructure]:
    ok, reason = _docker_answers()
    if not ok:
        pytest.skip(f"PARLEY_INFRA=containers needs a Docker engine, and none answers here ({reason})")
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    with KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka, MongoDbContainer("mongo:7.0") as mongo:
        yield Infrastructure(kafka.get_bootstrap_server(), mongo.get_connection_url())


async def _probe(infra: Infrastructure) -> None:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        infra.mongodb_uri, serverSelectionTimeoutMS=3000
    )
    try:
        await client.admin.command("ping")
    finally:
        await client.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()


@contextmanager
def _local() -> Iterator[Infrastructure]:
    infra = Infrastructure(
        kafka_bootstrap=os.environ.get("PARLEY_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        mongodb_uri=os.environ.get("PARLEY_MONGODB_URI", "mongodb://127.0.0.1:27017"),
    )
    try:
        asyncio.run(_probe(infra))
    except Exception as exc:
        pytest.fail(
            f"Kafka ({infra.kafka_bootstrap}) or MongoDB ({infra.mongodb_uri}) does not answer: {exc}. "
            "Start them with `make infra-up` (or run `make test`, which does).",
            pytrace=False,
        )
    yield infra


@contextmanager
def provide_infrastructure() -> Iterator[Infrastructure]:
    mode = os.environ.get("PARLEY_INFRA", "local")
    if mode == "containers":
        with _containers() as infra:
            yield infra
    elif mode == "local":
        with _local() as infra:
            yield infra
    else:
        raise pytest.UsageError(f"PARLEY_INFRA must be 'local' or 'containers', not {mode!r}")


def delete_topics(bootstrap: str, prefix: str) -> None:
    """Delete the topics a test created under its own prefix (shared.kafka.delete_topics says why).

    Best effort: a test that stopped the broker on purpose must still end, so a broker that does not answer is
    left as it is. It runs in a thread of its own because pytest-asyncio may own this thread's event loop.
    """

    async def delete() -> None:
        with contextlib.suppress(TimeoutError, KafkaError, OSError):
            await kafka.delete_topics(bootstrap, prefix)

    worker = threading.Thread(target=asyncio.run, args=(delete(),), daemon=True)
    worker.start()
    worker.join(timeout=30)
