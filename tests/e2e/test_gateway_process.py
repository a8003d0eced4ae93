"""The gateway as its own process, against the real broker and database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.settings import ParleySettings
from tests.processes import ServiceProcess, free_port, service_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def gateway(settings: ParleySettings, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = service_env(settings, port)
    process = ServiceProcess("services.gateway", env, tmp_path / "gateway.log")
    base = f"http://127.0.0.1:{port}"
    try:
        process.wait_http_ready(f"{base}/healthz")
        yield base
    finally:
        process.stop()


def test_gateway_reports_ready_when_kafka_and_mongodb_answer(gateway: str) -> None:
    response = httpx.get(f"{gateway}/readyz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"mongodb": "ok", "kafka": "ok"}}
