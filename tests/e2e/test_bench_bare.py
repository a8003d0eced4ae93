"""The bench's bare pipeline under its load generator, on the real broker and database: every message the
endpoint acknowledged reaches its agent's socket and the database, and the step reports every process's CPU.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from bench.bare import BARE_PROCESSES, BARE_TOPIC
from bench.steps import Target, run_step
from shared.kafka import ensure_topics
from shared.settings import ParleySettings
from tests.e2e.conftest import isolated_env
from tests.infrastructure import Infrastructure
from tests.processes import REPO_ROOT, ServiceProcess, free_port

pytestmark = pytest.mark.e2e

AGENTS = [{"id": f"bare-agent-{n}", "token": f"bare-agent-{n}"} for n in range(2)]


@pytest.fixture(scope="module")
def bare(infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    env = isolated_env(infrastructure)
    settings = ParleySettings(
        kafka_bootstrap=env["PARLEY_KAFKA_BOOTSTRAP"],
        topic_prefix=env["PARLEY_TOPIC_PREFIX"],
        kafka_partitions=3,
    )
    asyncio.run(ensure_topics(settings, [BARE_TOPIC]))
    logs = tmp_path_factory.mktemp("bare-logs")
    processes = {
        name: ServiceProcess(module, {**env, "PARLEY_PORT": str(free_port())}, logs / f"{name}.log", *args)
        for name, (module, *args) in BARE_PROCESSES.items()
    }
    try:
        for process in processes.values():
            process.wait_http_ready(f"http://127.0.0.1:{process.port}/healthz", timeout=90)
        yield Target(
            name="bare",
            base_url=f"http://127.0.0.1:{processes['bare_gateway'].port}",
            agents=AGENTS,
            processes={name: process.proc.pid for name, process in processes.items()},
            infrastructure={},
        )
    finally:
        for process in processes.values():
            process.stop()
        client: MongoClient[dict[str, object]] = MongoClient(infrastructure.mongodb_uri)
        with client:
            client.drop_database(f"{env['PARLEY_MONGODB_DATABASE']}_bare")


def test_a_step_delivers_every_acknowledged_message_and_counts_every_process(
    bare: Target, tmp_path: Path
) -> None:
    step = run_step(bare, rate=40, seed=3, seconds=3, settle=10, logs=tmp_path)
    assert step["sent"] == step["acknowledged"] == step["delivered"] > 60, step["errors"]
    assert step["failed"] == 0 and not step["errors"]
    assert step["latency_ms"]["count"] == step["delivered"]
    assert step["assignment_ms"]["count"] == step["conversations_started"]
    assert step["projection_lag_ms"]["count"] > 0  # the writer stored what the probes waited for
    assert step["agent_replies"] > 0
    for name in ("bare_gateway", "bare_writer", "loadgen"):
        assert step["cpu_ms_per_message"][name] > 0, name
    assert not list(tmp_path.glob("loadgen-*.json")), "the result file is read and removed"


def test_worker_processes_split_the_load_and_merge_their_results(bare: Target, tmp_path: Path) -> None:
    output = tmp_path / "result.json"
    command = [
        sys.executable,
        "-m",
        "bench.loadgen",
        f"--base-url={bare.base_url}",
        f"--agents-json={json.dumps(AGENTS)}",
        "--rate=40",
        "--duration=3",
        "--processes=2",
        f"--output={output}",
    ]
    subprocess.run(command, cwd=REPO_ROOT, check=True, timeout=120)
    result = json.loads(output.read_text())
    assert result["processes"] == 2
    assert result["sent"] == result["acknowledged"] == result["delivered"] == 120, result["errors"]
    assert result["cpu_s"] > 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["result.json"]  # the workers' files are gone
