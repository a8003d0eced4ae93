"""The Prometheus text every /metrics answers with: label values a user named cannot break a line."""

from __future__ import annotations

from shared.metrics import exposition, sample


def test_a_sample_without_labels_is_its_name_and_value() -> None:
    assert sample("parley_gateway_live_connections", 3) == "parley_gateway_live_connections 3"


def test_label_values_are_escaped_so_a_team_name_cannot_end_the_label_or_the_line() -> None:
    line = sample("parley_routing_queue_length", 2, tenant='acme "west"\\\nx', department="sales")
    assert line == 'parley_routing_queue_length{tenant="acme \\"west\\"\\\\\\nx",department="sales"} 2'
    assert "\n" not in line


def test_an_exposition_ends_every_line_with_a_newline() -> None:
    assert exposition(["a 1", "b 2"]) == "a 1\nb 2\n"
