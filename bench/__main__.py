"""`make bench` / `make bench-quick`: Parley and the bare pipeline under the same ladder of offered loads.

Starts every Parley service as its own process on isolated topics and database, registers agents over
the public API, runs `bench/loadgen.py` as a separate process per load step, then the data-growth step (full run) and
replay speed. Then, in the same run, the bare pipeline (bench/bare.py: the same job with the same libraries
and none of Parley's logic) under the same load generator and ladder, and the bare-library baseline.
Reports Parley ÷ bare at each step and at saturation, and the CPU milliseconds per message of every
process. Writes bench-results/<stamp>.json and a latency chart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import httpx

from bench.bare import BARE_PROCESSES, BARE_TOPIC
from bench.baseline import kafka_baseline, mongo_baseline
from bench.growth import (
    group_backlog,
    growth_ratios,
    growth_table,
    seed_backlog,
    time_reads,
    wait_until_applied,
    wait_until_quiet,
)
from bench.procfs import ProcessTable
from bench.report import chart, compare, comparison_table, cpu_table, table
from bench.stack import RESULTS, Stack, infrastructure_pids, say
from bench.steps import Target, run_step
from services.conversation.config import ConversationSettings
from services.conversation.views import CONVERSATION_PROJECTION
from services.history.config import HistorySettings
from services.history.views import HISTORY_PROJECTION
from shared.kafka import ensure_topics
from shared.replay import rebuild_views

# The router's own clock adds a fact every few seconds and faust commits every few seconds: a router with
# nothing left to do can still show this many facts uncommitted.
ROUTER_SETTLED = 20


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

    def database_cpu_seconds(self) -> float:
        """FerretDB's and PostgreSQL's CPU so far (every backend included)."""
        table = ProcessTable()
        pids = infrastructure_pids()
        return sum(table.cpu_seconds(pids[name]) or 0.0 for name in ("ferretdb", "postgres") if name in pids)

    def projection_backlog(self) -> dict[str, int | None]:
        return {name: self.consumer_backlog(name) for name in ("conversation", "history")}

    def backlog(self) -> dict[str, int | None]:
        """What each consumer has still to apply: the router, whose decisions and queue positions for a
        seeded backlog keep the database busy long after the projections caught up, then the projections
        (read second, so they include what the router published before it settled)."""
        prefix = self.settings.topic_prefix
        router = asyncio.run(group_backlog(self.settings, [f"{prefix}-routing-rekey", f"{prefix}-routing"]))
        return {"router": router} | self.projection_backlog()

    def pids(self) -> dict[str, int]:
        return {name: process.proc.pid for name, process in self.processes.items()}

    def parley(self, agents: list[dict[str, str]]) -> Target:
        return Target(
            name="parley",
            base_url=self.base_url,
            agents=agents,
            processes=self.pids(),
            infrastructure=infrastructure_pids(),
            documents=self.documents,
            backlog=lambda: {name: self.consumer_backlog(name) for name in ("conversation", "history")},
        )

    def start_bare(self) -> Target:
        """The bare pipeline on its own topic and database, with as many (token-less) agents as Parley's."""
        asyncio.run(ensure_topics(self.settings, [BARE_TOPIC]))
        self.start_processes(BARE_PROCESSES)
        agents = [{"id": f"bare-agent-{n}", "token": f"bare-agent-{n}"} for n in range(self.agent_count)]
        return Target(
            name="bare",
            base_url=f"http://127.0.0.1:{self.processes['bare_gateway'].port}",
            agents=agents,
            processes=self.pids(),
            infrastructure=infrastructure_pids(),
        )

    def climb(self, target: Target) -> tuple[list[dict[str, Any]], bool]:
        """The ladder until it ends or the target saturates; the steps, and whether it saturated."""
        ladder, steps = self.args.ladder, []
        # Unmeasured: the first seconds of a fresh stack pay one-time costs (connection pools, the broker's
        # JIT, first imports) that say nothing about its steady speed; both pipelines get the same warm-up.
        say(
            f"{target.name} warm-up: {ladder[0]:g} visitor messages/s for {self.args.warmup_seconds:g} s, not measured"
        )
        run_step(
            target,
            ladder[0],
            self.args.seed - 1,
            seconds=self.args.warmup_seconds,
            settle=self.args.settle_seconds,
            logs=self.logs,
        )
        for number, rate in enumerate(ladder):
            say(
                f"{target.name} step {number + 1}/{len(ladder)}: {rate:g} visitor messages/s for {self.args.step_seconds:g} s"
            )
            # The same seed at the same step for both pipelines: the same visitors write the same lines.
            step = run_step(
                target,
                rate,
                self.args.seed + number,
                seconds=self.args.step_seconds,
                settle=self.args.settle_seconds,
                logs=self.logs,
            )
            steps.append(step)
            say(
                f"  acknowledged {step['acknowledged_per_s']}/s, delivered {step['delivered_per_s']}/s,"
                f" p99 {step['latency_ms']['p99']} ms, load generator {step['cpu_ms_per_message']['loadgen']} ms CPU/msg"
            )
            if step["delivered_per_s"] < 0.8 * rate or (step["latency_ms"]["p99"] or 0) > 5000:
                say("  saturated: stopping the ladder")
                return steps, True
        return steps, False

    def grow(self, agents: list[dict[str, str]], *, base: int, messages: int) -> list[dict[str, Any]]:
        """The data-growth step: read latencies with `base` closed conversations, then with ten times as many."""
        steps = []
        seeded = 0
        anchor = datetime.now(UTC)  # the same days at 1x and 10x: the 10x history reaches further back
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
                    per_day=max(1, base // 10),
                    anchor=anchor,
                )
            )
            wait_until_applied(self.projection_backlog, timeout=1800, settled={})
            applied_s = time.monotonic() - began
            # The router's decisions and queue moves for the seeded chats come later and are applied too.
            router_settled_s = wait_until_applied(
                self.backlog, timeout=1800, settled={"router": ROUTER_SETTLED}
            )
            seeded = target
            quiet_after_s = wait_until_quiet(self.database_cpu_seconds)
            steps.append(
                {
                    "scale": scale,
                    "conversations": target,
                    "messages": target * messages,
                    "events_per_s_applied": round(events / applied_s),
                    "router_settled_after_s": round(router_settled_s, 1),
                    "database_quiet_after_s": quiet_after_s,
                    "reads_ms": time_reads(self.base_url, agents[0]["token"], samples=self.args.read_samples),
                }
            )
        return steps

    async def replay_speed(self) -> dict[str, Any]:
        began = time.perf_counter()
        conversation = await rebuild_views(ConversationSettings(), CONVERSATION_PROJECTION, prefix="rebuild_")
        conversation_s = time.perf_counter() - began
        began = time.perf_counter()
        history = await rebuild_views(HistorySettings(), HISTORY_PROJECTION, prefix="rebuild_")
        history_s = time.perf_counter() - began
        return {
            "conversation_events": conversation,
            "conversation_events_per_s": round(conversation / conversation_s),
            "history_events": history,
            "history_events_per_s": round(history / history_s),
        }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--quick", action="store_true", help="a short ladder that finishes in under three minutes"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--ladder", type=float, nargs="+", help="offered loads in messages/s (overrides the mode's)"
    )
    parser.add_argument("--step-seconds", type=float, help="seconds per load step (overrides the mode's)")
    parser.add_argument(
        "--growth",
        action=argparse.BooleanOptionalAction,
        help="the data-growth step (default: in the full run only)",
    )
    args = parser.parse_args()
    # Up to 800 msg/s even in the quick run: the ratio at saturation needs the bare pipeline saturated too.
    args.ladder = args.ladder or ([50, 100, 200, 400, 800] if args.quick else [50, 100, 200, 400, 800, 1600])
    args.step_seconds = args.step_seconds or (8 if args.quick else 30)
    # The longest wait for messages still in flight after a step's last send.
    args.settle_seconds = 5 if args.quick else 10
    args.warmup_seconds = 10
    args.growth = not args.quick if args.growth is None else args.growth
    args.agents = 6 if args.quick else 12
    args.baseline_events = 20_000 if args.quick else 100_000
    # The data-growth step: closed conversations at 1x (then 10x), with this many messages each.
    args.growth_conversations = 300 if args.quick else 2_000
    args.growth_messages = 8 if args.quick else 10
    # Enough that p99 is not simply the slowest request (with 100 or fewer it is: bench/report.percentiles).
    args.read_samples = 200 if args.quick else 300
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    bench = Bench(args)
    RESULTS.mkdir(exist_ok=True)
    started = datetime.now(UTC)
    say(
        f"starting Parley (topics {bench.env['PARLEY_TOPIC_PREFIX']}, database {bench.env['PARLEY_MONGODB_DATABASE']})"
    )
    bench.start_services()
    try:
        return measure(bench, args, started)
    finally:
        bench.remove_data()


def measure(bench: Bench, args: argparse.Namespace, started: datetime) -> dict[str, Any]:
    try:
        agents = bench.register_agents()
        steps, parley_saturated = bench.climb(bench.parley(agents))
        growth: dict[str, Any] | None = None
        if args.growth:
            grown = bench.grow(agents, base=args.growth_conversations, messages=args.growth_messages)
            growth = {
                "steps": grown,
                "latency_ratio_10x_over_1x": growth_ratios(grown[0]["reads_ms"], grown[-1]["reads_ms"]),
            }
        say("measuring replay speed (rebuilding every view from the topics)")
        replay = asyncio.run(bench.replay_speed())
    finally:
        bench.stop_services()
    say("starting the bare pipeline (bench/bare.py)")
    try:
        bare_steps, bare_saturated = bench.climb(bench.start_bare())
    finally:
        bench.stop_services()
    say("running the bare-library baseline (aiokafka; PyMongo bulk inserts and upserts)")
    baseline = {
        "aiokafka": asyncio.run(kafka_baseline(bench.env["PARLEY_KAFKA_BOOTSTRAP"], args.baseline_events)),
        "pymongo": asyncio.run(mongo_baseline(bench.env["PARLEY_MONGODB_URI"], args.baseline_events // 50)),
    }
    comparison = compare(steps, bare_steps, parley_saturated=parley_saturated, bare_saturated=bare_saturated)
    best = comparison["at_saturation"]["parley_messages_per_s"]
    backend = "PostgreSQL" if "postgres" in infrastructure_pids() else "SQLite"
    return {
        "started_at": started.isoformat(),
        "mode": "quick" if args.quick else "full",
        "seed": args.seed,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "versions": {
            name: version(name)
            for name in ("aiokafka", "aiohttp", "faust-streaming", "pymongo", "fastapi", "uvicorn")
        }
        | {"kafka": "4.1.1", "ferretdb": "1.24.2", "ferretdb_backend": backend},
        "settings": {
            "agents": args.agents,
            "step_seconds": args.step_seconds,
            "warmup_seconds": args.warmup_seconds,
            "ladder": args.ladder,
        },
        "steps": steps,
        "parley_saturated": parley_saturated,
        "bare": {"steps": bare_steps, "saturated": bare_saturated},
        "parley_over_bare": comparison,
        "data_growth": growth,
        "replay": replay,
        "baseline": baseline,
        "sustained_messages_per_s": best,
        "ratio_to_bare_pipeline": comparison["at_saturation"]["ratio"],
        "ratio_to_bare_kafka_produce": round(best / baseline["aiokafka"]["produce_per_s"], 4),
        "ratio_to_bare_mongodb_inserts": round(best / baseline["pymongo"]["inserts_per_s"], 4),
    }


def main() -> None:
    # Stopped with SIGTERM (kill, a CI timeout), the run still stops the services it started: Python's
    # default would exit at once, leaving them running and loading the machine for whatever comes next.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    report = run(parse_args())
    stamp = datetime.fromisoformat(report["started_at"]).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"bench-{report['mode']}-{stamp}.json"
    path.write_text(json.dumps(report, indent=2))
    steps, bare, baseline, replay = (
        report["steps"],
        report["bare"]["steps"],
        report["baseline"],
        report["replay"],
    )
    png = chart(steps, bare, RESULTS / f"bench-{report['mode']}-{stamp}.png")
    for title, pipeline in (("Parley", steps), ("bare pipeline", bare)):
        print(f"{title}: visitor post -> agent WebSocket (ms), assignment, projection lag")
        print(table(pipeline))
        print()
    print(comparison_table(steps, bare, report["parley_over_bare"]))
    print()
    print(cpu_table(steps, "Parley"))
    print()
    print(cpu_table(bare, "bare pipeline"))
    print()
    growth = report["data_growth"]
    if growth:
        print(growth_table(growth["steps"], growth["latency_ratio_10x_over_1x"]))
    else:
        print("data growth: not run (python -m bench --growth, or make bench)")
    print(
        f"\nreplay: conversation {replay['conversation_events_per_s']} events/s, history {replay['history_events_per_s']} events/s"
        f"\nbaseline: aiokafka produce {baseline['aiokafka']['produce_per_s']}/s, consume {baseline['aiokafka']['consume_per_s']}/s,"
        f" PyMongo bulk inserts {baseline['pymongo']['inserts_per_s']}/s, bulk upserts {baseline['pymongo']['upserts_per_s']}/s"
        f"\nParley sustained {report['sustained_messages_per_s']} msg/s end to end = {report['ratio_to_bare_pipeline']} of the"
        f" bare pipeline ({report['parley_over_bare']['at_saturation']['note']})"
        f"\nreport: {path}" + (f"\nchart:  {png}" if png else "")
    )


if __name__ == "__main__":
    main()
