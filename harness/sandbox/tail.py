"""Follow a growing event log and wait for an event kind, with a deadline.

Readiness and progress come from the sandbox's event log, never from fixed
sleeps: the wait polls the file in short steps until the event appears, the
writer process is gone, or the deadline passes. Lines are decoded by the
contract's one reader (``lambda_sandbox.eventlog.parse_line``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, List, Optional

from lambda_sandbox.eventlog import Event, parse_line

POLL_S = 0.005


class EventLogTail:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._lines = 0
        self._partial = b""
        self.events: List[Event] = []

    def poll(self) -> List[Event]:
        """The events completed since the last poll (a half-written line waits)."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        new = []
        for raw in complete:
            parsed = parse_line(self._lines, raw)
            self._lines += 1
            if isinstance(parsed, Event):
                new.append(parsed)  # the judge reports malformed lines; here we only wait
        self.events.extend(new)
        return new

    def find(self, kind: str, nth: int = 1) -> Optional[Event]:
        """The ``nth`` event of ``kind`` seen so far (1 = the first), or None."""
        matching = [e for e in self.events if e.kind == kind]
        return matching[nth - 1] if len(matching) >= nth else None

    def wait_for(
        self,
        kind: str,
        timeout_s: float,
        still_running: Callable[[], bool],
        nth: int = 1,
    ) -> Optional[Event]:
        """The ``nth`` event of ``kind``; None at the deadline or once the writer has exited."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.poll()
            found = self.find(kind, nth)
            if found is not None:
                return found
            if not still_running():
                self.poll()  # the writer may have flushed its last lines on the way out
                return self.find(kind, nth)
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL_S)
