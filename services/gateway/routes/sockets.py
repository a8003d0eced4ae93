"""The WebSocket endpoints: agents get their tenant's events, presence and typing; visitors their own
conversation only. What they receive comes from the live hub (`services/gateway/live_hub.py`).

Authenticate with `?token=` (browsers cannot set headers on a WebSocket; see `deps.SocketAgentDep`); a
refused token closes the socket with 1008 and the reason. Client messages:
  agents   {"type": "heartbeat", "status": "available"}   every ~20 s while the dashboard is open
           {"type": "typing", "conversation_id": "...", "typing": true, "mode": "message" | "note"}
  visitors {"type": "typing", "typing": true}
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from services.gateway import commands
from services.gateway.auth import AgentPrincipal, VisitorPrincipal
from services.gateway.deps import HubDep, PublisherDep, SocketAgentDep, SocketVisitorDep
from services.gateway.live_hub import Connection, LiveHub
from services.gateway.publisher import EventPublisher, TypingMode
from shared.events.agent import AgentHeartbeat

router = APIRouter(tags=["live"])


async def _pump(websocket: WebSocket, connection: Connection) -> None:
    while True:
        message = await connection.queue.get()
        if connection.ended:
            await websocket.close(code=1008, reason="this session has ended; sign in again")
            return
        if connection.overflowed:
            await websocket.close(code=1013, reason="too far behind; reconnect and fetch what you missed")
            return
        await websocket.send_text(message)


async def _serve(
    websocket: WebSocket,
    hub: LiveHub,
    connection: Connection,
    on_message: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    hub.add(connection)
    # Built right after `add`, before any await: every event the hub reads after it is pushed; the newest
    # one before it that the visitor sees is named.
    ready = hub.ready(connection)
    sender = asyncio.create_task(_pump(websocket, connection))
    try:
        await websocket.send_json(ready)
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


def _unknown(message: dict[str, Any]) -> ValueError:
    return ValueError(f"unknown message type {message.get('type')!r}")


async def _from_agent(agent: AgentPrincipal, publisher: EventPublisher, message: dict[str, Any]) -> None:
    """An agent's dashboard says it is alive (heartbeat) or that the agent is typing."""
    me = commands.agent_actor(agent)
    if message.get("type") == "heartbeat":
        heartbeat = AgentHeartbeat(
            tenant=agent.tenant,
            aggregate_id=agent.agent_id,
            actor=me,
            payload={"status": message.get("status", "available")},
        )
        await publisher.heartbeat(heartbeat)
    elif message.get("type") == "typing":
        conversation_id = str(message["conversation_id"])[:100]
        mode: TypingMode = "note" if message.get("mode") == "note" else "message"
        typing = bool(message.get("typing"))
        await publisher.typing(agent.tenant, conversation_id, sender=me, typing=typing, mode=mode)
    else:
        raise _unknown(message)


async def _from_visitor(
    visitor: VisitorPrincipal, publisher: EventPublisher, message: dict[str, Any]
) -> None:
    """A visitor's widget may only say that the visitor is typing."""
    if message.get("type") != "typing":
        raise _unknown(message)
    me, typing = commands.visitor_actor(visitor), bool(message.get("typing"))
    await publisher.typing(visitor.tenant, visitor.conversation_id, sender=me, typing=typing, mode="message")


@router.websocket("/ws/agent")
async def agent_socket(
    websocket: WebSocket, agent: SocketAgentDep, hub: HubDep, publisher: PublisherDep
) -> None:
    connection = Connection(
        tenant=agent.tenant, agent_id=agent.agent_id, session_id=agent.session_id, issued_at=agent.issued_at
    )
    await _serve(websocket, hub, connection, functools.partial(_from_agent, agent, publisher))


@router.websocket("/ws/visitor")
async def visitor_socket(
    websocket: WebSocket, visitor: SocketVisitorDep, hub: HubDep, publisher: PublisherDep
) -> None:
    connection = Connection(tenant=visitor.tenant, conversation_id=visitor.conversation_id)
    await _serve(websocket, hub, connection, functools.partial(_from_visitor, visitor, publisher))
