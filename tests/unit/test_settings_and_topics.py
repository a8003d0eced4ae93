from __future__ import annotations

import json

import pytest
import structlog
from pydantic import ValidationError

from services.gateway.config import GatewaySettings
from shared.logging import bind_event_context, configure_logging
from shared.settings import ParleySettings
from shared.topics import CATALOGUE, CONVERSATION_EVENTS_TOPIC


def test_settings_read_parley_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("PARLEY_MONGODB_URI", "mongodb://db.internal:27017")
    monkeypatch.setenv("PARLEY_PORT", "9100")
    settings = GatewaySettings()
    assert settings.kafka_bootstrap == "kafka-1:9092,kafka-2:9092"
    assert settings.mongodb_uri == "mongodb://db.internal:27017"
    assert settings.port == 9100
    assert settings.service_name == "gateway"


def test_settings_defaults_point_at_the_local_infrastructure(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PARLEY_KAFKA_BOOTSTRAP", "PARLEY_MONGODB_URI"):
        monkeypatch.delenv(name, raising=False)
    settings = ParleySettings(_env_file=None)
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.mongodb_uri == "mongodb://127.0.0.1:27017"


def test_bad_settings_are_refused_with_the_field_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_KAFKA_PARTITIONS", "0")
    with pytest.raises(ValidationError, match="kafka_partitions"):
        ParleySettings()


def test_production_refuses_the_published_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="PARLEY_SECRET_KEY"):
        GatewaySettings()
    monkeypatch.setenv("PARLEY_SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="PARLEY_SECRET_KEY"):
        GatewaySettings()
    monkeypatch.setenv("PARLEY_SECRET_KEY", "x" * 40)
    assert GatewaySettings().secret_key.get_secret_value() == "x" * 40


def test_event_topics_are_kept_forever_so_views_can_be_replayed() -> None:
    assert CONVERSATION_EVENTS_TOPIC.config()["retention.ms"] == "-1"
    assert CONVERSATION_EVENTS_TOPIC.config()["cleanup.policy"] == "delete"
    names = [spec.name("parley") for spec in CATALOGUE]
    assert len(names) == len(set(names))
    assert "parley.conversation-events" in names


def test_json_logs_carry_the_event_context(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(ParleySettings(service_name="unit", log_format="json"))
    with bind_event_context(tenant="acme", conversation_id="c-1", partition=2, offset=41):
        structlog.get_logger("unit").info("view updated")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["event"] == "view updated"
    assert (line["tenant"], line["conversation_id"], line["partition"], line["offset"]) == (
        "acme",
        "c-1",
        2,
        41,
    )
    assert line["service"] == "unit"
