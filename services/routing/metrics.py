"""The router's operator metrics, rendered in the Prometheus text format on /metrics."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, get_args

from services.routing.decisions import DEFAULT_DEPARTMENT, Decision
from services.routing.state import TenantState
from shared.metrics import exposition, sample

WAIT_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)

# The router's plain counters, each exposed as `parley_routing_<name>_total`: the name is the metric's.
RoutingCount = Literal[
    "facts_forwarded",  # re-keyed by tenant onto the routing-facts topic
    "facts_processed",
    "fact_gaps_filled",  # a fact arrived before one it follows; the missing ones were fetched first
    "facts_refetched",
    "duplicates_skipped",
    "ticks_sent",
    "queue_position_updates",
    "forced_assignments",
]


@dataclass
class RoutingMetrics:
    counts: Counter[RoutingCount] = field(default_factory=Counter)
    dead_letters: int = 0  # exposed with the other services' dead letters, as parley_dead_letters_total
    fact_types: Counter[str] = field(default_factory=Counter)
    decisions: Counter[tuple[str, str]] = field(default_factory=Counter)
    # monotonic time the current rebalance or table recovery began; None while routing normally
    rebalancing_since: float | None = None
    assigned_once: bool = False
    assignments: Counter[tuple[str, str]] = field(default_factory=Counter)  # (tenant, agent)
    # (tenant, department) -> bucket counts, sum, count of seconds from waiting to assigned
    wait_buckets: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    wait_sum: dict[tuple[str, str], float] = field(default_factory=dict)
    wait_count: Counter[tuple[str, str]] = field(default_factory=Counter)

    def observe(self, tenant: str, decision: Decision) -> None:
        self.decisions[(decision.outcome, decision.reason)] += 1
        if decision.outcome != "assigned" or decision.agent_id is None:
            return
        self.assignments[(tenant, decision.agent_id)] += 1
        self.counts["forced_assignments"] += decision.forced
        if decision.waited_seconds is not None:
            key = (tenant, decision.department)
            buckets = self.wait_buckets.setdefault(key, [0] * len(WAIT_BUCKETS))
            for index, bound in enumerate(WAIT_BUCKETS):
                if decision.waited_seconds <= bound:
                    buckets[index] += 1
            self.wait_sum[key] = self.wait_sum.get(key, 0.0) + decision.waited_seconds
            self.wait_count[key] += 1

    def rebalancing_seconds(self) -> float:
        return 0.0 if self.rebalancing_since is None else time.monotonic() - self.rebalancing_since

    def render(self, states: dict[str, TenantState]) -> str:
        lines = [
            "# TYPE parley_routing_rebalancing_seconds gauge",
            sample("parley_routing_rebalancing_seconds", f"{self.rebalancing_seconds():.1f}"),
        ]
        for count in get_args(RoutingCount):
            name = f"parley_routing_{count}_total"
            lines += [f"# TYPE {name} counter", sample(name, self.counts[count])]
        lines += [
            "# TYPE parley_routing_facts_total counter",
            *(
                sample("parley_routing_facts_total", count, type=kind)
                for kind, count in sorted(self.fact_types.items())
            ),
            "# TYPE parley_dead_letters_total counter",
            sample("parley_dead_letters_total", self.dead_letters, service="routing"),
            "# TYPE parley_routing_decisions_total counter",
        ]
        for (outcome, reason), count in sorted(self.decisions.items()):
            lines.append(sample("parley_routing_decisions_total", count, outcome=outcome, reason=reason))
        lines.append("# TYPE parley_routing_assignments_total counter")
        for (tenant, agent), count in sorted(self.assignments.items()):
            lines.append(sample("parley_routing_assignments_total", count, tenant=tenant, agent=agent))
        lines.append("# TYPE parley_routing_time_to_assignment_seconds histogram")
        for (tenant, dept), buckets in sorted(self.wait_buckets.items()):
            name = "parley_routing_time_to_assignment_seconds"
            for bound, count in zip(WAIT_BUCKETS, buckets, strict=True):
                lines.append(sample(f"{name}_bucket", count, tenant=tenant, department=dept, le=bound))
            total = self.wait_count[(tenant, dept)]
            lines.append(sample(f"{name}_bucket", total, tenant=tenant, department=dept, le="+Inf"))
            lines.append(sample(f"{name}_sum", self.wait_sum[(tenant, dept)], tenant=tenant, department=dept))
            lines.append(sample(f"{name}_count", total, tenant=tenant, department=dept))
        lines += [
            "# TYPE parley_routing_queue_length gauge",
            "# TYPE parley_routing_oldest_wait_seconds gauge",
        ]
        now = datetime.now(UTC)  # display only: how long the head of each queue has waited so far
        for tenant, state in sorted(states.items()):
            departments = sorted({DEFAULT_DEPARTMENT, *state.departments, *state.queues})
            for dept in departments:
                queue = state.queues.get(dept, [])
                lines.append(
                    sample("parley_routing_queue_length", len(queue), tenant=tenant, department=dept)
                )
                oldest = 0.0
                if queue and (queued_at := state.conversations.shared(queue[0])["queued_at"]) is not None:
                    oldest = max(0.0, (now - datetime.fromisoformat(queued_at)).total_seconds())
                lines.append(
                    sample(
                        "parley_routing_oldest_wait_seconds", f"{oldest:.3f}", tenant=tenant, department=dept
                    )
                )
        return exposition(lines)
