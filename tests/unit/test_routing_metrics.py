"""The router's /metrics text: what an operator's dashboard reads, by the names it reads them."""

from __future__ import annotations

import re

from services.routing.decisions import Decision
from services.routing.metrics import RoutingMetrics


def value(text: str, sample: str) -> float:
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    assert match, f"{sample} not in\n{text}"
    return float(match.group(1))


def test_counters_and_assignments_are_exposed_under_their_metric_names() -> None:
    metrics = RoutingMetrics()
    metrics.counts["facts_processed"] += 3
    metrics.counts["fact_gaps_filled"] += 1
    metrics.dead_letters += 2
    takeover = Decision("c1", "assigned", "bob", "ann", "takeover", forced=True, waited_seconds=12.0)
    metrics.observe("acme", takeover)
    metrics.observe("acme", Decision("c2", "queued", None, None, "no_agent_available", queue_position=1))

    text = metrics.render({})
    assert value(text, "parley_routing_facts_processed_total") == 3
    assert value(text, "parley_routing_fact_gaps_filled_total") == 1
    assert value(text, "parley_routing_ticks_sent_total") == 0, "a counter not yet counted reads 0"
    assert value(text, 'parley_dead_letters_total{service="routing"}') == 2
    assert value(text, "parley_routing_forced_assignments_total") == 1
    assert value(text, 'parley_routing_assignments_total{tenant="acme",agent="bob"}') == 1
    assert value(text, 'parley_routing_decisions_total{outcome="queued",reason="no_agent_available"}') == 1
    waited = 'parley_routing_time_to_assignment_seconds_bucket{tenant="acme",department="",le="15.0"}'
    assert value(text, waited) == 1
    assert "# TYPE parley_routing_facts_processed_total counter" in text
