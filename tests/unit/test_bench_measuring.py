"""The bench's own measuring: process-tree CPU, the load generator's frame matching and merging, Parley ÷ bare."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import aiohttp

from bench.growth import wait_until_applied, wait_until_quiet
from bench.loadgen import Pending, Worker, merge
from bench.procfs import ProcessTable
from bench.report import compare, percentiles
from bench.steps import loadgen_processes

BURN_THEN_EXIT = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"


def test_a_process_tree_counts_children_that_already_exited() -> None:
    # The parent starts a child that burns 0.3 s of CPU and exits, reaps it, then sleeps: as a postmaster
    # does with a backend whose connection closed.
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys, time\nsubprocess.run([sys.executable, '-c', {BURN_THEN_EXIT!r}])\n"
            "print('reaped', flush=True)\ntime.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "reaped"
        table = ProcessTable()
        assert table.tree(parent.pid) == [parent.pid]  # the child is gone...
        assert (table.cpu_seconds(parent.pid) or 0) >= 0.25  # ...and its CPU still counts
        assert table.rss_mb(parent.pid) > 0
    finally:
        parent.kill()
        parent.wait()


def test_a_process_tree_counts_live_children() -> None:
    parent = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        deadline = time.monotonic() + 10
        while len(tree := ProcessTable().tree(parent.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(tree) == 3 and tree[0] == parent.pid
    finally:
        for pid in reversed(ProcessTable().tree(parent.pid)):
            os.kill(pid, signal.SIGKILL)
        parent.wait()


def test_a_gone_process_has_no_cpu_figure() -> None:
    assert ProcessTable().cpu_seconds(2**22 + 1) is None  # above any pid_max


def worker(seed: int = 7) -> Worker:
    args = argparse.Namespace(
        seed=seed,
        processes=1,
        base_url="http://127.0.0.1:1",
        agents=[{"id": "agent-1", "token": "token-1"}],
        rate=100.0,
        lag_sample_every=25,
        lag_samples_per_s=4,
    )
    return Worker(args, shard=0)


async def test_the_load_generator_finds_its_messages_in_frames_without_parsing_them() -> None:
    load = worker(seed=7)
    load.pending[12] = Pending(due=time.monotonic() - 0.05, conversation_id="c1", answer=False)
    load.pending[13] = Pending(due=time.monotonic(), conversation_id="c1", answer=False)
    async with aiohttp.ClientSession() as http:
        frame = '{"kind":"event","event":{"type":"conversation.message_posted","payload":{"text":"bench7:12 xxx"}}}'
        load.on_frame(frame, http)
        load.on_frame(frame, http)  # a second agent socket sees the same event: counted once
        # Another run's message (seed 17) is not this one's, though "bench7:" is nearly in it.
        load.on_frame(frame.replace("bench7:12", "bench17:13"), http)
    assert load.m.delivered == 1 and list(load.pending) == [13]
    assert 40 <= load.m.latencies_ms[0] < 5000


async def test_the_load_generator_times_an_assignment_that_beat_the_start_response() -> None:
    load = worker()
    async with aiohttp.ClientSession() as http:
        load.on_frame(
            '{"kind":"event","event":{"type":"conversation.assignment_decided","aggregate_id":"c9",'
            '"payload":{"outcome":"assigned","agent_id":"agent-1"}}}',
            http,
        )
    assert load.assignee == {"c9": "agent-1"}
    assert "c9" in load.assigned_before_response


def test_worker_results_merge_into_one() -> None:
    first: dict[str, Any] = {
        "sent": 10,
        "latencies_ms": [1.0, 2.0],
        "errors": {"post 500": 1},
        "ack_window_s": 8.0,
        "cpu_s": 1.5,
        "processes": 1,
    }
    second: dict[str, Any] = {
        "sent": 5,
        "latencies_ms": [3.0],
        "errors": {"post 500": 2, "reply 503": 1},
        "ack_window_s": 9.0,
        "cpu_s": 0.5,
        "processes": 1,
    }
    assert merge([first, second]) == {
        "sent": 15,
        "latencies_ms": [1.0, 2.0, 3.0],
        "errors": {"post 500": 3, "reply 503": 1},
        "ack_window_s": 9.0,  # windows: the longest
        "cpu_s": 2.0,  # CPU: added up
        "processes": 2,
    }


def test_load_worker_processes_grow_with_the_rate_but_not_past_the_agents() -> None:
    assert loadgen_processes(50, agents=6) == 1
    assert loadgen_processes(1600, agents=12) == 3
    assert loadgen_processes(1600, agents=2) == 2


def step(rate: float, delivered: float, p99: float, own_cpu: float) -> dict[str, Any]:
    return {
        "offered_rate": rate,
        "delivered_per_s": delivered,
        "latency_ms": {"p50": p99 / 2, "p99": p99},
        "cpu_ms_per_message_totals": {"pipeline": own_cpu, "infrastructure": 1.0},
    }


def test_parley_over_bare_at_each_step_and_at_saturation() -> None:
    parley = [step(50, 50, 200, 4.0), step(100, 60, 6000, 5.0)]
    bare = [step(50, 50, 20, 1.0), step(100, 100, 30, 1.0), step(200, 150, 9000, 1.0)]
    comparison = compare(parley, bare, parley_saturated=True, bare_saturated=True)
    assert [s["offered_rate"] for s in comparison["steps"]] == [50, 100]
    assert comparison["steps"][1]["delivered_per_s"] == 0.6
    assert comparison["steps"][0]["latency_p99"] == 10.0
    assert comparison["steps"][0]["cpu_ms_per_message_pipeline"] == 4.0
    assert comparison["at_saturation"]["ratio"] == 0.4  # Parley's best 60 over bare's best 150
    assert comparison["at_saturation"]["note"] == "both saturated"
    unsaturated = compare(parley, bare[:2], parley_saturated=True, bare_saturated=False)
    assert "upper bound" in unsaturated["at_saturation"]["note"]


def test_the_growth_step_waits_for_the_database_to_calm_down_before_timing_reads() -> None:
    # Cumulative database CPU seconds, read once a second: busy (0.5 a second) for three seconds, then idle.
    readings = iter([0.0, 0.5, 1.0, 1.5, 1.52, 1.54, 1.56, 1.58])
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    waited = wait_until_quiet(
        lambda: next(readings), below=0.1, calm_for=3, clock=lambda: now[0], sleep=sleep
    )
    assert waited == 6.0


def test_the_growth_step_waits_for_the_router_as_well_as_the_projections() -> None:
    # The projections catch up first; the router, still deciding for the seeded chats, a while later, and
    # its own clock leaves it a couple of facts uncommitted at rest.
    readings: Iterator[dict[str, int | None]] = iter(
        [
            {"conversation": 900, "history": 700, "router": 5000},
            {"conversation": 0, "history": 0, "router": 3000},
            {"conversation": 40, "history": 0, "router": 900},  # decisions to apply
            {"conversation": 0, "history": None, "router": 2},  # the history service did not answer
            {"conversation": 0, "history": 0, "router": 2},
        ]
    )
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    waited = wait_until_applied(
        lambda: next(readings), timeout=60, settled={"router": 5}, clock=lambda: now[0], sleep=sleep
    )
    assert waited == 2.0


def test_a_database_that_never_calms_down_is_timed_anyway_after_the_timeout() -> None:
    busy = iter(float(n) for n in range(100))
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    assert wait_until_quiet(lambda: next(busy), timeout=10, clock=lambda: now[0], sleep=sleep) == 10.0


def test_a_p99_of_a_hundred_samples_or_more_is_not_just_the_slowest_one() -> None:
    hundred = [float(n) for n in range(1, 101)]
    assert percentiles(hundred) == {"p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0, "count": 100}
    assert percentiles([float(n) for n in range(1, 17)])["p99"] == 16.0, "16 samples: p99 is the slowest"
    assert percentiles([7.0])["p50"] == 7.0
