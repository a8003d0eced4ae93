"""The routing tests' help desk: one tenant driven fact by fact through the router's pure `decide()`."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from services.routing.decisions import Decision, Output, PositionChanged
from services.routing.outputs import output_event
from services.routing.policy import decide
from services.routing.state import TenantState
from shared.events import Actor, EventBase
from shared.events import agent as agent_events
from shared.events import conversation as conversation_events
from shared.events import department as department_events
from shared.events import routing as routing_events
from tests.events import build_event, envelope

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
SUPERVISOR = Actor(kind="agent", id="sup")


Brief = tuple[str, str, str | None, str]


class Desk:
    """One tenant's help desk, driven fact by fact with a clock that ticks a minute per fact."""

    def __init__(self) -> None:
        self.state = TenantState()
        self.minute = 0
        self.history: list[EventBase] = []

    def apply(self, event: EventBase) -> list[Brief]:
        """Decisions only; queue moves are checked through `moves`."""
        return [brief(d) for d in self.outputs(event) if isinstance(d, Decision)]

    def outputs(self, event: EventBase) -> list[Output]:
        # decide() shares unchanged entries with the state it was given (the router keeps that one as stored
        # until the decisions are acknowledged): every scenario here also checks it left that state as it was.
        before = copy.deepcopy(self.state)
        given = self.state
        self.state, outputs = decide(given, event)
        assert given == before, f"decide changed the state it was given, applying {event.type}"
        self.history.append(event)
        self.last = outputs
        return outputs

    def moves(self) -> list[tuple[str, int]]:
        return [(p.conversation_id, p.position) for p in self.last if isinstance(p, PositionChanged)]

    def _env(self, aggregate_id: str, seconds: float = 60) -> dict[str, Any]:
        self.minute += 1
        at = T0 + timedelta(minutes=self.minute - 1, seconds=seconds)
        return envelope(aggregate_id, SUPERVISOR, at)

    def agent(
        self, agent_id: str, max_chats: int | None = 5, status: agent_events.AgentStatus = "available"
    ) -> None:
        self.apply(
            build_event(
                agent_events.AgentRegistered,
                **self._env(agent_id),
                email=f"{agent_id}@acme.test",
                name=agent_id,
                max_concurrent_chats=max_chats,
            )
        )
        self.status(agent_id, status)

    def department(self, dept: str, members: list[str], **settings: Any) -> list[Brief]:
        """Configures a department; `settings` are DepartmentConfiguredPayload's other fields (strategy,
        fallback, default_max_chats, hours), their defaults where not given."""
        configured = build_event(
            department_events.DepartmentConfigured, **self._env(dept), name=dept, members=members, **settings
        )
        return self.apply(configured)

    def status(self, agent_id: str, status: agent_events.AgentStatus) -> list[Brief]:
        return self.apply(build_event(agent_events.AgentStatusChanged, **self._env(agent_id), status=status))

    def heartbeat(self, agent_id: str) -> list[Brief]:
        return self.apply(build_event(agent_events.AgentHeartbeat, **self._env(agent_id), status="available"))

    def tick(self, grace: float = 60, timeout: float = 60) -> list[Brief]:
        return self.apply(
            build_event(
                routing_events.RoutingTick,
                **self._env("acme"),
                offline_grace_seconds=grace,
                heartbeat_timeout_seconds=timeout,
            )
        )

    def capacity(self, agent_id: str, max_chats: int) -> list[Brief]:
        return self.apply(
            build_event(
                agent_events.AgentProfileUpdated, **self._env(agent_id), max_concurrent_chats=max_chats
            )
        )

    def start(self, cid: str, department: str | None = None, offline: bool = False) -> list[Brief]:
        return self.apply(
            build_event(
                conversation_events.ConversationStarted,
                **self._env(cid),
                visitor_id=f"v-{cid}",
                visitor={"name": "Vera"},
                department=department,
                offline=offline,
            )
        )

    def close(self, cid: str) -> list[Brief]:
        return self.apply(build_event(conversation_events.ConversationClosed, **self._env(cid)))

    def reopen(self, cid: str) -> list[Brief]:
        return self.apply(build_event(conversation_events.ConversationReopened, **self._env(cid)))

    def join(self, cid: str, agent_id: str) -> list[Brief]:
        return self.apply(
            build_event(conversation_events.ParticipantJoined, **self._env(cid), agent_id=agent_id)
        )

    def invite(self, cid: str, agent_id: str) -> list[Brief]:
        return self.apply(
            build_event(conversation_events.TeammateInvited, **self._env(cid), agent_id=agent_id)
        )

    def leave(self, cid: str, agent_id: str) -> list[Brief]:
        return self.apply(
            build_event(conversation_events.ParticipantLeft, **self._env(cid), agent_id=agent_id)
        )

    def reassign(self, cid: str, agent_id: str, forced: bool = False) -> list[Brief]:
        return self.apply(
            build_event(
                conversation_events.ReassignmentRequested, **self._env(cid), agent_id=agent_id, forced=forced
            )
        )

    def transfer(self, cid: str, department: str) -> list[Brief]:
        return self.apply(
            build_event(conversation_events.TransferRequested, **self._env(cid), department=department)
        )

    def decide_raw(self, event: EventBase) -> list[Decision]:
        return [d for d in self.outputs(event) if isinstance(d, Decision)]

    def assignee(self, cid: str) -> str | None:
        value = self.state.conversations[cid]["assignee"]
        return None if value is None else str(value)


def decision_event(fact: EventBase, decision: Decision, index: int) -> conversation_events.AssignmentDecided:
    event = output_event(fact, decision, index)
    assert isinstance(event, conversation_events.AssignmentDecided)
    return event


def brief(d: Decision) -> Brief:
    """(conversation, outcome, agent, reason); queued ones show their position as the agent column."""
    who = d.agent_id if d.outcome != "queued" else f"#{d.queue_position}"
    return (d.conversation_id, d.outcome, who, d.reason)
