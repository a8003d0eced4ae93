from __future__ import annotations

from shared.events.docs import DOCS_DIR, schema_files


def test_committed_event_schemas_match_the_models() -> None:
    """Analytics consumers read docs/events; run `parley schemas` after changing an event."""
    expected = schema_files()
    stale = [
        name
        for name, content in expected.items()
        if not (DOCS_DIR / name).exists() or (DOCS_DIR / name).read_text() != content
    ]
    committed = {str(p.relative_to(DOCS_DIR)) for p in DOCS_DIR.rglob("*") if p.is_file()}
    unexpected = committed - set(expected)
    assert not stale, f"stale or missing: {stale}; run `parley schemas`"
    assert not unexpected, f"no longer generated: {sorted(unexpected)}; delete them"
