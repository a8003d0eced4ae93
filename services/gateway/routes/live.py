"""WebSockets: agents get their tenant's events, presence and typing; visitors their own conversation only.

Authenticate with `?token=` (browsers cannot set headers on a WebSocket). Client messages:
  agents   {"type": "heartbeat", "status": "available"}   every ~20 s while the dashboard is open
           {"type": "typing", "conversation_id": "...", "typing": true, "mode": "message" | "note"}
  visitors {"type": "typing", "typing": true}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from services.gateway.auth import InvalidToken, decode_token
from services.gateway.deps import HubDep, ProducerDep, SettingsDep
from services.gateway.live import Connection, LiveHub
from shared.events import serialize
from shared.events.agent import AgentHeartbeat
from shared.events.envelope import Actor
from shared.logging import get_logger
from shared.topics import PRESENCE, SIGNALS

router = APIRouter(tags=["live"])
log = get_logger(__name__)
POLICY_VIOLATION = 1008


async def _pump(websocket: WebSocket, connection: Connection) -> None:
    while True:
        message = await connection.queue.get()
        if connection.overflowed:
            await websocket.close(code=1013, reason="too far behind; reconnect and fetch what you missed")
            return
        await websocket.send_text(message)


async def _serve(websocket: WebSocket, hub: LiveHub, connection: Connection, on_message: Any) -> None:
    hub.add(connection)
    sender = asyncio.create_task(_pump(websocket, connection))
    try:
        await websocket.send_json({"kind": "ready"})
        while True:
            raw = await websocket.receive_text()
            try:
                message = json.loads(raw)
                if not isinstance(message, dict):
                    raise ValueError("expected a JSON object")
                await on_message(message)
            except (ValueError, ValidationError, KeyError) as exc:
                await websocket.send_json({"kind": "error", "message": f"bad message: {exc}"})
    except WebSocketDisconnect:
        pass
    finally:
        hub.remove(connection)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender


@router.websocket("/ws/agent")
async def agent_socket(
    websocket: WebSocket, settings: SettingsDep, hub: HubDep, producer: ProducerDep
) -> None:
    await websocket.accept()
    try:
        claims = decode_token(settings, websocket.query_params.get("token", ""), "agent")
    except InvalidToken as exc:
        await websocket.close(code=POLICY_VIOLATION, reason=str(exc))
        return
    agent_id, tenant = claims["sub"], claims["tenant"]
    prefix = settings.topic_prefix

    async def on_message(message: dict[str, Any]) -> None:
        if message.get("type") == "heartbeat":
            beat = AgentHeartbeat(
                tenant=tenant,
                aggregate_id=agent_id,
                actor=Actor(kind="agent", id=agent_id),
                payload={"status": message.get("status", "available")},
            )
            await producer.send(PRESENCE.name(prefix), key=agent_id.encode(), value=serialize(beat))
        elif message.get("type") == "typing":
            conversation_id = str(message["conversation_id"])[:100]
            signal = {
                "tenant": tenant,
                "conversation_id": conversation_id,
                "typing": bool(message.get("typing")),
                "mode": "note" if message.get("mode") == "note" else "message",
                "sender": {"kind": "agent", "id": agent_id},
            }
            await producer.send(
                SIGNALS.name(prefix), key=conversation_id.encode(), value=json.dumps(signal).encode()
            )
        else:
            raise ValueError(f"unknown message type {message.get('type')!r}")

    await _serve(websocket, hub, Connection(tenant=tenant, agent_id=agent_id), on_message)


@router.websocket("/ws/visitor")
async def visitor_socket(
    websocket: WebSocket, settings: SettingsDep, hub: HubDep, producer: ProducerDep
) -> None:
    await websocket.accept()
    try:
        claims = decode_token(settings, websocket.query_params.get("token", ""), "visitor")
    except InvalidToken as exc:
        await websocket.close(code=POLICY_VIOLATION, reason=str(exc))
        return
    conversation_id, tenant = claims["conversation_id"], claims["tenant"]

    async def on_message(message: dict[str, Any]) -> None:
        if message.get("type") != "typing":
            raise ValueError(f"unknown message type {message.get('type')!r}")
        signal = {
            "tenant": tenant,
            "conversation_id": conversation_id,
            "typing": bool(message.get("typing")),
            "mode": "message",
            "sender": {"kind": "visitor", "id": claims["sub"]},
        }
        await producer.send(
            SIGNALS.name(settings.topic_prefix),
            key=conversation_id.encode(),
            value=json.dumps(signal).encode(),
        )

    await _serve(websocket, hub, Connection(tenant=tenant, conversation_id=conversation_id), on_message)
