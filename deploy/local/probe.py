"""Readiness probe for the local infrastructure: a real client round trip, not a port check.

Usage: probe.py kafka|mongodb|postgres [--timeout SECONDS] [--pid PID]. Exits 0 once the server answers, 1 on
timeout, or at once if the server's process (PID) has exited: a server that cannot start is not waited for.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import struct
import sys
import time


async def kafka_ready(bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.list_topics()
        # A new broker creates its group coordinator's topic only when a group first asks for it; until it is
        # led, every consumer group logs GroupCoordinatorNotAvailableError (at error level) and retries.
        await admin.find_coordinator("parley-probe")
        (offsets_topic,) = await admin.describe_topics(["__consumer_offsets"])
        partitions = offsets_topic["partitions"]
        if offsets_topic["error_code"] or not partitions or any(p["leader"] < 0 for p in partitions):
            raise RuntimeError("the group coordinator's partitions have no leader yet")
    finally:
        await admin.close()


async def mongodb_ready(uri: str) -> None:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=3000)
    try:
        await client.admin.command("ping")
    finally:
        await client.close()


async def postgres_ready(host: str, port: int) -> None:
    """A PostgreSQL session start-up (protocol 3.0, trust authentication) until ReadyForQuery; no driver needed.
    While the server starts or recovers it answers with an error ("the database system is starting up")."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 3)
    try:
        params = b"user\0postgres\0database\0postgres\0application_name\0parley-probe\0\0"
        writer.write(struct.pack("!ii", 8 + len(params), 196608) + params)
        await writer.drain()
        while True:
            kind, length = struct.unpack("!ci", await asyncio.wait_for(reader.readexactly(5), 3))
            body = await asyncio.wait_for(reader.readexactly(length - 4), 3)
            if kind == b"E":
                fields = dict((f[:1], f[1:]) for f in body.split(b"\0") if f)
                raise ConnectionError(fields.get(b"M", body).decode(errors="replace"))
            if kind == b"R" and struct.unpack("!i", body[:4])[0] != 0:
                raise ConnectionError(
                    "the server asks for a password; the local cluster should trust loopback"
                )
            if kind == b"Z":
                writer.write(b"X\0\0\0\4")  # Terminate
                return
    finally:
        writer.close()


def exited(pid: int) -> bool:
    """Whether the process has ended (a zombie counts: it only waits for its parent to reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


async def wait(kind: str, timeout: float, pid: int | None = None) -> bool:
    # The client libraries log every refused connection while the server boots; the timeout message says enough.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if pid is not None and exited(pid):
            print(
                f"{kind} not ready: its process {pid} has exited ({last_error or 'no answer'})",
                file=sys.stderr,
            )
            return False
        try:
            if kind == "kafka":
                await kafka_ready(os.environ.get("PARLEY_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
            elif kind == "postgres":
                await postgres_ready(
                    os.environ.get("PARLEY_POSTGRES_HOST", "127.0.0.1"),
                    int(os.environ.get("PARLEY_POSTGRES_PORT", "5442")),
                )
            else:
                await mongodb_ready(os.environ.get("PARLEY_MONGODB_URI", "mongodb://127.0.0.1:27017"))
            return True
        except Exception as exc:  # any failure means "not ready yet"; the last one is reported on timeout
            last_error = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(0.5)
    print(f"{kind} not ready after {timeout:.0f}s: {last_error}", file=sys.stderr)
    return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["kafka", "mongodb", "postgres"])
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--pid", type=int, help="the server's process: stop waiting once it has exited")
    args = parser.parse_args()
    try:
        ready = asyncio.run(wait(args.kind, args.timeout, args.pid))
    except KeyboardInterrupt:
        # Ctrl-C while waiting: end by SIGINT like any command, without a traceback, so infra.sh stops too.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        raise
    sys.exit(0 if ready else 1)


if __name__ == "__main__":
    main()
