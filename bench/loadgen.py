"""The load process: simulated visitors over HTTP and agents over WebSocket, public interfaces only.

Run by `python -m bench` once per offered load, against Parley or the bare pipeline (same URLs and JSON);
writes one JSON object of raw measurements to --output (a file: a pipe fills up and blocks the writer).
Deterministic given --seed: who writes when, to which conversation, what, and whether the agent answers;
timings are the machine's own. Open loop: every message has a due time on a fixed schedule, and latency is
counted from that due time, so a load generator that falls behind shows it instead of hiding it.

Its own cost must stay far below the stack's: aiohttp's client on keep-alive connections, WebSocket frames
matched by substring (only assignment frames are parsed), and `--processes N` to split the rate over N
worker processes, each with its own seed derived from --seed, their results merged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import time
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from yarl import URL

# Which worker process holds the agent sockets a conversation's pushes must reach: the bare pipeline picks
# its one listening agent among them (Parley ignores the header: it pushes to every agent socket).
SHARD_HEADER = "X-Bench-Shard"
MESSAGE_PADDING = "x" * 180  # a chat line of a realistic size (~250 bytes of text)
JSON = {"Content-Type": "application/json"}
HEARTBEAT = json.dumps({"type": "heartbeat", "status": "available"})
HEARTBEAT_SECONDS = 20  # what the dashboard sends (services/gateway/static/dashboard/live.js)
# Requests beyond this many in flight wait for a connection; their wait counts in the latency.
CONNECTIONS_PER_PROCESS = 256


@dataclass
class Measurements:
    sent: int = 0
    acknowledged: int = 0
    failed: int = 0
    delivered: int = 0
    conversations: int = 0
    replies: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    assignment_ms: list[float] = field(default_factory=list)
    projection_lag_ms: list[float] = field(default_factory=list)
    # How late the generator itself sent each message after its due time: its own bottleneck, if any.
    send_delay_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)


@dataclass
class Pending:
    due: float
    conversation_id: str
    answer: bool  # whether the assigned agent replies, decided on the schedule


Visitor = tuple[str, dict[str, str]]  # conversation id, request headers with the visitor's token


class Worker:
    """One process's share of the load: every `shards`-th message of the schedule, from `shard` on."""

    def __init__(self, args: argparse.Namespace, shard: int) -> None:
        self.args = args
        self.shard, self.shards = shard, args.processes
        self.random = random.Random(f"{args.seed}/{shard}/{self.shards}")
        self.marker = f"bench{args.seed}:"  # then the message's number in the whole schedule, then a space
        self.tokens = {agent["id"]: agent["token"] for agent in args.agents}
        # Parsed once: aiohttp would parse a string URL again on every request.
        base = URL(args.base_url)
        self.start_url = base / "api/visitor/conversations"
        self.messages_url = base / "api/visitor/conversation/messages"
        self.conversation_url = base / "api/visitor/conversation"
        self.agent_socket_url = base / "ws/agent"
        self.reply_url = base / "api/agent/conversations"
        # About a hundred probes in a quick step of 8 s, whatever the rate: with 16 (every 25th message at
        # 50/s), the p99 was the single slowest probe. Each probe is an `_id` lookup every 20 ms or more.
        self.lag_sample_every = max(args.lag_sample_every, int(args.rate / args.lag_samples_per_s))
        self.m = Measurements()
        self.pending: dict[int, Pending] = {}
        self.visitors: list[asyncio.Future[Visitor | None]] = []
        self.started_at: dict[str, float] = {}
        # Decisions that arrived over a socket before the start request's own response did: the router can
        # assign faster than the HTTP response makes its way back, and those are the fastest samples.
        self.assigned_before_response: dict[str, float] = {}
        self.assignee: dict[str, str] = {}
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.background: set[asyncio.Task[None]] = set()
        self.begin = self.last_ack = self.last_delivery = time.monotonic()

    def _error(self, what: str) -> None:
        self.m.errors[what] = self.m.errors.get(what, 0) + 1

    async def agent_socket(self, http: aiohttp.ClientSession, token: str) -> None:
        try:
            ws = await http.ws_connect(
                self.agent_socket_url.with_query(token=token),
                headers={SHARD_HEADER: str(self.shard)},
                max_msg_size=0,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._error(f"agent socket {type(exc).__name__}")
            return
        self.sockets.append(ws)
        present = asyncio.create_task(self.keep_present(ws))
        try:
            async for frame in ws:
                if frame.type == aiohttp.WSMsgType.TEXT:
                    self.on_frame(frame.data, http)
        finally:
            present.cancel()

    async def keep_present(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Heartbeats as the dashboard sends them: without them, a step longer than the router's heartbeat
        timeout plus grace period sees every agent go offline and every chat go back to the queue."""
        while not ws.closed:
            await ws.send_str(HEARTBEAT)
            await asyncio.sleep(HEARTBEAT_SECONDS)

    def on_frame(self, raw: str, http: aiohttp.ClientSession) -> None:
        now = time.monotonic()
        # Every agent socket may get every event of the tenant: find this run's messages without parsing.
        start = raw.find(self.marker)
        if start >= 0 and "message_posted" in raw:
            start += len(self.marker)
            pending = self.pending.pop(int(raw[start : raw.index(" ", start)]), None)
            if pending is not None:  # first agent socket to see it measures it
                self.m.delivered += 1
                self.last_delivery = now
                self.m.latencies_ms.append(round((now - pending.due) * 1000, 1))
                agent_id = self.assignee.get(pending.conversation_id)
                if pending.answer and agent_id is not None:
                    task = asyncio.create_task(
                        self.reply(http, pending.conversation_id, self.tokens[agent_id])
                    )
                    self.background.add(task)
                    task.add_done_callback(self.background.discard)
        elif "assignment_decided" in raw:
            event = json.loads(raw)["event"]
            if event["payload"]["outcome"] == "assigned":
                conversation_id = event["aggregate_id"]
                self.assignee[conversation_id] = event["payload"]["agent_id"]
                started = self.started_at.pop(conversation_id, None)
                if started is not None:
                    self.m.assignment_ms.append(round((now - started) * 1000, 1))
                else:
                    self.assigned_before_response.setdefault(conversation_id, now)

    async def reply(self, http: aiohttp.ClientSession, conversation_id: str, token: str) -> None:
        try:
            async with http.post(
                self.reply_url / conversation_id / "messages",
                data=b'{"text": "Thanks, looking into it"}',
                headers={**JSON, "Authorization": f"Bearer {token}"},
            ) as response:
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._error(f"reply {type(exc).__name__}")
            return
        if response.status == 201:
            self.m.replies += 1
        else:
            self._error(f"reply {response.status}")

    async def start_conversation(
        self, http: aiohttp.ClientSession, name: str, visitor: asyncio.Future[Visitor | None]
    ) -> None:
        started = time.monotonic()
        try:
            async with http.post(
                self.start_url,
                data=json.dumps({"name": name}).encode(),
                headers={**JSON, SHARD_HEADER: str(self.shard)},
            ) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._error(f"start {type(exc).__name__}")
            visitor.set_result(None)
            return
        if response.status != 201:
            self._error(f"start {response.status}")
            visitor.set_result(None)
            return
        started_json = json.loads(body)
        conversation_id = started_json["conversation_id"]
        assigned = self.assigned_before_response.pop(conversation_id, None)
        if assigned is not None:
            self.m.assignment_ms.append(round((assigned - started) * 1000, 1))
        else:
            self.started_at[conversation_id] = started
        self.m.conversations += 1
        visitor.set_result(
            (conversation_id, {**JSON, "Authorization": f"Bearer {started_json['visitor_token']}"})
        )

    def new_visitor(self, http: aiohttp.ClientSession, name: str) -> asyncio.Task[None]:
        visitor: asyncio.Future[Visitor | None] = asyncio.get_running_loop().create_future()
        self.visitors.append(visitor)
        return asyncio.create_task(self.start_conversation(http, name, visitor))

    async def post(
        self,
        http: aiohttp.ClientSession,
        number: int,
        due: float,
        visitor: asyncio.Future[Visitor | None],
        answer: bool,
    ) -> None:
        self.m.send_delay_ms.append(round(max(time.monotonic() - due, 0) * 1000, 1))
        started = await visitor  # a visitor writes once their chat has started
        if started is None:
            self.m.failed += 1
            self._error("post: the conversation did not start")
            return
        conversation_id, headers = started
        self.m.sent += 1
        self.pending[number] = Pending(due, conversation_id, answer)
        try:
            async with http.post(
                self.messages_url,
                data=f'{{"text": "{self.marker}{number} {MESSAGE_PADDING}"}}'.encode(),
                headers=headers,
            ) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.pending.pop(number, None)
            self.m.failed += 1
            self._error(type(exc).__name__)
            return
        if response.status != 201:
            self.pending.pop(number, None)
            self.m.failed += 1
            self._error(f"post {response.status}")
            return
        self.m.acknowledged += 1
        self.last_ack = time.monotonic()
        if number % self.lag_sample_every == 0:
            await self.measure_projection_lag(http, headers, json.loads(body)["events"][-1]["position"])

    async def measure_projection_lag(
        self, http: aiohttp.ClientSession, headers: dict[str, str], position: int
    ) -> None:
        """From the broker's acknowledgement to the conversation view having applied the message. The probe
        is an `_id` lookup, so measuring does not load the database it measures."""
        acknowledged = time.monotonic()
        deadline = acknowledged + 30
        while time.monotonic() < deadline:
            try:
                async with http.get(self.conversation_url, headers=headers) as response:
                    body = await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                self._error(f"lag probe {type(exc).__name__}")
                return
            if response.status == 200 and (json.loads(body).get("position") or -1) >= position:
                self.m.projection_lag_ms.append(round((time.monotonic() - acknowledged) * 1000, 1))
                return
            # Every 20 ms at first, then a fifth of the lag so far: precise when fast, and when far behind
            # neither the probes nor their load on the gateway and the database pile up.
            await asyncio.sleep(max(0.02, 0.2 * (time.monotonic() - acknowledged)))
        self._error("projection lag > 30 s")

    async def run(self, ready: Barrier | None) -> dict[str, Any]:
        cpu_began = time.process_time()
        args = self.args
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=CONNECTIONS_PER_PROCESS),
            timeout=aiohttp.ClientTimeout(total=30),
            cookie_jar=aiohttp.DummyCookieJar(),  # no cookies here: skip their bookkeeping on every request
            auto_decompress=False,
        ) as http:
            # Each process holds its own agents' sockets; Parley pushes every event to every one of them.
            mine = [agent["token"] for agent in args.agents[self.shard :: self.shards]]
            sockets = [asyncio.create_task(self.agent_socket(http, token)) for token in mine]
            await asyncio.sleep(1.0)  # let the sockets connect
            initial = -(-args.initial_conversations // self.shards)
            await asyncio.gather(
                *(self.new_visitor(http, f"Visitor {self.shard}-{n}") for n in range(initial))
            )
            if ready is not None:  # every worker starts its schedule at the same moment
                await asyncio.get_running_loop().run_in_executor(None, ready.wait, 120)
            tasks = await self.follow_schedule(http)
            await asyncio.gather(*tasks)
            settle = time.monotonic() + args.settle
            # Polled, not awaited on an event: the sockets remove pending messages from many places.
            while self.pending and time.monotonic() < settle:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            await asyncio.gather(*self.background, return_exceptions=True)
            for ws in self.sockets:
                await ws.close()
            await asyncio.gather(*sockets, return_exceptions=True)
        # Rates are over the time the load was actually flowing, not the settle wait after it.
        return {
            **self.m.__dict__,
            "elapsed_s": time.monotonic() - self.begin,
            "ack_window_s": self.last_ack - self.begin,
            "delivery_window_s": self.last_delivery - self.begin,
            "cpu_s": time.process_time() - cpu_began,
            "processes": 1,
        }

    async def follow_schedule(self, http: aiohttp.ClientSession) -> list[asyncio.Task[None]]:
        """Message g of the whole schedule is due at g / rate; this worker sends g = shard, shard + shards..."""
        rate, duration = self.args.rate, self.args.duration
        tasks: list[asyncio.Task[None]] = []
        self.begin = self.last_ack = self.last_delivery = time.monotonic()
        number = self.shard
        while number / rate < duration:
            due = self.begin + number / rate
            if (delay := due - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            if self.random.random() < self.args.new_conversation_share:
                tasks.append(self.new_visitor(http, f"Visitor {self.shard}-{number}"))
            # Drawn here, in schedule order: a task's own draws would follow the event loop's timing.
            visitor = self.visitors[self.random.randrange(len(self.visitors))]
            answer = self.random.random() < self.args.reply_share
            tasks.append(asyncio.create_task(self.post(http, number, due, visitor, answer)))
            number += self.shards
        return tasks


def run_worker(args: argparse.Namespace, shard: int, ready: Barrier | None, output: Path) -> None:
    # uvloop, as uvicorn uses on the other side: the event loop's own overhead is a good share of the cost.
    output.write_text(json.dumps(uvloop.run(Worker(args, shard).run(ready))))


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from the workers': counts and samples added up, windows the longest."""
    merged: dict[str, Any] = {}
    for result in results:
        for key, value in result.items():
            if key.endswith("_s") and key != "cpu_s":
                merged[key] = max(merged.get(key, 0.0), value)
            elif isinstance(value, dict):
                into = merged.setdefault(key, {})
                for name, count in value.items():
                    into[name] = into.get(name, 0) + count
            else:
                merged[key] = merged[key] + value if key in merged else value
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("--base-url", required=True, help="Parley's gateway or the bare pipeline's")
    parser.add_argument("--agents-json", required=True, help="JSON list of {id, token}")
    parser.add_argument("--rate", type=float, required=True, help="offered visitor messages per second")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--processes", type=int, default=1, help="worker processes sharing the rate")
    parser.add_argument("--output", type=Path, required=True, help="where to write the JSON result")
    parser.add_argument("--initial-conversations", type=int, default=30)
    parser.add_argument("--new-conversation-share", type=float, default=0.03)
    parser.add_argument("--reply-share", type=float, default=0.3)
    parser.add_argument(
        "--lag-sample-every", type=int, default=4, help="probe the projection lag after every n-th message"
    )
    parser.add_argument(
        "--lag-samples-per-s", type=float, default=12.5, help="but at most this many probes a second"
    )
    parser.add_argument("--settle", type=float, default=10)
    args = parser.parse_args()
    args.agents = json.loads(args.agents_json)
    if args.initial_conversations < args.processes:
        parser.error("every process needs at least one initial conversation")
    if not 1 <= args.processes <= len(args.agents):
        parser.error("--processes must be between 1 and the number of agents (each process holds some)")
    if args.processes == 1:
        run_worker(args, 0, None, args.output)
        return
    # Forked after the imports, so each worker starts at once; the parent only waits and merges.
    context = multiprocessing.get_context("fork")
    ready = context.Barrier(args.processes)
    outputs = [args.output.with_name(f"{args.output.name}.{shard}") for shard in range(args.processes)]
    workers = [
        context.Process(target=run_worker, args=(args, shard, ready, outputs[shard]))
        for shard in range(args.processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if any(worker.exitcode for worker in workers):
        raise SystemExit(f"a load worker failed: exit codes {[worker.exitcode for worker in workers]}")
    args.output.write_text(json.dumps(merge([json.loads(path.read_text()) for path in outputs])))
    for path in outputs:
        path.unlink()


if __name__ == "__main__":
    main()
