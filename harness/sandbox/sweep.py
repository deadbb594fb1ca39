"""Find and kill every process a harness run started, by a label in its environment.

Each sandbox gets ``LAB_HARNESS_RUN=<session>/<cell id>`` and passes its
environment on to the runtime and extensions, which live in process groups of
their own. Killing the sandbox's group would miss them; the label does not
(the way testcontainers labels containers with a session id). Linux only:
elsewhere there is no /proc and the sweep finds nothing.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import List

LABEL = "LAB_HARNESS_RUN"


def labelled(prefix: str, proc: Path = Path("/proc"), *, exact: bool = False) -> List[int]:
    """PIDs whose ``LAB_HARNESS_RUN`` starts with ``prefix`` (or equals it, if ``exact``)."""
    wanted = f"{LABEL}={prefix}".encode()
    me = os.getpid()
    found = []
    try:
        entries = list(proc.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone already, or not ours to read
        items = environ.split(b"\0")
        if (wanted in items) if exact else any(i.startswith(wanted) for i in items):
            found.append(int(entry.name))
    return sorted(found)


def sweep(prefix: str, proc: Path = Path("/proc"), *, exact: bool = False) -> List[int]:
    """SIGKILL every labelled process; the PIDs that were still there."""
    killed = []
    for pid in labelled(prefix, proc, exact=exact):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        killed.append(pid)
    return killed
