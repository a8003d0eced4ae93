"""Ctrl-C on `make run` in a terminal: the command stops, then the Kafka, FerretDB and PostgreSQL it started,
and make exits 0.

GNU make runs a small Makefile like the real one on a pseudo-terminal of its own, and the test types Ctrl-C.
The servers come from the local install `make test` already has, started on other ports from a folder of their
own, so the infrastructure the rest of the suite uses is never touched.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.probe import exited
from tests.infrastructure import Infrastructure
from tests.processes import REPO_ROOT, free_port

pytestmark = pytest.mark.e2e

INSTALLED = Path(os.environ.get("PARLEY_LOCAL_DIR", REPO_ROOT / ".local"))
WITH_INFRA = REPO_ROOT / "deploy" / "local" / "with-infra.sh"
INFRA = str(REPO_ROOT / "deploy" / "local" / "infra.sh")
# Makes the pseudo-terminal the controlling terminal of the new session, then runs the command (make).
TAKE_TERMINAL = "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); os.execvp(sys.argv[1], sys.argv[1:])"


def _versions() -> tuple[str, str]:
    pom = (REPO_ROOT / "deploy/local/kafka/pom.xml").read_text()
    go_mod = (REPO_ROOT / "deploy/local/ferretdb/go.mod").read_text()
    kafka = re.search(r"<kafka.version>(.*)</kafka.version>", pom)
    ferretdb = re.search(r"github.com/FerretDB/FerretDB (v[0-9.]+)", go_mod)
    assert kafka and ferretdb
    return kafka.group(1), ferretdb.group(1)


@pytest.fixture
def local_dir() -> Iterator[Path]:
    """A local folder whose Kafka and FerretDB are the installed ones, with its own config, data and PID files.
    It lies in the installed folder rather than under /tmp/pytest-of-<user> (mode 700): the postgres system user
    that runs the PostgreSQL cluster when the tests run as root must be able to reach its data."""
    kafka_version, ferretdb_version = _versions()
    kafka, ferretdb = INSTALLED / "kafka", INSTALLED / "bin" / "ferretdb"
    if (
        not (kafka / f".installed-{kafka_version}").exists()
        or not Path(f"{ferretdb}.{ferretdb_version}").exists()
    ):
        pytest.skip(f"needs Kafka and FerretDB installed in {INSTALLED} (make setup)")
    local = INSTALLED / "tests" / uuid.uuid4().hex[:10]
    (local / "kafka").mkdir(parents=True)
    (local / "bin").mkdir()
    (local / "kafka" / "libs").symlink_to(kafka / "libs")
    shutil.copy(kafka / "log4j2.properties", local / "kafka")
    (local / "kafka" / f".installed-{kafka_version}").touch()
    (local / "bin" / "ferretdb").symlink_to(ferretdb)
    (local / "bin" / f"ferretdb.{ferretdb_version}").touch()
    yield local
    shutil.rmtree(local, ignore_errors=True)


def _env(local: Path, **extra: str) -> dict[str, str]:
    # Nothing of the outer `make test` leaks in: not its servers' addresses, not its make's jobserver.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PARLEY_") and key not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    }
    env.update(PARLEY_LOCAL_DIR=str(local), PARLEY_PYTHON=sys.executable, **extra)
    return env


class Terminal:
    """A command run by GNU make as the only job of a pseudo-terminal: what a developer's shell does."""

    def __init__(self, makefile: Path, target: str, env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        self.output = ""
        command = ["make", "--no-print-directory", "-f", str(makefile), target]
        self.make = subprocess.Popen(
            [sys.executable, "-c", TAKE_TERMINAL, *command],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=makefile.parent,
            start_new_session=True,
        )
        os.close(slave)

    def read_until(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {text!r} after {timeout:.0f}s:\n{self.output}"
            assert self._read(remaining), f"the terminal closed before {text!r}:\n{self.output}"

    def _read(self, timeout: float) -> bool:
        """Adds what the terminal shows within `timeout` (at most a second) to the output; False once it closed."""
        if select.select([self.master], [], [], min(timeout, 1.0))[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every process that had the terminal open has ended
                return False
            self.output += chunk.decode(errors="replace")
            return bool(chunk)
        return True

    def ctrl_c(self) -> None:
        os.write(self.master, b"\x03")

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.make.poll() is None:
            assert time.monotonic() < deadline, f"make runs {timeout:.0f}s after Ctrl-C:\n{self.output}"
            self._read(0.2)
        while select.select([self.master], [], [], 0.2)[0] and self._read(0):
            pass
        return self.make.returncode

    def close(self) -> None:
        if self.make.poll() is None:
            os.killpg(self.make.pid, 9)
            self.make.wait()
        os.close(self.master)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def _write_makefile(directory: Path, target: str, with_infra_args: str) -> Path:
    makefile = directory / "Makefile"
    makefile.write_text(f"{target}:\n\t@{WITH_INFRA} {with_infra_args}\n")
    return makefile


def test_ctrl_c_on_make_run_stops_the_command_then_the_servers_it_started_and_exits_0(
    local_dir: Path, terminals: list[Terminal]
) -> None:
    env = _env(
        local_dir,
        PARLEY_KAFKA_PORT=str(free_port()),
        PARLEY_KAFKA_CONTROLLER_PORT=str(free_port()),
        PARLEY_MONGODB_PORT=str(free_port()),
        PARLEY_POSTGRES_PORT=str(free_port()),
        PARLEY_KAFKA_HEAP="-Xms128m -Xmx384m",
        PARLEY_INFRA_TIMEOUT="60",
    )
    makefile = _write_makefile(local_dir, "run", "--stop-on-interrupt sleep 120")
    terminal = Terminal(makefile, "run", env)
    terminals.append(terminal)
    try:
        terminal.read_until("Infrastructure ready", timeout=90)
        pids = {
            name: int((local_dir / "run" / f"{name}.pid").read_text())
            for name in ("kafka", "ferretdb", "postgres")
        }
        # Each server leads a session of its own: the terminal's Ctrl-C cannot reach it.
        assert {name: os.getsid(pid) for name, pid in pids.items()} == pids
        time.sleep(0.5)  # the command has started
        terminal.ctrl_c()
        status = terminal.wait(timeout=60)
    finally:
        # Whatever happened, nothing started here outlives the test.
        subprocess.run(["bash", INFRA, "down"], env=env, capture_output=True, check=False)
    output = terminal.output
    assert status == 0, output
    assert output.count("Kafka stopped") == 1, output
    assert output.count("FerretDB stopped") == 1, output
    assert output.count("PostgreSQL stopped") == 1, output
    assert "not running" not in output, output
    assert "Error" not in output, output
    assert not [name for name, pid in pids.items() if not exited(pid)], output


def test_ctrl_c_on_make_test_is_not_a_success_and_leaves_servers_it_did_not_start(
    local_dir: Path, terminals: list[Terminal], infrastructure: Infrastructure
) -> None:
    # The servers are "already running" (stand-in processes), so nothing is started and nothing may be stopped;
    # the readiness probes ask the suite's own servers.
    stand_ins = [subprocess.Popen(["sleep", "120"]) for _ in range(3)]
    try:
        (local_dir / "run").mkdir()
        for name, process in zip(("kafka", "ferretdb", "postgres"), stand_ins, strict=True):
            (local_dir / "run" / f"{name}.pid").write_text(f"{process.pid}\n")
        env = _env(
            local_dir,
            PARLEY_KAFKA_BOOTSTRAP=infrastructure.kafka_bootstrap,
            PARLEY_MONGODB_URI=infrastructure.mongodb_uri,
            # The suite's own PostgreSQL (exported by the scripts that started it; 5442 is their default).
            PARLEY_POSTGRES_PORT=os.environ.get("PARLEY_POSTGRES_PORT", "5442"),
        )
        terminal = Terminal(_write_makefile(local_dir, "test", "sleep 120"), "test", env)
        terminals.append(terminal)
        terminal.read_until("Infrastructure ready", timeout=60)
        time.sleep(0.5)
        terminal.ctrl_c()
        status = terminal.wait(timeout=30)
        assert status == 2, terminal.output  # make's status for a recipe that failed
        assert "Error 130" in terminal.output, terminal.output
        assert "Stopping" not in terminal.output, terminal.output
        assert all(process.poll() is None for process in stand_ins)
    finally:
        for process in stand_ins:
            process.kill()
            process.wait()
