"""The sandbox's stdout: what Lambda would send to CloudWatch Logs.

Written from many threads; each line whole, under a lock, flushed at once.
"""

from __future__ import annotations

import sys
import threading
from typing import IO, Optional


class Console:
    def __init__(self, stream: Optional[IO[str]] = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        stream = self._stream or sys.stdout
        with self._lock:
            try:
                stream.write(text + "\n")
                stream.flush()
            except (OSError, ValueError):
                pass  # a closed stdout must not take the sandbox down
