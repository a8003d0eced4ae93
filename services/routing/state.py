"""One tenant's routing state, as the policy reads and writes it and the store persists it.

Every entry is plain JSON (the router keeps each one as a value in a faust table backed by a changelog), so
the parts are TypedDicts, not classes: what is written is exactly what recovery reads back. Instants are
fixed-width UTC ISO strings, which sort chronologically.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import ItemsView, Mapping, ValuesView
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict, TypeVar, cast

from shared.capacity import chat_limit
from shared.events.agent import AgentStatus
from shared.events.department import RoutingStrategy


class AgentEntry(TypedDict):
    status: AgentStatus  # what the agent declared
    max_chats: int | None  # None: the department default applies
    idle_since: str | None  # last assignment or last became available: the least-busy tie-break
    last_seen: str | None  # last presence heartbeat; None: presence not tracked for this agent
    presence_lost: bool  # heartbeats stopped for longer than the timeout
    offline_since: str | None  # when the agent became (effectively) offline: the grace period runs from here
    deactivated: NotRequired[bool]  # a supervisor deactivated the account; absent in entries from before it


class ConversationEntry(TypedDict):
    open: bool
    assignee: str | None  # only an open conversation has one
    last_assignee: str | None  # a reopened conversation goes back to them if they can take it
    participants: list[str]
    left: list[str]  # agents who left: never routed back to them unless they rejoin
    department: str
    created_seq: int  # keeps the conversations in the order they started across a reload
    queued_seq: int | None  # while queued: orders every queue's conversations oldest first
    queued_at: str | None
    waiting_since: str | None  # when the visitor began to wait for an agent: time to assignment
    position: int | None  # the queue position the visitor was last told


class DepartmentEntry(TypedDict):
    name: str
    members: list[str]
    strategy: RoutingStrategy
    fallback: str | None  # the department that takes what nobody here can
    default_max_chats: int | None
    rr_last: str | None  # round robin: the member who got the last conversation
    hours: NotRequired[dict[str, Any] | None]  # BusinessHours as JSON; absent in entries from before it


class Meta(TypedDict, total=False):
    now: str  # the router's clock: the latest tick
    seq: int  # counter behind created_seq and queued_seq
    recent_facts: list[str]  # ids of the last facts without a source position (ticks)
    sources: dict[str, int]  # source partition -> last offset applied from it


# One table value: the meta entry, one agent, conversation or department, or one department's queue.
Entry = Meta | AgentEntry | ConversationEntry | DepartmentEntry | list[str]
# The fields of each entry that hold a list (of ids): a copy of the entry copies these too. Every other
# field is a scalar, except a department's business hours, copied whole (tests/unit/test_routing_state.py
# fails when an entry gains a list or object field missing here).
AGENT_LISTS: tuple[str, ...] = ()
CONVERSATION_LISTS = ("participants", "left")
DEPARTMENT_LISTS = ("members",)
FlatEntry = TypeVar("FlatEntry", AgentEntry, ConversationEntry, DepartmentEntry)


def copied(entry: FlatEntry, lists: tuple[str, ...]) -> FlatEntry:
    """An independent copy of one agent, conversation or department entry."""
    new: dict[str, Any] = dict(entry)
    for key in lists:
        new[key] = list(new[key])
    if new.get("hours") is not None:
        new["hours"] = copy.deepcopy(new["hours"])
    return cast(FlatEntry, new)


def copied_meta(meta: Meta) -> Meta:
    """An independent copy of the meta entry (its lists and maps hold strings and numbers only)."""
    new = Meta(**meta)
    if "recent_facts" in meta:
        new["recent_facts"] = list(meta["recent_facts"])
    if "sources" in meta:
        new["sources"] = dict(meta["sources"])
    return new


def new_agent(max_chats: int | None = None) -> AgentEntry:
    return {
        "status": "offline",
        "max_chats": max_chats,
        "idle_since": None,
        "last_seen": None,
        "presence_lost": False,
        "offline_since": None,
    }


def effective_status(agent: AgentEntry) -> str:
    """Declared status, except that an agent whose presence heartbeats stopped, or who was deactivated,
    counts as offline (a heartbeat or status fact in flight when they were deactivated changes nothing)."""
    return "offline" if agent["presence_lost"] or agent.get("deactivated") else str(agent["status"])


class Conversations(dict[str, ConversationEntry]):
    """A tenant's conversations, sharing their entries with the state this one was copied from until one is
    taken: the first read by id (`[]`, `get`, `pop`, `setdefault`) or through `items()`/`values()` gives this
    table its own copy, which the caller may change.

    Why: the router copies the state for every fact, and most conversations (up to 500 closed ones kept for
    reopening, and the open ones a fact does not touch) never change; copying each of them for every fact was
    most of the router's CPU once a few hundred were kept (py-spy, bench growth step). `shared_values()` reads
    without taking copies, for whoever only reads: what it yields must not be changed.
    """

    def __init__(self, entries: Mapping[str, ConversationEntry] | None = None) -> None:
        super().__init__(entries or {})
        self._own: set[str] = set()

    def _take(self, conversation_id: str) -> ConversationEntry:
        entry = dict.__getitem__(self, conversation_id)
        if conversation_id not in self._own:
            entry = copied(entry, CONVERSATION_LISTS)
            dict.__setitem__(self, conversation_id, entry)
            self._own.add(conversation_id)
        return entry

    def __getitem__(self, conversation_id: str) -> ConversationEntry:
        return self._take(conversation_id)

    def __setitem__(self, conversation_id: str, entry: ConversationEntry) -> None:
        dict.__setitem__(self, conversation_id, entry)
        self._own.add(conversation_id)

    def get(self, conversation_id: str, default: Any = None) -> Any:
        return self._take(conversation_id) if conversation_id in self else default

    def setdefault(self, conversation_id: str, default: Any = None) -> Any:
        if conversation_id not in self:
            self[conversation_id] = default
        return self._take(conversation_id)

    def pop(self, conversation_id: str, *default: Any) -> Any:
        if conversation_id not in self:
            return dict.pop(self, conversation_id, *default)
        entry = self._take(conversation_id)
        dict.pop(self, conversation_id)
        self._own.discard(conversation_id)
        return entry

    def __delitem__(self, conversation_id: str) -> None:
        dict.__delitem__(self, conversation_id)
        self._own.discard(conversation_id)

    def items(self) -> list[tuple[str, ConversationEntry]]:  # type: ignore[override]
        return [(conversation_id, self._take(conversation_id)) for conversation_id in list(self)]

    def values(self) -> list[ConversationEntry]:  # type: ignore[override]
        return [self._take(conversation_id) for conversation_id in list(self)]

    def _not_supported(self, *_: Any, **__: Any) -> Any:
        raise TypeError("Conversations shares its entries: set, take or delete them one by one")

    # Each would leave the record of which entries this table owns wrong, or copy it without it.
    update = popitem = clear = copy = __ior__ = __or__ = _not_supported

    def __copy__(self) -> Conversations:
        return self.shallow_copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> Conversations:
        return Conversations({cid: copy.deepcopy(entry, memo) for cid, entry in self.shared_items()})

    def shared(self, conversation_id: str) -> ConversationEntry:
        """The entry as it is, copied or shared: for reading only."""
        return dict.__getitem__(self, conversation_id)

    def shared_items(self) -> ItemsView[str, ConversationEntry]:
        """Every entry as it is, copied or shared: for reading only."""
        return dict.items(self)

    def shared_values(self) -> ValuesView[ConversationEntry]:
        """Every entry as it is, copied or shared: for reading only."""
        return dict.values(self)

    def shallow_copy(self) -> Conversations:
        """A table sharing every entry, none of them its own yet; nor are they this table's own any more."""
        self._own.clear()
        return Conversations(self)


@dataclass
class TenantState:
    agents: dict[str, AgentEntry] = field(default_factory=dict)
    # insertion-ordered: the order the conversations started in
    conversations: Conversations = field(default_factory=Conversations)
    departments: dict[str, DepartmentEntry] = field(default_factory=dict)
    # department id -> conversation ids, FIFO; no entry for an empty queue
    queues: dict[str, list[str]] = field(default_factory=dict)
    meta: Meta = field(default_factory=lambda: Meta())

    def copy(self) -> TenantState:
        """What `copy.deepcopy` gives, for `decide` to change while the stored state stays as it was. Written
        out because the router copies the state for every fact: deepcopy's generic walk was most of the
        router's CPU (py-spy in the bench's growth step); conversations are copied only when taken."""
        return TenantState(
            agents={agent_id: copied(agent, AGENT_LISTS) for agent_id, agent in self.agents.items()},
            conversations=self.conversations.shallow_copy(),
            departments={
                dept_id: copied(department, DEPARTMENT_LISTS)
                for dept_id, department in self.departments.items()
            },
            queues={dept_id: list(queue) for dept_id, queue in self.queues.items()},
            meta=copied_meta(self.meta),
        )

    # -- persistence: one JSON value per entry ------------------------------------------------------------

    def to_entries(self) -> dict[str, Entry]:
        entries: dict[str, Entry] = {"meta": self.meta}
        entries.update({f"agent/{k}": v for k, v in self.agents.items()})
        entries.update({f"conv/{k}": v for k, v in self.conversations.shared_items()})
        entries.update({f"dept/{k}": v for k, v in self.departments.items()})
        entries.update({f"queue/{k}": v for k, v in self.queues.items() if v})
        return entries

    @classmethod
    def from_entries(cls, entries: dict[str, Any]) -> TenantState:
        state = cls()
        meta = entries.get("meta")
        state.meta = copy.deepcopy(meta) if meta else Meta()
        convs: list[tuple[int, str, ConversationEntry]] = []
        for key, value in entries.items():
            kind, _, ident = key.partition("/")
            value = copy.deepcopy(value)
            if kind == "agent":
                state.agents[ident] = value
            elif kind == "conv":
                convs.append((value.get("created_seq", 0), ident, value))
            elif kind == "dept":
                state.departments[ident] = value
            elif kind == "queue":
                state.queues[ident] = value
        for _, ident, value in sorted(convs, key=lambda item: (item[0], item[1])):
            state.conversations[ident] = value
        return state

    # -- reads --------------------------------------------------------------------------------------------

    @property
    def queue(self) -> list[str]:
        """Every queued conversation, oldest first (across departments)."""
        queued = [cid for q in self.queues.values() for cid in q]
        return sorted(queued, key=self._queued_seq)

    def _queued_seq(self, conversation_id: str) -> int:
        seq = self.conversations.shared(conversation_id)["queued_seq"]
        assert seq is not None, f"{conversation_id} is in a queue but has no place in it"
        return seq

    def loads(self) -> Counter[str]:
        """Open conversations per assignee."""
        return Counter(
            c["assignee"] for c in self.conversations.shared_values() if c["open"] and c["assignee"]
        )

    def capacity(self, agent_id: str, department: str) -> int:
        """How many chats the agent may hold: their own limit, else the department's, else the team's."""
        dept = self.departments.get(department)
        return chat_limit(
            self.agents[agent_id]["max_chats"],
            department_default=dept.get("default_max_chats") if dept else None,
            member_defaults=(
                d["default_max_chats"] for d in self.departments.values() if agent_id in d["members"]
            ),
        ).chats

    def members(self, department: str) -> list[str]:
        """Who serves the department: its members, or everyone for no department or an unconfigured one."""
        dept = self.departments.get(department)
        return list(dept["members"]) if dept is not None else list(self.agents)

    def strategy(self, department: str) -> str:
        dept = self.departments.get(department)
        return str(dept["strategy"]) if dept is not None else "least_busy"
