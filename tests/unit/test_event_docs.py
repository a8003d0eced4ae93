from __future__ import annotations

import re

import pytest

from shared.events.docs import DOCS_DIR, DOCUMENTED_COMPRESSION, describe_retention, generated_files
from shared.settings import ParleySettings
from shared.topics import CATALOGUE, FOREVER


def test_committed_event_schemas_match_the_models() -> None:
    """Analytics consumers read docs/events; run `parley schemas` after changing an event."""
    expected = generated_files()
    stale = [
        name
        for name, content in expected.items()
        if not (DOCS_DIR / name).exists() or (DOCS_DIR / name).read_text() != content
    ]
    committed = {str(p.relative_to(DOCS_DIR)) for p in DOCS_DIR.rglob("*") if p.is_file()}
    unexpected = committed - set(expected)
    assert not stale, f"stale or missing: {stale}; run `parley schemas`"
    assert not unexpected, f"no longer generated: {sorted(unexpected)}; delete them"


@pytest.mark.parametrize(
    ("retention_ms", "words"),
    [
        (FOREVER, "forever"),
        (3_600_000, "1 hour"),
        (6 * 3_600_000, "6 hours"),
        (24 * 3_600_000, "1 day"),
        (28 * 24 * 3_600_000, "28 days"),
        (36 * 3_600_000, "1.5 days"),
    ],
)
def test_retention_reads_as_hours_under_a_day_and_days_otherwise(retention_ms: int, words: str) -> None:
    assert describe_retention(retention_ms) == words


def test_topic_descriptions_leave_the_retention_to_the_generated_column() -> None:
    """A description that names a period drifts from retention_ms, as "kept a week" beside 28 days did."""
    period = re.compile(r"\b(minute|hour|day|week|month|year)s?\b", re.IGNORECASE)
    restating = [spec.suffix for spec in CATALOGUE if period.search(spec.description)]
    assert not restating, f"say how long a topic is kept with retention_ms only: {restating}"


def test_the_catalogue_documents_the_codec_the_producers_use() -> None:
    assert ParleySettings.model_fields["kafka_compression"].default == DOCUMENTED_COMPRESSION, (
        "update the consumer notes in shared/events/docs.py for the new codec"
    )
