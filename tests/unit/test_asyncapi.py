"""docs/events/asyncapi.json: current, valid AsyncAPI 3.0, and every reference in it lands somewhere.

The specification's own JSON Schema is vendored in tests/fixtures/asyncapi (see its README) so the
validation runs offline.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from shared.events import EVENT_TYPES, topic_of_type
from shared.events.docs import ASYNCAPI_FILE, DOCS_DIR, generated_files
from shared.topics import CATALOGUE

ASYNCAPI_3_SCHEMA = (
    Path(__file__).resolve().parents[1] / "fixtures" / "asyncapi" / "asyncapi-3.0.0.schema.json"
)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DOCS_DIR / ASYNCAPI_FILE).read_text())
    return loaded


@pytest.fixture(scope="module")
def asyncapi_3() -> jsonschema_rs.Draft7Validator:
    return jsonschema_rs.Draft7Validator(json.loads(ASYNCAPI_3_SCHEMA.read_text()))


def test_committed_asyncapi_document_is_the_generated_one() -> None:
    committed = (DOCS_DIR / ASYNCAPI_FILE).read_text()
    assert committed == generated_files()[ASYNCAPI_FILE], (
        "stale docs/events/asyncapi.json; run `parley schemas`"
    )


def _unknown_action(doc: dict[str, Any]) -> None:
    doc["operations"]["receive-conversation-events"]["action"] = "consume"


def _no_info_version(doc: dict[str, Any]) -> None:
    del doc["info"]["version"]


def _zero_partitions(doc: dict[str, Any]) -> None:
    doc["channels"]["presence"]["bindings"]["kafka"]["partitions"] = 0


@pytest.mark.parametrize("breakage", [_unknown_action, _no_info_version, _zero_partitions])
def test_asyncapi_document_validates_against_the_asyncapi_3_schema(
    document: dict[str, Any],
    asyncapi_3: jsonschema_rs.Draft7Validator,
    breakage: Callable[[dict[str, Any]], None],
) -> None:
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in asyncapi_3.iter_errors(document)]
    assert not errors, errors
    # The same validator must refuse a broken copy, or the check above proves nothing.
    broken = copy.deepcopy(document)
    breakage(broken)
    assert not asyncapi_3.is_valid(broken), f"{breakage.__name__} passed validation"


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _resolve_pointer(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for token in pointer.removeprefix("#/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_reference_resolves_and_payloads_are_the_event_schemas(document: dict[str, Any]) -> None:
    """JSON Schema validation checks the shape of a `$ref`, not that it points at anything."""
    for reference in _references(document):
        if reference.startswith("#/"):
            _resolve_pointer(document, reference)
        else:
            assert (DOCS_DIR / reference).is_file(), reference
    for event_type, message in document["components"]["messages"].items():
        payload = json.loads((DOCS_DIR / message["payload"]["$ref"]).read_text())
        assert payload["properties"]["type"]["const"] == event_type


def test_channels_are_the_topic_catalogue_with_each_event_on_its_topic(document: dict[str, Any]) -> None:
    channels = document["channels"]
    assert list(channels) == [spec.suffix for spec in CATALOGUE]
    for spec in CATALOGUE:
        kafka = channels[spec.suffix]["bindings"]["kafka"]
        assert kafka["topicConfiguration"]["retention.ms"] == spec.retention_ms
        assert channels[spec.suffix]["address"] == "{prefix}." + spec.suffix
        assert document["operations"][f"receive-{spec.suffix}"]["action"] == "receive"
    for event_type in EVENT_TYPES:
        assert event_type in channels[topic_of_type(event_type).suffix]["messages"]
