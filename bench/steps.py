"""One load step: the load generator against a pipeline (Parley or bare) at one offered rate, and what
every process of that pipeline, the infrastructure and the load generator spent on it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procfs import ProcessTable
from bench.report import percentiles
from tests.processes import REPO_ROOT


@dataclass
class Target:
    """A pipeline under load: where the load generator sends, and whose CPU the step measures."""

    name: str  # "parley" or "bare"
    base_url: str
    agents: list[dict[str, str]]
    processes: dict[str, int]  # the pipeline's own processes, by name: pid
    infrastructure: dict[str, int]  # Kafka and the database, shared by both pipelines
    # Parley's projections count the view documents they read and write; the bare writer does not.
    documents: Callable[[], dict[str, int]] | None = None
    backlog: Callable[[], dict[str, int | None]] | None = None


# Offered messages per second that one load worker process takes: about half a core's work here.
RATE_PER_LOADGEN_PROCESS = 600


def loadgen_processes(rate: float, agents: int) -> int:
    """Enough worker processes that none needs more than about half a core (each holds at least one
    agent's socket, so no more than there are agents)."""
    return max(1, min(agents, -(-int(rate) // RATE_PER_LOADGEN_PROCESS)))


def run_step(
    target: Target, rate: float, seed: int, *, seconds: float, settle: float, logs: Path
) -> dict[str, Any]:
    measured = {**target.processes, **target.infrastructure}
    cpu_before = ProcessTable()
    documents_before = target.documents() if target.documents else {}
    output = logs / f"loadgen-{target.name}-{rate:g}.json"
    processes = loadgen_processes(rate, len(target.agents))
    command = [
        sys.executable,
        "-m",
        "bench.loadgen",
        f"--base-url={target.base_url}",
        f"--agents-json={json.dumps(target.agents)}",
        f"--rate={rate}",
        f"--duration={seconds}",
        f"--settle={settle}",
        f"--seed={seed}",
        f"--processes={processes}",
        f"--output={output}",
    ]
    began = time.monotonic()
    loadgen = subprocess.Popen(command, cwd=REPO_ROOT)
    peak_rss: dict[str, float] = {}
    while loadgen.poll() is None:
        table = ProcessTable()
        for name, pid in {**measured, "loadgen": loadgen.pid}.items():
            peak_rss[name] = max(peak_rss.get(name, 0.0), table.rss_mb(pid))
        if sys.stderr.isatty():
            elapsed = time.monotonic() - began
            print(f"\r[bench]   {rate:>6.0f} msg/s offered ... {elapsed:5.0f} s", end="", file=sys.stderr)
        time.sleep(1)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    wall = time.monotonic() - began
    if loadgen.returncode:
        raise RuntimeError(f"the load generator failed with exit code {loadgen.returncode}")
    cpu_after = ProcessTable()
    backlog = target.backlog() if target.backlog else None
    raw = json.loads(output.read_text())
    output.unlink()
    cpu_s = {name: _spent(cpu_before, cpu_after, pid) for name, pid in measured.items()}
    # The load generator times itself over its load, without its interpreter's start-up (imports).
    cpu_s["loadgen"] = raw["cpu_s"]
    windows = {name: raw["elapsed_s"] if name == "loadgen" else wall for name in cpu_s}
    messages = max(raw["acknowledged"], 1)
    step = {
        "offered_rate": rate,
        "duration_s": round(raw["elapsed_s"], 1),
        "sent": raw["sent"],
        "acknowledged": raw["acknowledged"],
        "failed": raw["failed"],
        "delivered": raw["delivered"],
        "conversations_started": raw["conversations"],
        "agent_replies": raw["replies"],
        "acknowledged_per_s": round(raw["acknowledged"] / max(raw["ack_window_s"], 1e-6), 1),
        "delivered_per_s": round(raw["delivered"] / max(raw["delivery_window_s"], 1e-6), 1),
        "latency_ms": percentiles(raw["latencies_ms"]),
        "assignment_ms": percentiles(raw["assignment_ms"]),
        "projection_lag_ms": percentiles(raw["projection_lag_ms"]),
        "loadgen_send_delay_ms": percentiles(raw["send_delay_ms"]),
        "loadgen_processes": raw["processes"],
        "errors": raw["errors"],
        "cpu_percent": {
            name: round(spent / windows[name] * 100, 1) for name, spent in cpu_s.items() if spent is not None
        },
        "cpu_ms_per_message": {
            name: round(spent * 1000 / messages, 3) for name, spent in cpu_s.items() if spent is not None
        },
        "cpu_ms_per_message_totals": {
            "pipeline": _total(cpu_s, target.processes, messages),
            "infrastructure": _total(cpu_s, target.infrastructure, messages),
        },
        "peak_rss_mb": peak_rss,
    }
    if target.documents:
        documents = {k: v - documents_before[k] for k, v in target.documents().items()}
        step["database_documents_per_message"] = {k: round(v / messages, 2) for k, v in documents.items()}
        step["database_documents_per_message_total"] = round(sum(documents.values()) / messages, 2)
    if backlog is not None:
        step["projection_backlog_events_at_step_end"] = backlog
    return step


def _spent(before: ProcessTable, after: ProcessTable, pid: int) -> float | None:
    """CPU seconds between the two tables; None if the process was not there for both."""
    start, end = before.cpu_seconds(pid), after.cpu_seconds(pid)
    return None if start is None or end is None else end - start


def _total(cpu_s: dict[str, float | None], names: dict[str, int], messages: int) -> float:
    return round(sum(cpu_s[name] or 0.0 for name in names) * 1000 / messages, 3)
