"""One subscriber's buffer: events in, batches out, memory bounded. Pure (the caller
passes the clock).

A batch is due when it holds ``maxItems`` events, or ``maxBytes`` of them, or
its first event is ``timeoutMs`` old (the buffering settings, "Telemetry API":
"Lambda buffers ... and delivers when one of the limits is reached"). A batch
never holds more than ``maxItems`` events; it may pass ``maxBytes`` by its last
event, as AWS's emulator's batches do (the guide: "expect payloads as large as
2 * maxBytes + metadataBytes").

While the listener is not answering, events wait here; past ``limit_bytes``
(four batches' worth) the oldest are dropped and counted, and the subscriber
is told with a ``platform.logsDropped`` event ("Lambda might drop records to
keep memory utilization bounded").
"""

from __future__ import annotations

import collections
from typing import Deque, List, Optional, Tuple

from lambda_sandbox.telemetry_subscription import Buffering


class Batcher:
    def __init__(self, buffering: Buffering, limit_bytes: Optional[int] = None) -> None:
        self.buffering = buffering
        self.limit_bytes = limit_bytes if limit_bytes is not None else 4 * buffering.max_bytes
        self._items: Deque[bytes] = collections.deque()
        self._bytes = 0
        self._oldest_ms: Optional[int] = None
        self._dropped: Tuple[int, int] = (0, 0)  # records, bytes

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size(self) -> int:
        return self._bytes

    def add(self, item: bytes, now_ms: int) -> None:
        """Queue one encoded event; drop the oldest to stay within ``limit_bytes``."""
        if len(item) > self.limit_bytes:
            self._drop(1, len(item))
            return
        while self._items and self._bytes + len(item) > self.limit_bytes:
            old = self._items.popleft()
            self._bytes -= len(old)
            self._drop(1, len(old))
        self._items.append(item)
        self._bytes += len(item)
        if self._oldest_ms is None:
            self._oldest_ms = now_ms

    def due_at(self) -> Optional[int]:
        """When the waiting events are due by age (None when there are none)."""
        if not self._items or self._oldest_ms is None:
            return None
        return self._oldest_ms + self.buffering.timeout_ms

    def ready(self, now_ms: int) -> bool:
        if not self._items:
            return False
        due = self.due_at()
        return (
            len(self._items) >= self.buffering.max_items
            or self._bytes >= self.buffering.max_bytes
            or (due is not None and now_ms >= due)
        )

    def take(self, now_ms: int) -> List[bytes]:
        """The next batch (possibly empty); what stays behind is timed from now."""
        batch: List[bytes] = []
        size = 0
        while self._items and len(batch) < self.buffering.max_items:
            if batch and size >= self.buffering.max_bytes:
                break
            item = self._items.popleft()
            self._bytes -= len(item)
            batch.append(item)
            size += len(item)
        self._oldest_ms = now_ms if self._items else None
        return batch

    def take_dropped(self) -> Tuple[int, int]:
        """Records and bytes dropped since last asked."""
        dropped, self._dropped = self._dropped, (0, 0)
        return dropped

    def _drop(self, records: int, size: int) -> None:
        self._dropped = (self._dropped[0] + records, self._dropped[1] + size)
