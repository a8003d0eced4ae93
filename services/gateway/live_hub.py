"""The live hub: every gateway instance follows the topics and pushes to the sockets it holds (the socket
endpoints themselves are `routes/sockets.py`).

No consumer group: each instance reads every event from the moment it starts, so any number of gateway
instances can run side by side. Every pushed event carries its position; a client that reconnects asks the
REST API for lines after the last position it saw (no gap), and drops positions it already has (no duplicate).
Visitors get an allow-list of event types about their own conversation only: never notes, tags or routing internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from services.conversation.sign_ins import SessionsState, apply_session, session_revoked
from services.gateway.credential_record import CredentialRecord
from shared.events import EventBase, InvalidEvent, parse_event
from shared.events import agent as agent_events
from shared.events import conversation as conversation_events
from shared.kafka import create_consumer
from shared.logging import get_logger
from shared.settings import ParleySettings
from shared.topics import AGENT_CREDENTIALS, AGENT_EVENTS_TOPIC, CONVERSATION_EVENTS_TOPIC, SIGNALS

log = get_logger(__name__)
SEND_QUEUE_LIMIT = 1000
# Conversations whose status and newest position the hub remembers, least recently followed forgotten first:
# about 200 bytes each, so the memory stays flat however long an instance runs.
REMEMBERED_CONVERSATIONS = 100_000

VISITOR_VISIBLE: tuple[type[EventBase], ...] = (
    conversation_events.MessagePosted,
    conversation_events.ConversationClosed,
    conversation_events.ConversationReopened,
    conversation_events.ParticipantJoined,
    conversation_events.ParticipantLeft,
    conversation_events.AssignmentDecided,
)


@dataclass(eq=False)
class Connection:
    """One open socket: messages wait in a bounded queue so a slow client never stalls the hub."""

    tenant: str
    agent_id: str | None = None
    conversation_id: str | None = None
    # Serialized once by the hub, whatever the number of sockets that receive it.
    session_id: str = ""
    issued_at: float = 0.0
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(SEND_QUEUE_LIMIT))
    overflowed: bool = False
    ended: bool = False

    def end(self) -> None:
        """The session was signed out or revoked: the pump closes the socket at its next turn."""
        self.ended = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait("")

    def push(self, message: str) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # The client is too far behind: it will reconnect and catch up over REST.
            self.overflowed = True


def for_agents(event: EventBase, topic: str, partition: int, offset: int) -> dict[str, Any]:
    return {
        "kind": "event",
        "topic": topic,
        "partition": partition,
        "position": offset,
        "event": event.model_dump(mode="json", exclude={"correlation_id", "causation_id"}),
    }


def for_visitor(event: EventBase, offset: int) -> dict[str, Any] | None:
    """Field by field from an allow-list: a visitor never sees agent ids, notes or routing reasons."""
    if not isinstance(event, VISITOR_VISIBLE):
        return None
    shown: dict[str, Any] = {}
    if isinstance(event, conversation_events.MessagePosted):
        shown = {
            "text": event.payload.text,
            "attachments": [ref.model_dump(mode="json") for ref in event.payload.attachments],
        }
    elif isinstance(event, conversation_events.AssignmentDecided):
        shown = {"outcome": event.payload.outcome, "queue_position": event.payload.queue_position}
    return {
        "kind": "event",
        "position": offset,
        "event": {
            "type": event.type,
            "occurred_at": event.occurred_at.isoformat(),
            "author": {"kind": event.actor.kind},
            "payload": shown,
        },
    }


class FollowedConversations:
    """For the conversations this instance followed: open or closed, and the position of the newest event a
    visitor's socket would have been pushed.

    A visitor's message needs only the status to decide (a closed chat is reopened first), so the hub answers
    it from memory instead of a view read per message. It is as fresh as the events the hub has read, which
    run ahead of the projections' views; a conversation it has not followed (changed before this instance
    started, or forgotten) is not known here, and the caller reads the view.

    The position is what a socket joining now was too late to be pushed: its `ready` message names it, so
    the client's first read waits for a view that has it (`LiveHub.ready`). Only visitor-visible events count,
    as for a pushed one: an event the visitor never sees (a note, a tag) can't hold their reads back, should
    a projection dead-letter it.
    """

    def __init__(self, limit: int = REMEMBERED_CONVERSATIONS) -> None:
        self._limit = limit
        # conversation id -> (status, None until a start, close or reopening was followed; position or None)
        self._followed: OrderedDict[str, tuple[str | None, int | None]] = OrderedDict()

    def follow(self, event: EventBase, position: int) -> None:
        status, shown = self._followed.get(event.aggregate_id, (None, None))
        if isinstance(
            event, conversation_events.ConversationStarted | conversation_events.ConversationReopened
        ):
            status = "open"
        elif isinstance(event, conversation_events.ConversationClosed):
            status = "closed"
        if isinstance(event, VISITOR_VISIBLE):
            shown = position
        if status is None and shown is None:
            return
        self._followed[event.aggregate_id] = (status, shown)
        self._followed.move_to_end(event.aggregate_id)
        if len(self._followed) > self._limit:
            self._followed.popitem(last=False)

    def of(self, conversation_id: str) -> str | None:
        """Open or closed; None if not known here."""
        return self._followed.get(conversation_id, (None, None))[0]

    def position(self, conversation_id: str) -> int | None:
        """The newest visitor-visible event's position; None if not known here."""
        return self._followed.get(conversation_id, (None, None))[1]


class LiveHub:
    def __init__(self, settings: ParleySettings, record: CredentialRecord | None = None) -> None:
        self._settings = settings
        # Fed with every agent-credentials event (never pushed to a socket): locks and ended sessions.
        self._record = record
        self._agents: dict[str, set[Connection]] = defaultdict(set)
        self._visitors: dict[str, set[Connection]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self.events_seen = 0
        self.pushed = 0
        self.followed = FollowedConversations()

    @property
    def connections(self) -> int:
        return sum(len(c) for c in self._agents.values()) + sum(len(c) for c in self._visitors.values())

    def add(self, connection: Connection) -> None:
        if connection.agent_id is not None:
            self._agents[connection.tenant].add(connection)
        elif connection.conversation_id is not None:
            self._visitors[connection.conversation_id].add(connection)

    def ready(self, connection: Connection) -> dict[str, Any]:
        """The first message of a socket just added: what it was too late to be pushed, the client reads.

        A visitor's event dispatched before the socket joined may not be in the view yet when the client reads
        it on `ready`: the position lets that read wait for it (min_position), or the chat would show a stale
        status (say, no queue place) until its next event. Only the visitor's socket names one: a dashboard
        follows its whole team, and its reads name positions as events about each row arrive.
        """
        message: dict[str, Any] = {"kind": "ready"}
        if connection.conversation_id is not None:
            position = self.followed.position(connection.conversation_id)
            if position is not None:
                message["position"] = position
        return message

    def remove(self, connection: Connection) -> None:
        if connection.agent_id is not None:
            self._agents[connection.tenant].discard(connection)
        elif connection.conversation_id is not None:
            self._visitors[connection.conversation_id].discard(connection)

    async def start(self) -> None:
        prefix = self._settings.topic_prefix
        followed = (CONVERSATION_EVENTS_TOPIC, AGENT_EVENTS_TOPIC, SIGNALS, AGENT_CREDENTIALS)
        topics = [t.name(prefix) for t in followed]
        self._consumer = create_consumer(self._settings, *topics, group_id=None, auto_offset_reset="latest")
        await self._consumer.start()
        # "latest" is looked up now, not at the first fetch: an event appended in between would be neither
        # pushed nor named in a socket's `ready` (a chat started as the gateway comes up).
        for partition in self._consumer.assignment():
            await self._consumer.position(partition)
        self._task = asyncio.create_task(self._follow(self._consumer), name="live-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        signals = SIGNALS.name(self._settings.topic_prefix)
        credentials = AGENT_CREDENTIALS.name(self._settings.topic_prefix)
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
            for records in batches.values():
                for record in records:
                    if record.topic == signals:
                        self._relay_signal(record)
                    elif record.topic == credentials:
                        self._note_credentials(record)
                    else:
                        self._dispatch(record)

    def _note_credentials(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            event = parse_event(record.value or b"")
        except InvalidEvent:
            return  # the projection dead-letters it
        if self._record is not None:
            self._record.apply(event)
        if isinstance(event, agent_events.AgentSessionEnded | agent_events.AgentSessionsRevoked):
            for connection in self._agents.get(event.tenant, ()):
                if connection.agent_id == event.aggregate_id and session_revoked(
                    apply_session(SessionsState(), event), connection.session_id, connection.issued_at
                ):
                    connection.end()

    def _dispatch(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            event = parse_event(record.value or b"")
        except InvalidEvent:
            return  # the projections dead-letter it; there is nothing to show
        self.events_seen += 1
        if self._record is not None and isinstance(event, agent_events.ACCOUNT_ACTIVITY_EVENTS):
            self._record.apply(event)  # refused at sign-in and on every request at once, on every instance
        if isinstance(event, agent_events.AgentDeactivated):
            for connection in self._agents.get(event.tenant, ()):
                if connection.agent_id == event.aggregate_id:
                    connection.end()
        topic = "conversation" if record.topic.endswith(CONVERSATION_EVENTS_TOPIC.suffix) else "agent"
        if topic == "conversation":
            self.followed.follow(event, record.offset)
        if agents := self._agents.get(event.tenant):
            self._send(agents, for_agents(event, topic, record.partition, record.offset))
        if topic == "conversation" and event.aggregate_id in self._visitors:
            shown = for_visitor(event, record.offset)
            if shown is not None:
                self._send(self._visitors[event.aggregate_id], shown)

    def _relay_signal(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            signal = json.loads(record.value or b"{}")
            tenant, conversation_id = signal["tenant"], signal["conversation_id"]
            sender = signal["sender"]
        except (ValueError, KeyError, TypeError):
            return
        message = {"kind": "typing", "conversation_id": conversation_id, "typing": bool(signal.get("typing"))}
        agents = [c for c in self._agents.get(tenant, ()) if c.agent_id != sender.get("id")]
        self._send(agents, {**message, "sender": sender})
        # Visitors see an agent typing a message, never one typing a note.
        if sender.get("kind") == "agent" and signal.get("mode") == "message":
            self._send(self._visitors.get(conversation_id, ()), {**message, "sender": {"kind": "agent"}})

    def _send(self, connections: Iterable[Connection], message: dict[str, Any]) -> None:
        receivers = list(connections)
        if not receivers:
            return
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        for connection in receivers:
            connection.push(text)
        self.pushed += len(receivers)
