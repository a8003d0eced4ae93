"""`make bench` / `make bench-quick`: the whole stack under a ladder of offered loads, plus the baseline.

Starts every Parley service as its own process on isolated topics and database, registers agents over
the public API, runs `bench/loadgen.py` as a separate process per load step, then measures replay speed
and the bare-library baseline in the same run. Writes bench-results/<stamp>.json and a latency chart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

from bench.baseline import kafka_baseline, mongo_baseline
from bench.growth import growth_ratios, growth_table, seed_backlog, time_reads, wait_until_applied
from bench.report import chart, cpu_table, percentiles, table
from bench.stack import RESULTS, Stack, infrastructure_pids, say
from services.conversation.config import ConversationSettings
from services.conversation.views import rebuild_views as rebuild_conversation
from services.history.config import HistorySettings
from services.history.views import rebuild_views as rebuild_history
from tests.processes import REPO_ROOT


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


class Bench(Stack):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(agents=args.agents)
        self.args = args

    def consumer_backlog(self, service: str) -> int | None:
        """Events the projection still has to apply, from its own /metrics (consumer lag summed)."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.processes[service].port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return None
        return sum(
            int(float(line.rsplit(" ", 1)[1]))
            for line in text.splitlines()
            if line.startswith("parley_consumer_lag")
        )

    def projection_metric(self, service: str, name: str) -> int:
        text = httpx.get(f"http://127.0.0.1:{self.processes[service].port}/metrics", timeout=5).text
        return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines() if line.startswith(name))

    def documents(self) -> dict[str, int]:
        """View documents the projections read and wrote so far (their own counters)."""
        return {
            f"{service}_{kind}": self.projection_metric(service, f"parley_view_documents_{kind}_total")
            for service in ("conversation", "history")
            for kind in ("read", "written")
        }

    def backlog(self) -> int | None:
        counts = [self.consumer_backlog(name) for name in ("conversation", "history")]
        return None if None in counts else sum(c or 0 for c in counts)

    def grow(self, agents: list[dict[str, str]], *, base: int, messages: int) -> list[dict[str, Any]]:
        """The data-growth step: read latencies with `base` closed conversations, then with ten times as many."""
        steps = []
        seeded = 0
        for scale in (1, 10):
            target = base * scale
            say(f"growing the history to {target} closed conversations ({target * messages} messages)")
            began = time.monotonic()
            events = asyncio.run(
                seed_backlog(
                    self.settings,
                    first=seeded,
                    count=target - seeded,
                    messages=messages,
                    agent_id=agents[0]["id"],
                )
            )
            wait_until_applied(self.backlog, timeout=1800)
            applied_s = time.monotonic() - began
            seeded = target
            steps.append(
                {
                    "scale": scale,
                    "conversations": target,
                    "messages": target * messages,
                    "events_per_s_applied": round(events / applied_s),
                    "reads_ms": time_reads(self.base_url, agents[0]["token"], samples=self.args.read_samples),
                }
            )
        return steps

    def step(self, rate: float, agents: list[dict[str, str]], seed: int) -> dict[str, Any]:
        pids = {name: p.proc.pid for name, p in self.processes.items()} | infrastructure_pids()
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        began = time.monotonic()
        command = [
            sys.executable,
            "-m",
            "bench.loadgen",
            "--base-url",
            self.base_url,
            "--agents-json",
            json.dumps(agents),
            "--rate",
            str(rate),
            "--duration",
            str(self.args.step_seconds),
            "--seed",
            str(seed),
        ]
        loadgen = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
        documents_before = self.documents()
        pids["loadgen"] = loadgen.pid
        cpu_before["loadgen"] = 0.0
        peak_rss: dict[str, float] = {}
        loadgen_cpu = 0.0
        while loadgen.poll() is None:
            for name, pid in pids.items():
                try:
                    peak_rss[name] = max(peak_rss.get(name, 0.0), rss_mb(pid))
                    if name == "loadgen":
                        loadgen_cpu = cpu_seconds(pid)
                except (FileNotFoundError, ProcessLookupError):
                    pass
            elapsed = time.monotonic() - began
            print(
                f"\r[bench]   {rate:>6.0f} msg/s offered ... {elapsed:5.0f} s",
                end="",
                file=sys.stderr,
                flush=True,
            )
            time.sleep(1)
        print(file=sys.stderr)
        wall = time.monotonic() - began
        backlog = {name: self.consumer_backlog(name) for name in ("conversation", "history")}
        raw = json.loads(loadgen.stdout.read() if loadgen.stdout else "{}")
        cpu = {
            name: round(
                ((loadgen_cpu if name == "loadgen" else cpu_seconds(pid)) - cpu_before[name]) / wall * 100, 1
            )
            for name, pid in pids.items()
        }
        elapsed = raw["elapsed_s"]
        documents = {k: v - documents_before[k] for k, v in self.documents().items()}
        messages = max(raw["acknowledged"], 1)
        return {
            "database_documents_per_message": {k: round(v / messages, 2) for k, v in documents.items()},
            "database_documents_per_message_total": round(sum(documents.values()) / messages, 2),
            "offered_rate": rate,
            "duration_s": round(elapsed, 1),
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
            "errors": raw["errors"],
            "projection_backlog_events_at_step_end": backlog,
            "cpu_percent": cpu,
            "cpu_ms_per_message": {
                name: round(share / 100 * wall * 1000 / messages, 2) for name, share in cpu.items()
            },
            "peak_rss_mb": peak_rss,
        }

    async def replay_speed(self) -> dict[str, Any]:
        began = time.perf_counter()
        conversation = await rebuild_conversation(
            ConversationSettings(), prefix="rebuild_", show_progress=True
        )
        conversation_s = time.perf_counter() - began
        began = time.perf_counter()
        history = await rebuild_history(HistorySettings(), prefix="rebuild_", show_progress=True)
        history_s = time.perf_counter() - began
        return {
            "conversation_events": conversation,
            "conversation_events_per_s": round(conversation / conversation_s),
            "history_events": history,
            "history_events_per_s": round(history / history_s),
        }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--quick", action="store_true", help="a short ladder that finishes in under three minutes"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--ladder", type=float, nargs="+", help="offered loads in messages/s (overrides the mode's)"
    )
    parser.add_argument("--step-seconds", type=float, help="seconds per load step (overrides the mode's)")
    args = parser.parse_args()
    args.ladder = args.ladder or ([25, 50, 100] if args.quick else [50, 100, 200, 400, 800, 1600])
    args.step_seconds = args.step_seconds or (15 if args.quick else 30)
    args.agents = 6 if args.quick else 12
    args.baseline_events = 20_000 if args.quick else 100_000
    # The data-growth step: closed conversations at 1x (then 10x), with this many messages each.
    args.growth_conversations = 300 if args.quick else 2_000
    args.growth_messages = 8 if args.quick else 10
    args.read_samples = 30 if args.quick else 100

    bench = Bench(args)
    RESULTS.mkdir(exist_ok=True)
    started = datetime.now(UTC)
    say(
        f"starting the stack (topics {bench.env['PARLEY_TOPIC_PREFIX']}, database {bench.env['PARLEY_MONGODB_DATABASE']})"
    )
    bench.start_services()
    steps: list[dict[str, Any]] = []
    try:
        agents = bench.register_agents()
        for number, rate in enumerate(args.ladder):
            say(f"step {number + 1}/{len(args.ladder)}: {rate} visitor messages/s for {args.step_seconds} s")
            step = bench.step(rate, agents, args.seed + number)
            steps.append(step)
            say(
                f"  acknowledged {step['acknowledged_per_s']}/s, delivered {step['delivered_per_s']}/s, p99 {step['latency_ms']['p99']} ms"
            )
            if step["delivered_per_s"] < 0.8 * rate or (step["latency_ms"]["p99"] or 0) > 5000:
                say("  saturated: stopping the ladder")
                break
        growth = bench.grow(agents, base=args.growth_conversations, messages=args.growth_messages)
        growth_summary = growth_ratios(growth[0]["reads_ms"], growth[-1]["reads_ms"])
        say("measuring replay speed (rebuilding every view from the topics)")
        replay = asyncio.run(bench.replay_speed())
    finally:
        bench.stop_services()
    say("running the bare-library baseline (aiokafka; PyMongo bulk inserts and upserts)")
    baseline = {
        "aiokafka": asyncio.run(kafka_baseline(bench.env["PARLEY_KAFKA_BOOTSTRAP"], args.baseline_events)),
        "pymongo": asyncio.run(mongo_baseline(bench.env["PARLEY_MONGODB_URI"], args.baseline_events // 50)),
    }
    best = max(steps, key=lambda s: s["delivered_per_s"])
    report = {
        "started_at": started.isoformat(),
        "mode": "quick" if args.quick else "full",
        "seed": args.seed,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "versions": {
            name: version(name) for name in ("aiokafka", "faust-streaming", "pymongo", "fastapi", "uvicorn")
        }
        | {"kafka": "4.1.1", "ferretdb": "1.24.2 (SQLite)"},
        "settings": {"agents": args.agents, "step_seconds": args.step_seconds, "ladder": args.ladder},
        "steps": steps,
        "data_growth": {"steps": growth, "latency_ratio_10x_over_1x": growth_summary},
        "replay": replay,
        "baseline": baseline,
        "sustained_messages_per_s": best["delivered_per_s"],
        "ratio_to_bare_kafka_produce": round(
            best["delivered_per_s"] / baseline["aiokafka"]["produce_per_s"], 4
        ),
        "ratio_to_bare_mongodb_inserts": round(
            best["delivered_per_s"] / baseline["pymongo"]["inserts_per_s"], 4
        ),
    }
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"bench-{report['mode']}-{stamp}.json"
    path.write_text(json.dumps(report, indent=2))
    png = chart(steps, RESULTS / f"bench-{report['mode']}-{stamp}.png")
    print(table(steps))
    print()
    print(cpu_table(steps))
    print()
    print(growth_table(growth, growth_summary))
    print(
        f"\nreplay: conversation {replay['conversation_events_per_s']} events/s, history {replay['history_events_per_s']} events/s"
        f"\nbaseline: aiokafka produce {baseline['aiokafka']['produce_per_s']}/s, consume {baseline['aiokafka']['consume_per_s']}/s,"
        f" PyMongo bulk inserts {baseline['pymongo']['inserts_per_s']}/s, bulk upserts {baseline['pymongo']['upserts_per_s']}/s"
        f"\nParley sustained {report['sustained_messages_per_s']} msg/s end to end = {report['ratio_to_bare_kafka_produce']:.2%} of bare"
        f" aiokafka produce, {report['ratio_to_bare_mongodb_inserts']:.2%} of bare bulk inserts"
        f"\nreport: {path}" + (f"\nchart:  {png}" if png else "")
    )


if __name__ == "__main__":
    main()
