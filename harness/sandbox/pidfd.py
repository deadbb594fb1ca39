"""Wait for a process to exit without polling: a pidfd becomes readable when it ends (Linux 5.3+)."""

from __future__ import annotations

import os
import select
from typing import Optional

# Once a process has ended, how long its reaping (or a fork server's report
# of its exit code) may take.
REAPED_WITHIN_S = 5.0


def wait_exit(pid: int, timeout_s: Optional[float]) -> Optional[bool]:
    """True once ``pid`` has ended, False if it still runs at the deadline, None without pidfds.

    ``pid`` need not be a child of this process.
    """
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        fd = pidfd_open(pid)
    except ProcessLookupError:
        return True  # gone (and reaped) already
    except OSError:
        return None
    try:
        readable, _, _ = select.select([fd], [], [], timeout_s)
    finally:
        os.close(fd)
    return bool(readable)
