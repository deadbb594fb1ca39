"""The one thread and ``selectors`` loop that serves every HTTP connection of the
sandbox (issue 16): ``Loop`` runs callbacks for readiness, callbacks queued from
any thread (``call_soon``) and timers, and every ``SWEEP_S`` has its servers
close the connections past their deadline. ``http_server`` is what it serves,
``http_connection`` one connection. Standard library only, CPython 3.7+.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import heapq
import itertools
import logging
import os
import selectors
import socket
import threading
import time
from typing import Any, Callable, Deque, List, Optional, Tuple

try:
    from typing import Protocol
except ImportError:  # CPython 3.7: the protocol is for the type checker only
    Protocol = object  # type: ignore[assignment]

log = logging.getLogger("lambda_sandbox.http")

# How often the loop looks for connections past their deadline.
SWEEP_S = 0.05


class Served(Protocol):
    """What the loop asks of the servers it serves (``http_server.LoopServer``)."""

    def sweep(self, now: float) -> None: ...

    def close_all(self) -> None: ...


class Loop:
    """One thread, one selector, a queue of callbacks and a heap of timers."""

    def __init__(self, name: str = "http-loop") -> None:
        self._selector = selectors.DefaultSelector()
        self._ready: Deque[Callable[[], None]] = collections.deque()
        self._timers: List[Tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._closed = False
        self.servers: List[Served] = []
        # Connections the loop serves now: while there are any, it wakes every
        # SWEEP_S to close those past their deadline.
        self.open_connections = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop's thread, after what it runs now; from any thread."""
        self._ready.append(callback)
        if threading.current_thread() is not self._thread:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._wake_w, b"x")

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop's thread after ``delay_s``. Loop thread only."""
        heapq.heappush(self._timers, (time.monotonic() + delay_s, next(self._order), callback))

    def register(self, sock: socket.socket, events: int, callback: Callable[[int], None]) -> None:
        self._selector.register(sock, events, callback)

    def modify(self, sock: socket.socket, events: int, callback: Callable[[int], None]) -> None:
        self._selector.modify(sock, events, callback)

    def watch(self, fd: int, on_ready: Callable[[], bool], on_end: Callable[[], None]) -> None:
        """Call ``on_ready`` on the loop's thread whenever ``fd`` is readable, until it
        returns False (or raises); then stop watching ``fd`` and call ``on_end``.
        From any thread (``processes.Watcher``: the output pumps)."""

        def on_event(mask: int) -> None:
            more = False
            try:
                more = on_ready()
            finally:
                if not more:
                    self.unregister(fd)
                    on_end()

        def start() -> None:
            self._selector.register(fd, selectors.EVENT_READ, on_event)

        self.call_soon(start)

    def unregister(self, sock: "socket.socket | int") -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(sock)

    def close(self, wait_s: float = 2.0) -> None:
        """End the loop's thread (its servers are shut down first)."""

        def stop() -> None:
            self._closed = True

        self.call_soon(stop)
        if not self.in_loop():
            self._thread.join(wait_s)

    # -- the loop ------------------------------------------------------------------

    def _run(self) -> None:
        next_sweep = time.monotonic() + SWEEP_S
        while not self._closed:
            timeout: Optional[float] = None
            now = time.monotonic()
            if self._ready:
                timeout = 0.0
            else:
                due = next_sweep if self.open_connections else None
                if self._timers and (due is None or self._timers[0][0] < due):
                    due = self._timers[0][0]
                if due is not None:
                    timeout = max(0.0, due - now)
            try:
                events = self._selector.select(timeout)
            except OSError as err:  # pragma: no cover - select retries EINTR itself
                if err.errno == errno.EINTR:
                    continue
                raise
            for key, mask in events:
                callback = key.data
                if callback is None:
                    with contextlib.suppress(BlockingIOError, OSError):
                        while os.read(self._wake_r, 512):
                            pass
                    continue
                self._guarded(callback, mask)
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                _, _, due_callback = heapq.heappop(self._timers)
                self._guarded(due_callback)
            while self._ready:
                self._guarded(self._ready.popleft())
            if now >= next_sweep:
                next_sweep = now + SWEEP_S
                for server in list(self.servers):
                    server.sweep(now)
        for server in list(self.servers):
            server.close_all()
        self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    @staticmethod
    def _guarded(callback: Callable[..., None], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:  # one connection's failure must not end the loop
            log.exception("the HTTP loop: a callback failed")
