"""The load process: simulated visitors over HTTP and agents over WebSocket, public interfaces only.

Run by `python -m bench` once per offered load; prints one JSON object of raw measurements on stdout.
Deterministic given --seed (who writes when, what they write); timings are of course the machine's own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass, field

import httpx
import websockets

MESSAGE_PADDING = "x" * 180  # a chat line of a realistic size (~250 bytes of text)


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
    errors: dict[str, int] = field(default_factory=dict)


class Load:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.base = args.base_url
        self.ws_base = self.base.replace("http://", "ws://")
        self.random = random.Random(args.seed)
        self.m = Measurements()
        self.sent_at: dict[str, float] = {}
        self.started_at: dict[str, float] = {}
        # Decisions that arrived over a socket before the start request's own response did: the router can
        # assign faster than the HTTP response makes its way back, and those are the fastest samples.
        self.assigned_before_response: dict[str, float] = {}
        self.assignee: dict[str, str] = {}
        self.visitors: list[tuple[str, str]] = []  # (conversation id, token)
        self.http = httpx.AsyncClient(
            base_url=self.base, timeout=30, limits=httpx.Limits(max_connections=200)
        )
        self.stop = asyncio.Event()
        self.begin = self.last_ack = self.last_delivery = time.monotonic()
        self.background: set[asyncio.Task[None]] = set()

    def _error(self, what: str) -> None:
        self.m.errors[what] = self.m.errors.get(what, 0) + 1

    async def agent_socket(self, agent_id: str, token: str) -> None:
        async with websockets.connect(f"{self.ws_base}/ws/agent?token={token}", max_size=2**22) as ws:
            await ws.send(json.dumps({"type": "heartbeat", "status": "available"}))
            while not self.stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                now = time.monotonic()
                message = json.loads(raw)
                event = message.get("event") or {}
                kind = event.get("type")
                if kind == "conversation.message_posted" and event["actor"]["kind"] == "visitor":
                    marker = event["payload"]["text"].split(" ", 1)[0]
                    sent = self.sent_at.pop(marker, None)
                    if sent is not None:  # first agent socket to see it measures it
                        self.m.delivered += 1
                        self.last_delivery = now
                        self.m.latencies_ms.append((now - sent) * 1000)
                        conversation_id = event["aggregate_id"]
                        if (
                            self.assignee.get(conversation_id) == agent_id
                            and self.random.random() < self.args.reply_share
                        ):
                            self.background.add(asyncio.create_task(self.reply(conversation_id, token)))
                elif kind == "conversation.assignment_decided" and event["payload"]["outcome"] == "assigned":
                    conversation_id = event["aggregate_id"]
                    self.assignee[conversation_id] = event["payload"]["agent_id"]
                    started = self.started_at.pop(conversation_id, None)
                    if started is not None:
                        self.m.assignment_ms.append((now - started) * 1000)
                    else:
                        self.assigned_before_response.setdefault(conversation_id, now)

    async def reply(self, conversation_id: str, token: str) -> None:
        response = await self.http.post(
            f"/api/agent/conversations/{conversation_id}/messages",
            json={"text": "Thanks, looking into it"},
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status_code == 201:
            self.m.replies += 1
        else:
            self._error(f"reply {response.status_code}")

    async def start_conversation(self, n: int) -> None:
        started = time.monotonic()
        response = await self.http.post("/api/visitor/conversations", json={"name": f"Visitor {n}"})
        if response.status_code != 201:
            self._error(f"start {response.status_code}")
            return
        body = response.json()
        assigned = self.assigned_before_response.pop(body["conversation_id"], None)
        if assigned is not None:
            self.m.assignment_ms.append((assigned - started) * 1000)
        else:
            self.started_at[body["conversation_id"]] = started
        self.visitors.append((body["conversation_id"], body["visitor_token"]))
        self.m.conversations += 1

    async def post(self, n: int, sample_lag: bool) -> None:
        _, token = self.visitors[self.random.randrange(len(self.visitors))]
        marker = f"m{self.args.seed}-{n}"
        self.sent_at[marker] = time.monotonic()
        self.m.sent += 1
        try:
            response = await self.http.post(
                "/api/visitor/conversation/messages",
                json={"text": f"{marker} {MESSAGE_PADDING}"},
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            self.sent_at.pop(marker, None)
            self.m.failed += 1
            self._error(type(exc).__name__)
            return
        if response.status_code != 201:
            self.sent_at.pop(marker, None)
            self.m.failed += 1
            self._error(f"post {response.status_code}")
            return
        self.m.acknowledged += 1
        self.last_ack = time.monotonic()
        if sample_lag:
            position = response.json()["events"][-1]["position"]
            await self.measure_projection_lag(token, position)

    async def measure_projection_lag(self, token: str, position: int) -> None:
        """From the broker's acknowledgement to the conversation view having applied the message. The probe
        is an `_id` lookup, so measuring does not load the database it measures."""
        acknowledged = time.monotonic()
        deadline = acknowledged + 30
        while time.monotonic() < deadline:
            response = await self.http.get(
                "/api/visitor/conversation", headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code == 200 and (response.json().get("position") or -1) >= position:
                self.m.projection_lag_ms.append((time.monotonic() - acknowledged) * 1000)
                return
            await asyncio.sleep(0.02)
        self._error("projection lag > 30 s")

    async def run(self) -> Measurements:
        sockets = [asyncio.create_task(self.agent_socket(a["id"], a["token"])) for a in self.args.agents]
        await asyncio.sleep(1.0)  # let sockets connect
        await asyncio.gather(*(self.start_conversation(n) for n in range(self.args.initial_conversations)))
        rate, duration = self.args.rate, self.args.duration
        tasks: list[asyncio.Task[None]] = []
        begin = self.begin = time.monotonic()
        n = 0
        while (elapsed := time.monotonic() - begin) < duration:
            due = int(elapsed * rate)
            while n < due:
                if self.random.random() < self.args.new_conversation_share:
                    tasks.append(asyncio.create_task(self.start_conversation(10_000 + n)))
                tasks.append(
                    asyncio.create_task(self.post(n, sample_lag=n % self.args.lag_sample_every == 0))
                )
                n += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*tasks)
        settle = time.monotonic() + self.args.settle
        # Polled, not awaited on an event: the sockets remove markers from many places.
        while self.sent_at and time.monotonic() < settle:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        await asyncio.gather(*self.background, return_exceptions=True)
        self.stop.set()
        await asyncio.gather(*sockets, return_exceptions=True)
        await self.http.aclose()
        self.elapsed = time.monotonic() - begin
        return self.m


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--agents-json", required=True, help="JSON list of {id, token}")
    parser.add_argument("--rate", type=float, required=True, help="offered visitor messages per second")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--initial-conversations", type=int, default=30)
    parser.add_argument("--new-conversation-share", type=float, default=0.03)
    parser.add_argument("--reply-share", type=float, default=0.3)
    parser.add_argument("--lag-sample-every", type=int, default=25)
    parser.add_argument("--settle", type=float, default=10)
    args = parser.parse_args()
    args.agents = json.loads(args.agents_json)
    load = Load(args)
    m = asyncio.run(load.run())
    # Rates are over the time the load was actually flowing, not the settle wait after it.
    windows = {
        "ack_window_s": load.last_ack - load.begin,
        "delivery_window_s": load.last_delivery - load.begin,
    }
    print(json.dumps({**m.__dict__, "elapsed_s": load.elapsed, "offered_rate": args.rate, **windows}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
