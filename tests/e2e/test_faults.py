"""The short form of `make faults`: crash every service in turn under a steady load; nothing acknowledged is
lost or duplicated, no conversation gets two assignees, and the views still equal a replay."""

from __future__ import annotations

import time

import pytest

from bench.faults import SteadyLoad, verify
from shared.settings import ParleySettings
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def test_crashing_each_service_under_load_loses_and_duplicates_nothing(stack: Stack) -> None:
    for n in range(4):
        agent_id = stack.register(f"steady{n}@example.com", f"Steady {n}", max_chats=2)
        assert agent_id
    tokens = [stack.login(f"steady{n}@example.com", "correct horse battery") for n in range(4)]
    for token in tokens:
        stack.client(token).put("/api/agent/me/status", json={"status": "available"}).raise_for_status()

    load = SteadyLoad(stack.base_url, visitors=8)
    load.start()
    try:
        for name in ("conversation", "history", "routing", "gateway"):
            time.sleep(2)
            process = stack.processes[name]
            process.crash_and_restart()
            process.wait_http_ready(f"http://127.0.0.1:{process.port}/healthz", timeout=90)
        time.sleep(2)
    finally:
        load.stop()

    settings = ParleySettings(
        kafka_bootstrap=stack.env["PARLEY_KAFKA_BOOTSTRAP"], topic_prefix=stack.env["PARLEY_TOPIC_PREFIX"]
    )
    report = verify(load, stack.env, settings)
    print(report.summary())
    assert report.acknowledged > 50, "the load should have gone on around the crashes"
    assert report.lost == 0 and report.duplicates == 0 and report.out_of_order == 0, report.problems
    assert report.double_assignments == 0 and report.over_capacity == 0, report.problems
    assert report.views_equal_replay, report.problems
