"""The bare pipeline: the least code that does Parley's job with Parley's libraries and none of its logic.

A visitor message comes in over HTTP (FastAPI on uvicorn), is validated (pydantic) and produced to Kafka
(aiokafka, acks=all, awaited, with Parley's producer settings). One consumer in a consumer group bulk-writes
the messages into the same MongoDB-wire server and commits after the write. The HTTP process follows the
topic and pushes each message over a WebSocket to the one agent listening to that conversation. That is the
limit of this stack on this machine: `python -m bench` drives it with the same load generator, on the same
ladder and in the same run as Parley, and reports Parley ÷ bare.

It answers the URLs and JSON the load generator uses on Parley:
  POST /api/visitor/conversations             start: an id, a visitor token, an agent picked round robin
  POST /api/visitor/conversation/messages     a visitor message (Authorization: Bearer <visitor token>)
  GET  /api/visitor/conversation              {"position": the last offset the writer stored} (lag probe)
  POST /api/agent/conversations/{id}/messages an agent's reply (Bearer <agent id>)
  WS   /ws/agent?token=<agent id>             the pushes to one agent
Tokens are opaque ids kept in memory: no accounts, no JWT, no views, no routing. The load generator's
`X-Bench-Shard` header says which of its processes holds the agent sockets that a conversation's messages
must reach (Parley ignores the header: it pushes every event to every agent socket of the tenant).

Run: `python -m bench.bare gateway` or `python -m bench.bare writer`, configured by PARLEY_* variables.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI, Header, HTTPException, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field
from pymongo import AsyncMongoClient, InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from bench.loadgen import SHARD_HEADER
from shared.kafka import create_consumer, create_producer
from shared.settings import ParleySettings
from shared.topics import TopicSpec

BARE_TOPIC = TopicSpec(
    suffix="bench-bare-messages",
    key="conversation id",
    description="The bare pipeline's messages (bench only).",
)
# Its processes as the bench starts them (bench/stack.py), named as in the reports: name -> module, arguments.
BARE_PROCESSES = {"bare_gateway": ("bench.bare", "gateway"), "bare_writer": ("bench.bare", "writer")}
# FerretDB holds a pooled PostgreSQL connection for each matching update of a bulk until the bulk ends (see
# shared/mongo.py): 50 stays well below its pool of 100, beside the projections' bulks of at most 10.
BULK_CHUNK = 50
DUPLICATE_KEY = 11000


class Start(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class Message(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)


def bare_database(settings: ParleySettings) -> str:
    return f"{settings.mongodb_database}_bare"


class Gateway:
    """The front: HTTP in, Kafka out; and the topic followed back out to the agents' WebSockets."""

    # Kafka's clients must be made inside the running event loop: `open` makes them.
    producer: AIOKafkaProducer
    follower: AIOKafkaConsumer

    def __init__(self, settings: ParleySettings) -> None:
        self.settings = settings
        self.topic = BARE_TOPIC.name(settings.topic_prefix)
        self.mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
        self.conversations = self.mongo[bare_database(settings)]["conversations"]
        self.visitors: dict[str, str] = {}  # visitor token -> conversation id
        self.listener: dict[str, WebSocket] = {}  # conversation id -> the agent socket its messages go to
        self.agent_sockets: dict[str, list[WebSocket]] = defaultdict(list)  # by load generator shard
        self.turns = itertools.count()  # round robin over a shard's agents

    async def open(self) -> None:
        self.producer = create_producer(self.settings, client_id="parley-bench-bare")
        self.follower = create_consumer(self.settings, group_id=None, auto_offset_reset="latest")
        await self.producer.start()
        await self.follower.start()
        # Positioned at the end before the first request is served: nothing produced after start-up is
        # skipped.
        # The bench made the topic with the settings' partition count (shared.kafka.ensure_topics).
        partitions = [TopicPartition(self.topic, p) for p in range(self.settings.kafka_partitions)]
        self.follower.assign(partitions)
        await self.follower.seek_to_end(*partitions)
        for partition in partitions:
            await self.follower.position(partition)

    async def close(self) -> None:
        await self.follower.stop()
        await self.producer.stop()
        await self.mongo.close()

    async def produce(self, conversation_id: str, event: dict[str, Any]) -> dict[str, Any]:
        metadata = await self.producer.send_and_wait(
            self.topic, key=conversation_id.encode(), value=json.dumps(event).encode()
        )
        return {"events": [{"partition": metadata.partition, "position": metadata.offset}]}

    def visitor(self, authorization: str) -> str:
        conversation_id = self.visitors.get(authorization.removeprefix("Bearer "))
        if conversation_id is None:
            raise HTTPException(401, "unknown visitor token")
        return conversation_id

    def pick_agent(self, shard: str, conversation_id: str) -> WebSocket | None:
        agents = self.agent_sockets[shard]
        if not agents:
            return None
        self.listener[conversation_id] = agents[next(self.turns) % len(agents)]
        return self.listener[conversation_id]

    async def push_each_message(self) -> None:
        while True:
            for records in (await self.follower.getmany(timeout_ms=1000, max_records=1000)).values():
                for record in records:
                    agent = self.listener.get(record.key.decode()) if record.key else None
                    if agent is None or record.value is None:
                        continue
                    # The record is already the event's JSON: framed as text, never parsed here.
                    frame = f'{{"kind":"event","position":{record.offset},"event":{record.value.decode()}}}'
                    with contextlib.suppress(WebSocketDisconnect, RuntimeError):  # the agent left
                        await agent.send_text(frame)


def create_gateway(settings: ParleySettings) -> FastAPI:
    gateway = Gateway(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await gateway.open()
        pushing = asyncio.create_task(gateway.push_each_message())
        yield
        pushing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pushing
        await gateway.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/visitor/conversations", status_code=201)
    async def start(body: Start, request: Request) -> dict[str, Any]:
        conversation_id, token = uuid.uuid4().hex, uuid.uuid4().hex
        agent = gateway.pick_agent(request.headers.get(SHARD_HEADER, "0"), conversation_id)
        # A bare start is its assignment: one record, pushed to the chosen agent like any message.
        decided = {
            "type": "conversation.assignment_decided",
            "aggregate_id": conversation_id,
            "payload": {
                "outcome": "assigned" if agent else "queued",
                "agent_id": agent.query_params.get("token") if agent else None,
                "visitor": body.model_dump(),
            },
        }
        response = await gateway.produce(conversation_id, decided)
        gateway.visitors[token] = conversation_id
        return {"conversation_id": conversation_id, "visitor_token": token, **response}

    @app.post("/api/visitor/conversation/messages", status_code=201)
    async def visitor_message(body: Message, authorization: Annotated[str, Header()]) -> dict[str, Any]:
        conversation_id = gateway.visitor(authorization)
        return await gateway.produce(conversation_id, posted(conversation_id, "visitor", body.text))

    @app.get("/api/visitor/conversation")
    async def my_conversation(authorization: Annotated[str, Header()]) -> dict[str, Any]:
        stored = await gateway.conversations.find_one({"_id": gateway.visitor(authorization)})
        return {"position": stored["position"] if stored else None}

    @app.post("/api/agent/conversations/{conversation_id}/messages", status_code=201)
    async def agent_reply(conversation_id: str, body: Message) -> dict[str, Any]:
        return await gateway.produce(conversation_id, posted(conversation_id, "agent", body.text))

    @app.websocket("/ws/agent")
    async def agent_socket(websocket: WebSocket) -> None:
        await websocket.accept()
        shard = gateway.agent_sockets[websocket.headers.get(SHARD_HEADER, "0")]
        shard.append(websocket)
        try:
            while True:
                await websocket.receive_text()  # heartbeats: read and ignored
        except WebSocketDisconnect:
            pass
        finally:
            shard.remove(websocket)

    return app


def posted(conversation_id: str, author: str, text: str) -> dict[str, Any]:
    return {
        "type": "conversation.message_posted",
        "aggregate_id": conversation_id,
        "actor": {"kind": author},
        "payload": {"text": text},
    }


async def write_batches(consumer: AIOKafkaConsumer, database: AsyncDatabase[dict[str, Any]]) -> None:
    """Each batch: one line per record, each conversation's last position; then the commit."""
    while True:
        batches = await consumer.getmany(timeout_ms=500, max_records=1000)
        records = [record for partition in batches.values() for record in partition]
        if not records:
            continue
        lines = [
            InsertOne(
                {
                    "_id": f"{record.partition}:{record.offset}",
                    "position": record.offset,
                    "event": json.loads(record.value or b"{}"),
                }
            )
            for record in records
        ]
        last_position: dict[str, int] = {}
        for record in records:  # in offset order within a partition, and a conversation is one partition
            last_position[(record.key or b"").decode()] = record.offset
        positions = [
            UpdateOne({"_id": conversation_id}, {"$max": {"position": offset}}, upsert=True)
            for conversation_id, offset in last_position.items()
        ]
        await write_unordered(database["lines"].bulk_write, lines)
        await write_unordered(database["conversations"].bulk_write, positions)
        await consumer.commit()


def create_writer(settings: ParleySettings) -> FastAPI:
    topic = BARE_TOPIC.name(settings.topic_prefix)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        consumer = create_consumer(settings, topic, group_id=f"{topic}-writer", gather=True)
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
        await consumer.start()
        writing = asyncio.create_task(write_batches(consumer, mongo[bare_database(settings)]))
        yield
        writing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writing
        await consumer.stop()
        await mongo.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def write_unordered(bulk_write: Callable[..., Any], operations: list[Any]) -> None:
    """Bulk writes in chunks; a line already written (the batch is redelivered after a crash before its
    commit) is skipped, not an error."""
    for start in range(0, len(operations), BULK_CHUNK):
        try:
            await bulk_write(operations[start : start + BULK_CHUNK], ordered=False)
        except BulkWriteError as error:
            if any(e["code"] != DUPLICATE_KEY for e in error.details["writeErrors"]):
                raise


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("role", choices=("gateway", "writer"))
    args = parser.parse_args()
    settings = ParleySettings(service_name=f"bench-bare-{args.role}")
    app = create_gateway(settings) if args.role == "gateway" else create_writer(settings)
    port = int(os.environ["PARLEY_PORT"])
    # As the gateway runs (uvicorn's defaults: uvloop, httptools, websockets), without an access log.
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
