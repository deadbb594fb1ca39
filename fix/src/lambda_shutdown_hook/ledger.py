"""Exactly one handler call per SIGTERM, when two paths can each report it. Pure.

CPython's C-level handler does two things for each signal: it marks the
Python-level handler pending (run by the main thread when it next executes
bytecode, several arrivals possibly folded into one call) and writes one byte
to the wakeup fd (read by the hook's watcher thread). Either may come first,
or only the watcher's may come at all: the main thread may be waiting in
native code until SIGKILL. Each path counts the arrivals it saw; a path
dispatches when its count goes past the number of calls made so far, so every
SIGTERM gets one call, from whichever path saw it first.
"""

from __future__ import annotations

import threading
from typing import Dict

WATCHER = "watcher"
MAIN = "main"


class Ledger:
    def __init__(self) -> None:
        self._seen: Dict[str, int] = {WATCHER: 0, MAIN: 0}
        self.dispatched = 0
        # Reentrant: a second SIGTERM's Python-level handler can run on the main
        # thread while that thread is inside claim() for the first.
        self._lock = threading.RLock()

    def claim(self, path: str) -> bool:
        """``path`` saw one more SIGTERM: True when this path must call the handler."""
        with self._lock:
            self._seen[path] += 1
            if self._seen[path] > self.dispatched:
                self.dispatched += 1
                return True
            return False

    def seen(self, path: str) -> int:
        return self._seen[path]
