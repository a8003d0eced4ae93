from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Generator, Iterator

import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.kafka import create_producer, ensure_topics
from shared.mongo import Document, create_mongo_client, get_database
from shared.settings import ParleySettings
from tests.infrastructure import Infrastructure, delete_topics, provide_infrastructure
from tests.processes import ServiceProcess

# Lines of each service's log shown under a failed test that ran a stack of services.
LOG_LINES_ON_FAILURE = 40


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test on a stack of real services shows the end of each service's log: CI keeps nothing else,
    and \"the widget never showed the queue\" alone does not say whether the router, a projection or the
    gateway fell behind."""
    report: pytest.TestReport = yield
    if report.when == "call" and report.failed:
        shown: set[int] = set()  # a stack reached through two fixtures is shown once
        for fixture in getattr(item, "funcargs", {}).values():
            processes = getattr(fixture, "processes", None)
            if not isinstance(processes, dict):
                continue
            for name, process in processes.items():
                if isinstance(process, ServiceProcess) and id(process) not in shown:
                    shown.add(id(process))
                    report.sections.append((f"{name} log", process.log_tail(LOG_LINES_ON_FAILURE)))
    return report


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    with provide_infrastructure() as infra:
        yield infra


@pytest.fixture
def settings(infrastructure: Infrastructure) -> Iterator[ParleySettings]:
    """Settings isolated per test: own topic prefix and database, on the shared real servers."""
    run = uuid.uuid4().hex[:10]
    yield ParleySettings(
        environment="test",
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        mongodb_uri=infrastructure.mongodb_uri,
        mongodb_database=f"parley_test_{run}",
        topic_prefix=f"test-{run}",
        kafka_partitions=3,
    )
    delete_topics(infrastructure.kafka_bootstrap, f"test-{run}")


@pytest.fixture
async def producer(settings: ParleySettings) -> AsyncIterator[AIOKafkaProducer]:
    """A producer on the test's own topics, which exist by then."""
    await ensure_topics(settings)
    kafka = create_producer(settings, client_id="parley-test")
    await kafka.start()
    yield kafka
    await kafka.stop()


@pytest.fixture
async def mongo_client(settings: ParleySettings) -> AsyncIterator[AsyncMongoClient[Document]]:
    client = create_mongo_client(settings)
    yield client
    await client.drop_database(settings.mongodb_database)
    await client.close()


@pytest.fixture
def database(mongo_client: AsyncMongoClient[Document], settings: ParleySettings) -> AsyncDatabase[Document]:
    return get_database(mongo_client, settings)
