"""Where a ``next`` call waits for what the environment hands it.

A runtime's ``invocation/next`` and an extension's ``event/next`` block until
the environment puts an invocation or an event in their mailbox. Two things
end a wait besides an item (issue 17: each environment reset used to leave
every extra waiter blocked for good, a thread and a descriptor each):

- ``close``: the environment was reset or is gone; every waiter, however
  many, gets ``CLOSED`` at once.
- the caller went away: ``get`` asks ``abandoned`` every ``poll_s`` while
  nothing has come, and gives up (``ABANDONED``) when it says so.

Standard library only, CPython 3.7+.
"""

from __future__ import annotations

import collections
import threading
from typing import Callable, Deque, Generic, TypeVar, Union


class _Signal:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


CLOSED = _Signal("CLOSED")  # the mailbox's environment is gone
ABANDONED = _Signal("ABANDONED")  # the waiting caller went away

T = TypeVar("T")

POLL_S = 0.5


class Mailbox(Generic[T]):
    def __init__(self) -> None:
        self._items: Deque[T] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self.waiting = 0

    def put(self, item: T) -> None:
        with self._cond:
            if not self._closed:
                self._items.append(item)
                self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()

    def get(
        self, abandoned: Callable[[], bool] = lambda: False, poll_s: float = POLL_S
    ) -> Union[T, _Signal]:
        with self._cond:
            self.waiting += 1
            try:
                while not self._items and not self._closed:
                    self._cond.wait(poll_s)
                    if not self._items and not self._closed and abandoned():
                        return ABANDONED
                if self._items:
                    return self._items.popleft()
                return CLOSED
            finally:
                self.waiting -= 1
