"""Typed settings shared by every Parley service.

Each service subclasses `ParleySettings` with its own fields; all read environment variables prefixed
`PARLEY_` (e.g. `PARLEY_KAFKA_BOOTSTRAP`), so one `.env` or deployment manifest configures the whole fleet.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Port = Annotated[int, Field(gt=0, lt=65536)]


class ParleySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARLEY_", env_file=".env", extra="ignore")

    service_name: str = "parley"
    # Where a service listens (its API or its operations endpoint); each service's settings give its `port`.
    host: str = "127.0.0.1"
    environment: Literal["local", "test", "production"] = "local"
    log_level: str = "INFO"
    # Kafka, faust and MongoDB clients log every rebalance and connection at INFO: set INFO to see them.
    library_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_format: Literal["auto", "json", "console"] = "auto"
    # Every service's asyncio loop, as uvicorn's `--loop`: uvloop (libuv) spends less CPU per wake-up than the
    # standard library's loop, and a chat message wakes every service several times (consume, write, produce).
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_client_id_prefix: str = "parley"
    # No linger: aiokafka keeps one produce request in flight per broker, so records appended meanwhile
    # already travel together in the next request; a linger only added its wait (5 ms measured here as
    # acks 8 ms slower at p50 at 50 records/s, and no fewer requests or CPU at 1,000/s).
    kafka_linger_ms: int = Field(default=0, ge=0)
    kafka_max_batch_bytes: int = Field(default=128 * 1024, gt=0)
    kafka_compression: Literal["none", "gzip", "lz4", "zstd", "snappy"] = "lz4"
    # Partitions and replication for topics Parley creates; production clusters raise replication to 3.
    kafka_partitions: int = Field(default=6, gt=0)
    # How long the broker may hold a view writer's fetch to gather more events (fetch.max.wait.ms, with a
    # fetch.min.bytes that chat traffic does not reach first). At a few events a second each fetch would
    # otherwise bring one event, and the Kafka and MongoDB round trips per batch were most of a projection's
    # CPU (py-spy). In bench-quick at 50 msg/s a 50 ms window cut the projections' and the router's CPU per
    # message by a quarter and halved the end-to-end p50 (fewer processes wake per event); the broker's CPU
    # per message rose by a tenth. It costs the views, and the routing decisions (the re-keyer gathers too),
    # up to this much lag; an idle writer asks the broker every this-many ms instead of every 500 ms.
    # 0: answer as soon as one event is there.
    kafka_gather_ms: int = Field(default=50, ge=0, le=500)
    # How often a projection checkpoints what it applied. Longer: fewer offset commits for the broker;
    # after a crash, more events applied again (harmless: views skip positions they already hold).
    commit_interval_seconds: float = Field(default=1.0, ge=0)
    kafka_replication_factor: int = Field(default=1, gt=0)
    topic_prefix: str = "parley"

    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    mongodb_database: str = "parley"
    mongodb_timeout_ms: int = Field(default=5000, gt=0)
    mongodb_socket_timeout_ms: int = Field(default=30_000, gt=0)

    @property
    def kafka_compression_type(self) -> str | None:
        return None if self.kafka_compression == "none" else self.kafka_compression
