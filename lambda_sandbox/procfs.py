"""What the sandbox reads from /proc: a process's peak memory, for REPORT lines, and
its threads' states, to know when a thawed environment has really resumed.

The parsing is pure (it takes the text of /proc/<pid>/status or .../stat) so it
is tested on a given text; the ``read_*`` functions are the ones that open files.
"""

from __future__ import annotations

import os
from typing import Optional


def vm_hwm_kb(status_text: str) -> Optional[int]:
    """The ``VmHWM`` (peak resident set size) of a /proc/<pid>/status text, in kB.

    None when the line is missing or unreadable: a kernel without it, or a
    process that is already a zombie (whose status has no Vm* lines).
    """
    if status_text.startswith("VmHWM:"):
        start = 0
    else:
        start = status_text.find("\nVmHWM:") + 1
        if start == 0:
            return None
    end = status_text.find("\n", start)
    parts = status_text[start : end if end >= 0 else len(status_text)].split()
    if len(parts) < 2:
        return None
    try:
        return int(parts[1])
    except ValueError:
        return None


def max_memory_used_mb(status_text: str) -> int:
    """REPORT's ``Max Memory Used`` from a status text: VmHWM in MB, plus one; 0 if unknown.

    Truncated to whole MB and one added, so a process that used any memory at
    all never reports 0 MB.
    """
    kb = vm_hwm_kb(status_text)
    if kb is None:
        return 0
    return int(kb / 1024) + 1


class StatusFile:
    """A live process's /proc/<pid>/status, kept open: each read is one pread, with no
    path to look up (a REPORT line per invocation reads it; issue 16)."""

    def __init__(self, pid: int, proc_root: str = "/proc") -> None:
        self.pid = pid
        try:
            flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
            self._fd: Optional[int] = os.open(f"{proc_root}/{pid}/status", flags)
        except OSError:
            self._fd = None  # gone already, or not Linux

    def read_max_memory_used_mb(self) -> int:
        """``max_memory_used_mb`` now; 0 once the process is gone (or was never seen)."""
        if self._fd is None:
            return 0
        try:
            text = os.pread(self._fd, 65536, 0).decode("utf-8", "replace")
        except OSError:
            return 0  # reaped: its status can no longer be read
        return max_memory_used_mb(text)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# Thread states (the third field of /proc/<pid>/task/<tid>/stat) of a thread that
# has not yet settled after SIGCONT: still stopped, or runnable on its way back
# into the call it was stopped in.
UNSETTLED_STATES = frozenset("TtR")


def thread_state(stat_text: str) -> Optional[str]:
    """The one-letter state in a /proc/.../stat text (the field after the command's ')')."""
    if ")" not in stat_text:
        return None
    fields = stat_text.rsplit(")", 1)[-1].split()
    return fields[0] if fields else None


def settled(states: "list[Optional[str]]") -> bool:
    """True when no thread is stopped or on its way back (unknown states count as settled)."""
    return not any(s in UNSETTLED_STATES for s in states if s is not None)


def read_thread_states(pid: int, proc_root: str = "/proc") -> "list[Optional[str]]":
    """The state of each thread of a process; empty when it is gone or there is no /proc."""
    states: "list[Optional[str]]" = []
    try:
        tids = os.listdir(f"{proc_root}/{pid}/task")
    except OSError:
        return states
    for tid in tids:
        try:
            with open(f"{proc_root}/{pid}/task/{tid}/stat") as stat:
                states.append(thread_state(stat.read()))
        except OSError:
            continue  # the thread ended meanwhile
    return states


def parent_pid(stat_text: str) -> Optional[int]:
    """The parent pid from a /proc/PID/stat line (the field after the state)."""
    try:
        return int(stat_text.rsplit(")", 1)[1].split()[1])
    except (IndexError, ValueError):
        return None


def descendants(root: int, parents: "dict[int, int]") -> "list[int]":
    """Every pid below ``root`` in a pid -> parent pid map, nearest first. Pure."""
    children: "dict[int, list[int]]" = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: "list[int]" = []
    frontier = [root]
    while frontier:
        below = sorted(p for parent in frontier for p in children.get(parent, []))
        found += below
        frontier = below
    return found


def read_parents(proc_root: str = "/proc") -> "dict[int, int]":
    """pid -> parent pid of every process visible now."""
    parents: "dict[int, int]" = {}
    try:
        names = os.listdir(proc_root)
    except OSError:
        return parents
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc_root, name, "stat")) as f:
                ppid = parent_pid(f.read())
        except OSError:
            continue  # gone meanwhile
        if ppid is not None:
            parents[int(name)] = ppid
    return parents
