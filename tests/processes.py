"""Run Parley services as real processes for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from shared.settings import ParleySettings

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_env(settings: ParleySettings, port: int) -> dict[str, str]:
    """The environment that points a service process at the test's broker, database and topics."""
    return {
        "PARLEY_PORT": str(port),
        "PARLEY_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PARLEY_MONGODB_URI": settings.mongodb_uri,
        "PARLEY_MONGODB_DATABASE": settings.mongodb_database,
        "PARLEY_TOPIC_PREFIX": settings.topic_prefix,
    }


def run_replay(
    module: str, prefix: str, env: Mapping[str, str], *, timeout: float
) -> subprocess.CompletedProcess[str]:
    """`python -m <module> replay --prefix <prefix>` against the stack `env` names, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", module, "replay", "--prefix", prefix],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class ServiceProcess:
    def __init__(self, module: str, env: Mapping[str, str], log_path: Path, *args: str) -> None:
        self.module = module
        self.port = int(env["PARLEY_PORT"]) if "PARLEY_PORT" in env else None
        self.log_path = log_path
        self._command = [sys.executable, "-m", module, *args]
        # Unbuffered: the log file has every line up to this moment, for a failed test's report and a crash.
        self._env = {**os.environ, **env, "PARLEY_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"}
        self._log = log_path.open("ab")
        self.proc = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self._command, cwd=REPO_ROOT, env=self._env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def crash_and_restart(self) -> None:
        """SIGKILL (no clean shutdown, as in a crash), then start again with the same settings and port."""
        self.proc.kill()
        self.proc.wait()
        self.proc = self._spawn()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_http_ready(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{self.module} not ready at {url} after {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as in a crash."""
        self.proc.kill()
        self.proc.wait()
        self._log.close()
