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


CONVERSATION_EVENTS_TOPIC = TopicSpec(
    suffix="conversation-events",
    key="conversation id",
    description="Everything that happens in a conversation, in order per conversation.",
)
AGENT_EVENTS_TOPIC = TopicSpec(
    suffix="agent-events",
    key="agent id",
    description="Agent accounts, profiles and availability.",
)
AGENT_CREDENTIALS = TopicSpec(
    suffix="agent-credentials",
    key="agent id",
    description="Password hashes only; restrict it to the gateway and the conversation service with ACLs.",
)
CANNED_RESPONSES = TopicSpec(
    suffix="canned-responses",
    key="canned response id",
    description="The team's canned responses (created, updated, deleted).",
)
ROUTING_FACTS = TopicSpec(
    suffix="routing-facts",
    key="tenant",
    description="Copies of the events that affect assignment, re-keyed by tenant so one router decides per tenant.",
)
PRESENCE = TopicSpec(
    suffix="presence",
    key="agent id",
    description="Agent heartbeats from open dashboards (not state: the router derives availability timeouts from them).",
    retention_ms=24 * 3600 * 1000,
)
DEPARTMENTS = TopicSpec(
    suffix="departments",
    key="department id",
    description="Department (team) configuration: members, routing strategy, fallback department, default max chats.",
)
SIGNALS = TopicSpec(
    suffix="signals",
    key="conversation id",
    description="Ephemeral signals relayed between gateway instances (typing indicators); never projected.",
    retention_ms=3600 * 1000,
)
DEAD_LETTERS = TopicSpec(
    suffix="dead-letters",
    key="source topic",
    description="Events a consumer could not handle, with the reason; kept for inspection and replay.",
    retention_ms=4 * WEEK_MS,
)

WEBHOOK_ENDPOINTS = TopicSpec(
    suffix="webhook-endpoints",
    key="endpoint id",
    description="Webhook endpoints: URL, subscribed event types, enabled, signing secrets; restrict it like agent-credentials.",
)
WEBHOOK_DELIVERIES = TopicSpec(
    suffix="webhook-deliveries",
    key="conversation id",
    description="The webhooks service's delivery log and retry schedule: each record sits in the partition of its "
    "conversation's events, so pending deliveries are read back by whoever owns that partition.",
)

CATALOGUE: tuple[TopicSpec, ...] = (
    CONVERSATION_EVENTS_TOPIC,
    AGENT_EVENTS_TOPIC,
    AGENT_CREDENTIALS,
    CANNED_RESPONSES,
    ROUTING_FACTS,
    PRESENCE,
    DEPARTMENTS,
    SIGNALS,
    DEAD_LETTERS,
    WEBHOOK_ENDPOINTS,
    WEBHOOK_DELIVERIES,
)
