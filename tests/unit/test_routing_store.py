"""The router's tenant store across a crash in the middle of a save, with an in-memory table.

A save is several table writes: the PENDING record (the fact's whole change), then one write per changed
or deleted entry. A crash (SIGKILL, a lost host) keeps a prefix of those writes in the changelog, and the
restarted worker rebuilds the table from it. Here the table is a dict that stores what a changelog would
(JSON) and dies after a given number of writes; the restart is a new store over what it held.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.routing.policy import decide
from services.routing.state import TenantState
from services.routing.store import PENDING, SEP, TenantStore, applied_key
from shared.events import Actor, EventBase
from shared.events import agent as agent_events
from shared.events import conversation as conversation_events
from tests.events import envelope

TENANT = "acme"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ACTOR = Actor(kind="system", id="test")


class Crashed(Exception):
    """The worker died here: no write after this one reached the changelog."""


class ChangelogTable(dict[str, Any]):
    """The faust table as the changelog holds it: JSON values, and nothing written after a crash."""

    def __init__(self, entries: dict[str, Any] | None = None) -> None:
        super().__init__(entries or {})
        self.writes_left: int | None = None  # None: never crashes

    def crash_after(self, writes: int) -> None:
        self.writes_left = writes

    def _write(self) -> None:
        if self.writes_left is not None:
            if self.writes_left == 0:
                raise Crashed
            self.writes_left -= 1

    def __setitem__(self, key: str, value: Any) -> None:
        self._write()
        super().__setitem__(key, json.loads(json.dumps(value)))

    def __delitem__(self, key: str) -> None:
        self._write()
        super().__delitem__(key)

    def restarted(self) -> ChangelogTable:
        """The table a restarted worker rebuilds from the changelog."""
        return ChangelogTable(dict(self))


class Facts:
    """Routing facts for one tenant, a minute apart."""

    def __init__(self) -> None:
        self.minute = 0

    def _env(self, aggregate_id: str) -> dict[str, Any]:
        self.minute += 1
        at = T0 + timedelta(minutes=self.minute)
        return envelope(aggregate_id, ACTOR, at, tenant=TENANT)

    def agent(self, agent_id: str, max_chats: int) -> list[EventBase]:
        payload = agent_events.AgentRegisteredPayload(
            email=f"{agent_id}@acme.test", name=agent_id, max_concurrent_chats=max_chats
        )
        return [
            agent_events.AgentRegistered(**self._env(agent_id), payload=payload),
            agent_events.AgentStatusChanged(
                **self._env(agent_id), payload=agent_events.AgentStatusChangedPayload(status="available")
            ),
        ]

    def start(self, cid: str) -> conversation_events.ConversationStarted:
        payload = conversation_events.ConversationStartedPayload(
            visitor_id=f"v-{cid}", visitor=conversation_events.VisitorInfo(name="Vera")
        )
        return conversation_events.ConversationStarted(**self._env(cid), payload=payload)

    def close(self, cid: str) -> conversation_events.ConversationClosed:
        return conversation_events.ConversationClosed(
            **self._env(cid), payload=conversation_events.ConversationClosedPayload()
        )


def apply(store: TenantStore, fact: EventBase) -> TenantState:
    """What the router does with a fact, minus the broker: load, decide, save."""
    state, stored = store.load(TENANT)
    new_state, _ = decide(state, fact)
    store.save(TENANT, new_state, stored)
    return new_state


def entries(state: TenantState) -> dict[str, Any]:
    """The state's entries as the table holds them: JSON."""
    written: dict[str, Any] = json.loads(json.dumps(state.to_entries()))
    return written


def desk_with_a_queue() -> tuple[ChangelogTable, Facts, TenantState]:
    """ann (one chat at most) holds c1; c2 waits in the queue. Every save completed."""
    table, facts = ChangelogTable(), Facts()
    store = TenantStore(table)
    state = TenantState()
    for fact in [*facts.agent("ann", max_chats=1), facts.start("c1"), facts.start("c2")]:
        state = apply(store, fact)
    assert state.conversations["c1"]["assignee"] == "ann" and state.queue == ["c2"]
    return table, facts, state


def save_crashing(table: ChangelogTable, fact: EventBase, writes: int) -> TenantState:
    """Apply the fact on a fresh worker over the table, dying after `writes` table writes of its save."""
    store = TenantStore(table)
    state, stored = store.load(TENANT)
    new_state, _ = decide(state, fact)
    table.crash_after(writes)
    with pytest.raises(Crashed):
        store.save(TENANT, new_state, stored)
    table.writes_left = None
    return new_state


def test_a_crash_after_the_pending_record_before_any_entry_recovers_the_state_the_fact_left() -> None:
    table, facts, before = desk_with_a_queue()
    closing = facts.close("c1")  # c2 gets ann: conversations and ann change, the queue entry goes
    after = save_crashing(table, closing, writes=1)
    # The changelog holds the PENDING record and none of the entries it lists.
    written = table.restarted()
    assert written[f"{TENANT}{SEP}conv/c1"]["open"] is True
    assert f"{TENANT}{SEP}queue/" in written
    assert written[f"{TENANT}{SEP}{PENDING}"]["del"] == ["queue/"]

    recovered, _ = TenantStore(written).load(TENANT)

    assert entries(recovered) == entries(after) != entries(before)
    assert recovered.conversations["c2"]["assignee"] == "ann"
    assert recovered.queues == {}
    # The re-delivered close is recognised as applied: nothing is decided twice.
    again, outputs = decide(recovered, closing)
    assert outputs == [] and entries(again) == entries(after)


def test_every_crash_point_of_a_save_recovers_either_the_state_before_or_the_state_after() -> None:
    table, facts, before = desk_with_a_queue()
    closing = facts.close("c1")
    store = TenantStore(table.restarted())
    state, stored = store.load(TENANT)
    after, _ = decide(state, closing)
    changed = sum(1 for key, value in entries(after).items() if stored.get(key) != value)
    deleted = len(stored.keys() - after.to_entries().keys())
    writes = 1 + changed + deleted
    assert writes >= 4  # the PENDING record, several entries and a deletion: there is a middle to crash in

    for crash_point in range(writes):
        crashed = table.restarted()
        save_crashing(crashed, closing, writes=crash_point)
        recovered, _ = TenantStore(crashed.restarted()).load(TENANT)
        # Before the PENDING record the fact left no trace (its offset is not recorded: it comes again).
        expected = before if crash_point == 0 else after
        assert entries(recovered) == entries(expected), crash_point


def test_what_a_recovery_completed_survives_the_next_fact_and_the_next_restart() -> None:
    table, facts, _ = desk_with_a_queue()
    save_crashing(table, facts.close("c1"), writes=1)
    table = table.restarted()
    store = TenantStore(table)
    # The next fact touches none of the entries the crashed save left unwritten, and saves completely.
    latest = apply(store, facts.start("c3"))
    assert latest.conversations["c2"]["assignee"] == "ann" and latest.queue == ["c3"]

    recovered, _ = TenantStore(table.restarted()).load(TENANT)

    assert entries(recovered) == entries(latest)


def test_the_applied_offsets_are_kept_beside_the_tenants_and_are_no_tenant() -> None:
    table, _, _ = desk_with_a_queue()
    store = TenantStore(table)
    assert store.applied(0) is None
    store.mark_applied(0, 41)
    store.mark_applied(3, 7)
    restarted = TenantStore(table.restarted())
    assert (restarted.applied(0), restarted.applied(3), restarted.applied(1)) == (41, 7, None)
    assert table[applied_key(0)] == 41
    assert restarted.tenants() == [TENANT]
