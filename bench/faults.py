"""Fault checks shared by `make faults` and the short CI form (tests/e2e/test_faults.py).

A steady load of visitors, each writing one message at a time and recording which ones the API
acknowledged (2xx). Afterwards, from the views and the event log: every acknowledged message is stored
exactly once and in order, no conversation had two assignees at once, no agent went over capacity
unless forced, and views rebuilt from the topics equal the live ones.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from pymongo import MongoClient

from shared.capacity import chat_limit
from shared.events import RecordedEvent
from shared.events.agent import AgentProfileUpdated, AgentRegistered
from shared.events.conversation import AssignmentDecided, ConversationClosed
from shared.replay import replay_topics
from shared.settings import ParleySettings
from shared.topics import AGENT_EVENTS_TOPIC, CONVERSATION_EVENTS_TOPIC
from tests.processes import REPO_ROOT, run_replay

VIEWS = ("conversations", "agents", "canned_responses", "history_messages", "history_conversations")


@dataclass
class Visitor:
    conversation_id: str
    token: str
    sent: int = 0
    acknowledged: list[str] = field(default_factory=list)


class SteadyLoad:
    """Visitors writing one message at a time (so their order is defined) from background threads."""

    def __init__(self, base_url: str, visitors: int = 8, pause: float = 0.05) -> None:
        self.base_url = base_url
        self.pause = pause
        self.visitors: list[Visitor] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        for n in range(visitors):
            body = self._retry(
                lambda n=n: httpx.post(f"{base_url}/api/visitor/conversations", json={"name": f"Load {n}"})
            )
            self.visitors.append(Visitor(body["conversation_id"], body["visitor_token"]))

    @staticmethod
    def _retry(call: Any, attempts: int = 100) -> dict[str, Any]:
        for _ in range(attempts):
            try:
                response = call()
                if response.status_code < 300:
                    result: dict[str, Any] = response.json()
                    return result
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the gateway never answered")

    def _write(self, visitor: Visitor) -> None:
        with httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {visitor.token}"}, timeout=10
        ) as http:
            while not self._stop.is_set():
                marker = f"{visitor.conversation_id[:8]}-{visitor.sent}"
                visitor.sent += 1
                try:
                    response = http.post("/api/visitor/conversation/messages", json={"text": marker})
                    if response.status_code == 201:
                        visitor.acknowledged.append(marker)
                except httpx.HTTPError:
                    pass  # not acknowledged: the visitor's widget would retry, so may we
                time.sleep(self.pause)

    def start(self) -> None:
        for visitor in self.visitors:
            thread = threading.Thread(target=self._write, args=(visitor,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)


@dataclass
class FaultReport:
    sent: int = 0
    acknowledged: int = 0
    stored: int = 0
    duplicates: int = 0
    lost: int = 0
    out_of_order: int = 0
    stored_without_acknowledgement: int = 0
    double_assignments: int = 0
    over_capacity: int = 0
    views_equal_replay: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not (
                self.duplicates
                or self.lost
                or self.out_of_order
                or self.double_assignments
                or self.over_capacity
            )
            and self.views_equal_replay
        )

    def summary(self) -> str:
        return (
            f"sent {self.sent}, acknowledged {self.acknowledged}, stored {self.stored}, duplicates {self.duplicates},"
            f" lost {self.lost}, out of order {self.out_of_order}, stored without acknowledgement"
            f" {self.stored_without_acknowledgement}, double assignments {self.double_assignments},"
            f" over capacity {self.over_capacity}, views equal replay {self.views_equal_replay}"
        )


def check_messages(report: FaultReport, load: SteadyLoad, db: Any) -> None:
    for visitor in load.visitors:
        lines = (
            db["history_messages"]
            .find({"conversation_id": visitor.conversation_id, "kind": "message", "author.kind": "visitor"})
            .sort("position", 1)
        )
        stored = [line["text"] for line in lines]
        counts = Counter(stored)
        acknowledged = set(visitor.acknowledged)
        report.sent += visitor.sent
        report.acknowledged += len(visitor.acknowledged)
        report.stored += len(stored)
        report.duplicates += sum(c - 1 for c in counts.values() if c > 1)
        report.lost += len(acknowledged - set(stored))
        report.stored_without_acknowledgement += len(set(stored) - acknowledged)
        in_store_order = [marker for marker in dict.fromkeys(stored) if marker in acknowledged]
        if in_store_order != [m for m in visitor.acknowledged if m in counts]:
            report.out_of_order += 1
            report.problems.append(f"{visitor.conversation_id}: stored order differs from acknowledged order")


async def read_log(settings: ParleySettings) -> list[RecordedEvent]:
    events: list[RecordedEvent] = []

    async def collect(batch: Sequence[RecordedEvent]) -> None:
        events.extend(batch)

    await replay_topics(
        settings=settings,
        topics=[CONVERSATION_EVENTS_TOPIC, AGENT_EVENTS_TOPIC],
        handle_batch=collect,
        label="event log",
        show_progress=False,
    )
    return events


def check_assignments(report: FaultReport, log: list[RecordedEvent]) -> None:
    """Walks every assignment decision in log order: each must start from the assignee the previous one left."""
    capacity: dict[str, int] = {}
    assignee: dict[str, str | None] = {}
    load: dict[str, set[str]] = defaultdict(set)
    for recorded in sorted(log, key=lambda r: (r.event.occurred_at, r.topic, r.partition, r.offset)):
        event = recorded.event
        if isinstance(event, AgentRegistered):
            # The fault run configures no departments: an agent's own limit, else the team default.
            capacity[event.aggregate_id] = chat_limit(event.payload.max_concurrent_chats).chats
        elif isinstance(event, AgentProfileUpdated) and event.payload.max_concurrent_chats:
            capacity[event.aggregate_id] = event.payload.max_concurrent_chats
        elif isinstance(event, ConversationClosed):
            previous = assignee.pop(event.aggregate_id, None)
            if previous:
                load[previous].discard(event.aggregate_id)
        elif isinstance(event, AssignmentDecided):
            conversation, decision = event.aggregate_id, event.payload
            current = assignee.get(conversation)
            if decision.previous_agent_id is not None and decision.previous_agent_id != current:
                report.double_assignments += 1
                report.problems.append(
                    f"{conversation}: decided from {decision.previous_agent_id}, held by {current}"
                )
            if current:
                load[current].discard(conversation)
            assignee[conversation] = decision.agent_id if decision.outcome == "assigned" else None
            if decision.outcome == "assigned" and decision.agent_id:
                load[decision.agent_id].add(conversation)
                forced = bool(getattr(decision, "forced", False))
                if len(load[decision.agent_id]) > capacity.get(decision.agent_id, 10**6) and not forced:
                    report.over_capacity += 1
                    report.problems.append(f"{decision.agent_id} over capacity with {conversation}")


def check_replay(report: FaultReport, env: dict[str, str], db: Any) -> None:
    completed = run_replay("services.cli", "faults_", env, timeout=300)
    if completed.returncode != 0:
        report.problems.append(f"replay failed: {completed.stderr[-1000:]}")
        return
    differing = []
    for name in VIEWS:
        live = {str(d["_id"]): d for d in db[name].find({})}
        rebuilt = {str(d["_id"]): d for d in db[f"faults_{name}"].find({})}
        if live == rebuilt:
            continue
        differing.append(name)
        only_live, only_rebuilt = sorted(live.keys() - rebuilt.keys()), sorted(rebuilt.keys() - live.keys())
        changed = [key for key in live.keys() & rebuilt.keys() if live[key] != rebuilt[key]]
        example = ""
        if changed:
            a, b = live[changed[0]], rebuilt[changed[0]]
            example = str({k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)})
        report.problems.append(
            f"{name} differs from a replay: only live {only_live[:3]}, only rebuilt {only_rebuilt[:3]},"
            f" {len(changed)} changed {example[:600]}"
        )
    report.views_equal_replay = not differing


def verify(
    load: SteadyLoad, env: dict[str, str], settings: ParleySettings, *, settle: float = 60
) -> FaultReport:
    """Waits for the projections to catch up (bounded), then checks everything."""
    client: MongoClient[dict[str, Any]] = MongoClient(env["PARLEY_MONGODB_URI"], tz_aware=True)
    db = client[env["PARLEY_MONGODB_DATABASE"]]
    try:
        deadline = time.monotonic() + settle
        while True:
            report = FaultReport()
            check_messages(report, load, db)
            if report.lost == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        check_assignments(report, asyncio.run(read_log(settings)))
        deadline = time.monotonic() + settle
        while True:
            check_replay(report, env, db)
            if report.views_equal_replay or time.monotonic() > deadline:
                break
            time.sleep(2)
        return report
    finally:
        client.close()


def main() -> None:
    """`make faults`: under a steady load, SIGKILL each service in turn, restart the broker, FerretDB and the
    PostgreSQL cluster under it."""
    import argparse

    from bench.stack import Stack, say

    parser = argparse.ArgumentParser(prog="python -m bench.faults")
    parser.add_argument("--visitors", type=int, default=16)
    args = parser.parse_args()

    stack = Stack(agents=6, max_chats=3)
    say("starting the stack")
    stack.start_services()
    try:
        stack.register_agents()
        load = SteadyLoad(stack.base_url, visitors=args.visitors)
        load.start()
        say(f"steady load: {args.visitors} visitors writing")
        for name in ("gateway", "routing", "conversation", "history"):
            time.sleep(5)
            say(f"SIGKILL {name}, then restart")
            process = stack.processes[name]
            process.crash_and_restart()
            process.wait_http_ready(f"http://127.0.0.1:{process.port}/healthz", timeout=120)
        for component in ("kafka", "ferretdb", "postgres"):
            time.sleep(5)
            say(f"restarting {component}")
            subprocess.run([str(REPO_ROOT / "deploy/local/infra.sh"), f"restart-{component}"], check=True)
        time.sleep(10)
        load.stop()
        say("load stopped; verifying")
        report = verify(load, stack.env, stack.settings, settle=120)
    finally:
        stack.stop_services()
    print(report.summary())
    for problem in report.problems[:20]:
        print(f"  problem: {problem}")
    if report.ok:
        stack.remove_data()  # a failed run keeps its topics and database for a look
    else:
        print(
            f"  kept for inspection: topics {stack.settings.topic_prefix}*, database {stack.settings.mongodb_database}"
        )
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
