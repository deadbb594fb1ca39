"""Where a ``next`` call waits for what the environment hands it.

A runtime's ``invocation/next`` and an extension's ``event/next`` block until
the environment puts an invocation or an event in their mailbox. Two things
end a wait besides an item (issue 17: each environment reset used to leave
every extra waiter blocked for good, a thread and a descriptor each):

- ``close``: the environment was reset or is gone; every waiter, however
  many, gets ``CLOSED`` at once.
- the caller went away: ``get`` asks ``abandoned`` every ``poll_s`` while
  nothing has come, and gives up (``ABANDONED``) when it says so.

A caller that must not block (the HTTP loop, ``http_loop``) waits with
``get_later``: its callback gets the item (or ``CLOSED``) once there is one,
and ``cancel`` takes the wait back when its client goes away. Such waiters
are served first, in order; the callback runs under the mailbox's lock, so it
must only hand the item on.

Standard library only, CPython 3.7+.
"""

from __future__ import annotations

import collections
import itertools
import threading
from typing import Callable, Deque, Generic, Tuple, TypeVar, Union


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
        self._later: Deque[Tuple[int, Callable[[Union[T, _Signal]], None]]] = collections.deque()
        self._tokens = itertools.count()
        self.waiting = 0

    def put(self, item: T) -> None:
        with self._cond:
            if self._closed:
                return
            if self._later:
                _, callback = self._later.popleft()
                self.waiting -= 1
                callback(item)
                return
            self._items.append(item)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._items.clear()
            later, self._later = self._later, collections.deque()
            self.waiting -= len(later)
            for _, callback in later:
                callback(CLOSED)
            self._cond.notify_all()

    def get_later(self, callback: Callable[[Union[T, _Signal]], None]) -> int:
        """Hand the next item (or CLOSED) to ``callback``, now if there is one; the
        token ``cancel`` takes."""
        token = next(self._tokens)
        with self._cond:
            if self._items:
                callback(self._items.popleft())
            elif self._closed:
                callback(CLOSED)
            else:
                self._later.append((token, callback))
                self.waiting += 1
        return token

    def cancel(self, token: int) -> bool:
        """Take back a ``get_later`` that has not been served; whether it was waiting."""
        with self._cond:
            for entry in self._later:
                if entry[0] == token:
                    self._later.remove(entry)
                    self.waiting -= 1
                    return True
        return False

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
