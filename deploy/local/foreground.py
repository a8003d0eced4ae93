"""Runs a command as the terminal's foreground job, in a process group of its own that Ctrl-C reaches.

Usage: foreground.py COMMAND [ARGS...]   (deploy/local/with-infra.sh starts itself through this)

Ctrl-C sends SIGINT to the terminal's whole foreground process group, and GNU make is in it when it runs a
recipe. make answers a SIGINT by waiting for the recipe and then killing itself with SIGINT, so `make run`
stopped cleanly would still end with status 130. As the terminal's foreground job the command alone gets
Ctrl-C (and Ctrl-Z), as if an interactive shell had started it; make just sees how it ended.

Signals sent to this process (make passes SIGTERM on to its recipe) are passed on to the job's process
group. Ctrl-Z stops the job, then this process and make, so the shell takes the terminal back; `fg`
continues them. The exit status is the job's, or 128 + N when signal N ended it.

Without a terminal in the foreground (CI, `make run &`) there is no Ctrl-C to steer: the command simply
replaces this process and stays in make's process group, so whatever stops that group stops it too.
The command finds PARLEY_FOREGROUND_JOB=1 in its environment either way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import NoReturn

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def foreground_terminal() -> int | None:
    """The controlling terminal, when this process is in its foreground process group; otherwise None."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None
    with contextlib.suppress(OSError):
        if os.tcgetpgrp(fd) == os.getpgrp():
            return fd
    os.close(fd)
    return None


def hand_terminal(fd: int, pgrp: int) -> None:
    # Outside the foreground process group, tcsetpgrp raises SIGTTOU unless that is ignored.
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(fd, pgrp)
    finally:
        signal.signal(signal.SIGTTOU, previous)


def run_command(argv: list[str]) -> NoReturn:
    # Python ignores SIGPIPE and SIGXFSZ, and exec keeps what is ignored: the command gets the defaults back.
    # Python's own handlers (SIGINT) are reset by exec, as are the signals a job's parent blocks around fork.
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"foreground.py: {argv[0]}: {exc}", file=sys.stderr)
    os._exit(127)


def start_job(argv: list[str], tty: int) -> int:
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        hand_terminal(tty, os.getpgrp())
        run_command(argv)
    # Both sides set the group and hand it the terminal, so neither waits on the other.
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    hand_terminal(tty, pid)
    return pid


def main() -> None:
    argv = sys.argv[1:]
    if not argv:
        sys.exit("usage: foreground.py COMMAND [ARGS...]")
    os.environ["PARLEY_FOREGROUND_JOB"] = "1"
    tty = foreground_terminal()
    if tty is None:
        run_command(argv)
    own_group = os.getpgrp()
    # Signals that arrive before the handlers are in place wait instead of ending this process alone.
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    job = start_job(argv, tty)

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job, signum)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)

    while True:
        _, status = os.waitpid(job, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            break
        # Ctrl-Z: take the terminal back and stop make with us, so the shell sees a stopped job.
        hand_terminal(tty, own_group)
        os.killpg(own_group, signal.SIGTSTP)
        # Continued (`fg` or `bg`): the job follows, in the foreground only if we are.
        with contextlib.suppress(OSError):
            if os.tcgetpgrp(tty) == own_group:
                hand_terminal(tty, job)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job, signal.SIGCONT)

    with contextlib.suppress(OSError):
        if os.tcgetpgrp(tty) == job:
            hand_terminal(tty, own_group)
    code = os.waitstatus_to_exitcode(status)
    sys.exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main()
