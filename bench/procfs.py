"""CPU time and memory of a process and everything it started, read from /proc.

A process is measured with its whole tree so that a server that works through child processes is counted in
full: PostgreSQL's postmaster does little itself, its backends (one per connection) do the queries, and the
load generator may run as several worker processes.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Sample:
    parent: int
    # Own user + system time plus that of the children it has reaped (cutime + cstime), in clock ticks.
    cpu_ticks: int
    rss_pages: int


def _sample(pid: int) -> Sample:
    # The command name (field 2) may hold spaces and parentheses: split after its closing one, so that
    # fields[0] is field 3 of proc(5).
    fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return Sample(
        parent=int(fields[1]), cpu_ticks=sum(int(v) for v in fields[11:15]), rss_pages=int(fields[21])
    )


class ProcessTable:
    """One read of every process's /proc/<pid>/stat: a consistent view to measure several trees from.

    The whole of /proc is read because the kernel's per-task `children` file is not built into every kernel.
    """

    def __init__(self) -> None:
        self.samples: dict[int, Sample] = {}
        self.children: dict[int, list[int]] = defaultdict(list)
        for entry in PROC.iterdir():
            if entry.name.isdigit():
                try:
                    sample = _sample(int(entry.name))
                except (FileNotFoundError, ProcessLookupError):
                    continue  # exited while we looked
                self.samples[int(entry.name)] = sample
                self.children[sample.parent].append(int(entry.name))

    def tree(self, pid: int) -> list[int]:
        """`pid` and its live children, their children, and so on; empty if `pid` is gone."""
        if pid not in self.samples:
            return []
        found, pending = [pid], list(self.children.get(pid, ()))
        while pending:
            child = pending.pop()
            found.append(child)
            pending.extend(self.children.get(child, ()))
        return found

    def cpu_seconds(self, pid: int) -> float | None:
        """User + system CPU of `pid` and all its descendants, including those that already exited: a
        PostgreSQL backend that served a connection and exited is still counted, in its postmaster's
        cutime. None if `pid` is gone."""
        members = self.tree(pid)
        if not members:
            return None
        return sum(self.samples[member].cpu_ticks for member in members) / TICKS_PER_SECOND

    def rss_mb(self, pid: int) -> float:
        """Resident memory of `pid` and its live descendants, in MiB (shared pages counted in each)."""
        pages = sum(self.samples[member].rss_pages for member in self.tree(pid))
        return round(pages * PAGE_BYTES / 2**20, 1)
