"""The topic catalogue: every Kafka topic Parley writes, its key, partitions and retention.

Event topics are kept (retention -1, not compacted) because every MongoDB view is a projection that
must be rebuildable by replaying them from the earliest offset.
"""

from __future__ import annotations

from dataclasses import dataclass

FOREVER = -1
WEEK_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    suffix: str
    key: str
    description: str
    retention_ms: int = FOREVER
    partitions: int | None = None  # None: the cluster-wide default from settings

    def name(self, prefix: str) -> str:
        return f"{prefix}.{self.suffix}"

    def config(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": "delete"}


CONVERSATION_EVENTS = TopicSpec(
    suffix="conversation-events",
    key="conversation id",
    description="Everything that happens in a conversation, in order per conversation.",
)
AGENT_EVENTS = TopicSpec(
    suffix="agent-events",
    key="agent id",
    description="Agent accounts, profiles, availability and canned responses.",
)
ROUTING_COMMANDS = TopicSpec(
    suffix="routing-requests",
    key="tenant",
    description="Assignment-affecting facts re-keyed by tenant so one router decides per tenant at a time.",
)
DEAD_LETTERS = TopicSpec(
    suffix="dead-letters",
    key="source topic",
    description="Events a consumer could not handle, with the reason; kept a week for inspection and replay.",
    retention_ms=4 * WEEK_MS,
)

CATALOGUE: tuple[TopicSpec, ...] = (CONVERSATION_EVENTS, AGENT_EVENTS, ROUTING_COMMANDS, DEAD_LETTERS)
