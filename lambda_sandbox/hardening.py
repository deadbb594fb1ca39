"""Keep the function out of the sandbox's memory: its secrets and its open event log.

The function runs as the sandbox's own user (root in the images, and often on
a host), so file permissions do not keep it out of ``/proc/<sandbox>/environ``
(the broker's password, the evidence key), ``/proc/<sandbox>/fd`` (a writable
handle on the event log) or ``/proc/<sandbox>/mem``. Two Linux controls do:

- ``PR_SET_DUMPABLE`` 0: those files then need ``CAP_SYS_PTRACE`` over the
  sandbox; a process of the same user without it is refused (proc(5),
  "/proc/pid/environ" and ptrace(2), "Ptrace access mode checking").
- ``PR_CAPBSET_DROP`` of ``CAP_SYS_PTRACE``: dropped from the bounding set
  before any child starts, so no process the sandbox execs (runtime,
  extensions, what they start) can hold it, even as root. Docker's default
  capability set has no CAP_SYS_PTRACE already; this covers a host.

A third covers what the two leave open, measured on this project's machines:
a root process without CAP_SYS_PTRACE is still shown a root process's
``/proc/<pid>/environ``, only ``fd/`` and ``mem`` are refused. So
``scrub_environ`` overwrites the secrets' values in the environment block the
kernel shows there (the strings the process was started with; ``os.environ``
is a copy and keeps them for the sandbox's own use).

None is an error to lack (another OS, no CAP_SETPCAP): ``protect`` says what
it could apply, and the sandbox logs it. Standard library only, CPython 3.7+.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, List, Optional, Tuple

PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
CAP_SYS_PTRACE = 19


def _libc() -> Optional[Any]:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True)
    except (ImportError, OSError):
        return None


def protect(drop_ptrace: bool = True) -> List[str]:
    """Apply what this process can of the two controls; the names of those applied.

    Call it before any thread or child is started: the bounding set is per
    thread, and children inherit it from the thread that forks them."""
    libc = _libc()
    if libc is None:
        return []
    applied = []
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0:
        applied.append("not-dumpable")
    if drop_ptrace and libc.prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE, 0, 0, 0) == 0:
        applied.append("no-cap-sys-ptrace")
    return applied


def _environment_block() -> Optional[Tuple[int, bytes]]:
    """Where this process's environment block starts in memory, and its bytes."""
    try:
        with open("/proc/self/stat", "rb") as f:
            # Field 3 (state) onwards; env_start is field 50 (proc(5), Linux 3.5+).
            fields = f.read().rsplit(b")", 1)[1].split()
        with open("/proc/self/environ", "rb") as f:
            block = f.read()
        return int(fields[47]), block
    except (OSError, IndexError, ValueError):
        return None


def scrub_environ(names: Iterable[str]) -> List[str]:
    """Overwrite with ``*`` the values of ``names`` in the block /proc/self/environ
    shows; the names scrubbed (those present)."""
    found = _environment_block()
    libc = _libc()
    if found is None or libc is None:
        return []
    import ctypes

    start, block = found
    scrubbed = []
    offset = 0
    for entry in block.split(b"\0"):
        name, sep, value = entry.partition(b"=")
        if sep and value and name.decode("utf-8", "replace") in names:
            ctypes.memset(start + offset + len(name) + 1, ord("*"), len(value))
            scrubbed.append(name.decode())
        offset += len(entry) + 1
    return scrubbed
