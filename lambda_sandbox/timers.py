"""One thread for every timer of the sandbox.

The lifecycle starts a timer per invocation (its timeout) and per idle
period; a ``threading.Timer`` each would mean hundreds of live threads under
load. The lifecycle ignores a timer whose token it no longer holds, so a stale
one firing is harmless; but each firing wakes this thread and takes the
environment's lock for nothing, once per invocation under load. So a timer that
a newer one of the same name has made stale is cancelled (``cancel``): it
leaves the heap and never fires.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time
from typing import Callable, List, Tuple

log = logging.getLogger("lambda_sandbox")


Timer = Tuple[float, int, Callable[[], None]]  # (when, order, callback): a heap entry


class TimerWheel:
    def __init__(self) -> None:
        self._heap: List[Timer] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        # When the thread wakes by itself next: +inf while it waits for any timer,
        # -inf while it runs (it looks at the heap before it sleeps again).
        self._sleeping_until = -math.inf
        threading.Thread(target=self._run, name="timers", daemon=True).start()

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` in the timer thread after ``delay_s``; the handle cancels it."""
        entry = (time.monotonic() + delay_s, next(self._order), callback)
        with self._cond:
            heapq.heappush(self._heap, entry)
            if entry[0] < self._sleeping_until:
                # Only a timer due before the thread wakes anyway needs it woken;
                # waking it for every later one (a timeout per invocation) costs
                # two context switches each.
                self._cond.notify()
        return entry

    def cancel(self, timer: Timer) -> None:
        """Take ``timer`` out unless it has fired. If it was the earliest, the thread
        still wakes at its time (waking it now to say so would cost as much), finds
        nothing due, and sleeps again."""
        with self._cond:
            try:
                self._heap.remove(timer)
            except ValueError:
                return  # fired, or cancelled already
            heapq.heapify(self._heap)

    def __len__(self) -> int:
        with self._cond:
            return len(self._heap)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._sleeping_until = self._heap[0][0] if self._heap else math.inf
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                    self._sleeping_until = -math.inf
                _, _, callback = heapq.heappop(self._heap)
            try:
                callback()
            except Exception:  # a timer must never take the others down with it
                log.exception("timer callback failed")
