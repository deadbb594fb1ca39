"""Follow a growing JSON-lines event log and wait for an event kind, with a deadline.

Readiness and progress come from the sandbox's event log, never from fixed
sleeps: the wait polls the file in short steps until the event appears, the
writer process is gone, or the deadline passes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

POLL_S = 0.02


class EventLogTail:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self.events: List[Dict[str, Any]] = []

    def poll(self) -> List[Dict[str, Any]]:
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
            try:
                event = json.loads(raw)
            except ValueError:
                continue  # judge() reports malformed lines; here we only wait
            if isinstance(event, dict):
                new.append(event)
        self.events.extend(new)
        return new

    def find(self, kind: str, nth: int = 1) -> Optional[Dict[str, Any]]:
        """The ``nth`` event of ``kind`` seen so far (1 = the first), or None."""
        matching = [e for e in self.events if e.get("kind") == kind]
        return matching[nth - 1] if len(matching) >= nth else None

    def wait_for(
        self,
        kind: str,
        timeout_s: float,
        still_running: Callable[[], bool],
        nth: int = 1,
    ) -> Optional[Dict[str, Any]]:
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
