"""A routing worker as its own process for integration tests: restartable on the same topics and group."""

from __future__ import annotations

from pathlib import Path

from shared.settings import ParleySettings
from tests.processes import ServiceProcess, free_port


class RoutingWorker:
    def __init__(
        self, name: str, settings: ParleySettings, log_dir: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.settings = settings
        self.log_dir = log_dir
        self.env = env or {}
        self.starts = 0
        self.process: ServiceProcess | None = None
        self.base = ""

    def start(self) -> None:
        port = free_port()
        env = {
            "PARLEY_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap,
            "PARLEY_TOPIC_PREFIX": self.settings.topic_prefix,
            "PARLEY_KAFKA_PARTITIONS": str(self.settings.kafka_partitions),
            # faust's rebalance and recovery lines: what a failure needs to be understood.
            "PARLEY_LIBRARY_LOG_LEVEL": "INFO",
            **self.env,
            "PARLEY_PORT": str(port),
        }
        self.starts += 1
        self.process = ServiceProcess("services.routing", env, self._log(self.starts))
        self.base = f"http://127.0.0.1:{port}"
        # Ready: joined the group and recovered the table, so facts sent now meet a routing worker.
        self.process.wait_http_ready(f"{self.base}/readyz")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as in a crash."""
        assert self.process is not None
        self.process.kill()
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def log_tail(self, lines: int = 40) -> str:
        """The end of each start's log, for an assertion message."""
        parts = []
        for start in range(1, self.starts + 1):
            path = self._log(start)
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            parts.append(f"--- {self.name} start {start} ---\n" + "\n".join(line[:300] for line in text))
        return "\n".join(parts)

    def _log(self, start: int) -> Path:
        return self.log_dir / f"{self.name}-{start}.log"
