"""A database that FerretDB cannot reach is the store's fault, never the event's: retried, not dead-lettered."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from unittest.mock import MagicMock

from pymongo.errors import OperationFailure

from shared.consumer import ProjectionConsumer, is_retryable
from shared.events import RecordedEvent
from shared.mongo import storage_unavailable
from shared.settings import ParleySettings

# What FerretDB 1.24 answered while the PostgreSQL under it restarted (seen in `make faults`).
FERRETDB_WHILE_POSTGRES_RESTARTS = [
    "[collection.go:109 postgresql.(*collection).Query] failed to connect to `user=ferretdb database=ferretdb`: "
    "127.0.0.1:5442 (127.0.0.1): dial error: dial tcp 127.0.0.1:5442: connect: connection refused",
    "failed to connect to `user=ferretdb database=ferretdb`: 127.0.0.1:5442 (127.0.0.1): server error: "
    "FATAL: the database system is starting up (SQLSTATE 57P03)",
    "[query_iterator.go:92 postgresql.(*queryIterator).Next] unexpected EOF",
    "read tcp 127.0.0.1:55560->127.0.0.1:5442: read: connection reset by peer",
    "FATAL: terminating connection due to administrator command (SQLSTATE 57P01)",
]


def _failure(message: str, code: int = 1) -> OperationFailure:
    return OperationFailure(message, code, {"ok": 0.0, "errmsg": message, "code": code})


def test_ferretdb_losing_its_database_is_retryable() -> None:
    for message in FERRETDB_WHILE_POSTGRES_RESTARTS:
        assert storage_unavailable(_failure(message)), message
        assert is_retryable(_failure(message)), message


def test_a_write_the_server_rejects_is_not_retryable() -> None:
    assert not storage_unavailable(_failure("E11000 duplicate key error", code=11000))
    assert not storage_unavailable(_failure("Unknown modifier: $foo", code=9))
    assert not storage_unavailable(ValueError("failed to connect to"))
    labelled = OperationFailure("not primary", 10107, {"errorLabels": ["RetryableWriteError"], "code": 10107})
    assert storage_unavailable(labelled)


def test_the_consume_loop_retries_until_the_database_is_back_instead_of_dead_lettering() -> None:
    calls: list[int] = []

    async def handle(events: Sequence[RecordedEvent]) -> None:
        calls.append(len(events))
        if len(calls) < 3:
            raise _failure(FERRETDB_WHILE_POSTGRES_RESTARTS[1])

    consumer: Any = MagicMock()
    projection = ProjectionConsumer(ParleySettings(), consumer, MagicMock(), "group", handle)
    projection.max_backoff_seconds = 0.01
    asyncio.run(projection._with_retries([]))
    assert calls == [0, 0, 0]
    assert projection.stats.retries == 2 and projection.stats.dead_letters == 0
