"""What a process holds, read from /proc: threads, descriptors, memory.

The hostile-input, connection and memory tests measure the sandbox with these
(issue 17's bound: RSS within 64 MB of idle, threads and descriptors back to
their idle counts after every input).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Dict

BOUND_KB = 64 * 1024


@dataclass(frozen=True)
class Held:
    threads: int
    fds: int
    rss_kb: int
    peak_kb: int  # VmHWM: the highest RSS so far

    @property
    def counts(self) -> Dict[str, int]:
        return {"threads": self.threads, "fds": self.fds}


def held(pid: int) -> Held:
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return Held(
        threads=int(fields["Threads"]),
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        rss_kb=int(fields["VmRSS"].split()[0]),
        peak_kb=int(fields["VmHWM"].split()[0]),
    )


def settle(pid: int, idle: Held, within_s: float = 10.0) -> Held:
    """What ``pid`` holds once its threads and descriptors are back to ``idle``'s
    counts, or after ``within_s`` (handler threads end as their sockets close)."""
    deadline = time.monotonic() + within_s
    now = held(pid)
    while now.counts != idle.counts and time.monotonic() < deadline:
        time.sleep(0.05)  # polling /proc: there is nothing to wait on
        now = held(pid)
    return now


def steady(pid: int, for_s: float = 0.3, within_s: float = 10.0) -> Held:
    """What ``pid`` holds once its thread and descriptor counts have not changed for
    ``for_s`` (a baseline: the handler of the last request may still be ending)."""
    deadline = time.monotonic() + within_s
    last = held(pid)
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)  # polling /proc: there is nothing to wait on
        now = held(pid)
        if now.counts != last.counts:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= for_s:
            return now
    return last


def cpu_ticks(pid: int) -> int:
    """User plus system time of ``pid`` so far, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
