"""The JSON-lines event log (schema: the README, "The event log") and the console.

Both are written from many threads; each line is written whole under a lock
and flushed at once, so a reader tailing the file never sees half a line and
nothing is lost when the sandbox is killed right after.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO, Any, Optional

SCHEMA_VERSION = 1


class EventLog:
    def __init__(self, path: Optional[str]) -> None:
        self._lock = threading.Lock()
        self._file: Optional[IO[str]] = None
        if path:
            self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - lives as long as the sandbox

    def write(self, kind: str, **fields: Any) -> None:
        if self._file is None:
            return
        record = {"v": SCHEMA_VERSION, "ts": time.time(), "mono": time.monotonic(), "kind": kind}
        record.update(fields)
        line = json.dumps(record, sort_keys=False, default=str)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class Console:
    """The sandbox's stdout: what Lambda would send to CloudWatch Logs."""

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
