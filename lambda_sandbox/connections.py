"""A bound on the connections the sandbox's HTTP servers hold open at once.

Every connection costs a file descriptor until it closes (and a thread while
a request of its is handed off by the HTTP loop, ``http_server``). Without
a bound, idle connections exhaust the descriptors (RLIMIT_NOFILE): accept()
then fails with EMFILE, the listening socket stays readable, and the server
loop spins without serving anyone, the Runtime API included (issue 17).

One table is shared by the Invoke API and every Runtime API, with a limit
below the descriptor limit that leaves room for the processes' pipes and the
event log. A connection is *idle* while it waits for a request line (just
connected, or kept alive between requests); a connection in the middle of a
request (a runtime's long-polling ``next`` included) is *busy*. At the limit
the longest-idle connection is closed to admit the new one; when every
connection is busy, the new one is answered 503 and closed.

``connection_limit`` and ``choose_victim`` are pure; ``ConnectionTable`` holds
the state under a lock. Standard library only, CPython 3.7+.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from typing import Dict, Hashable, Mapping, Optional, Tuple, TypeVar

log = logging.getLogger("lambda_sandbox.http")

# Descriptors kept out of the connections' share: the event log, the
# listening sockets, wakeup pipes, the console; and per environment, its
# processes' output pipes and process handles.
RESERVED_FDS = 32
PER_ENVIRONMENT_FDS = 16
# Above this, a handed-off request's thread could meet a descriptor past
# select()'s FD_SETSIZE (it looks whether a waiting client went away).
MOST_CONNECTIONS = 1024
FEWEST_CONNECTIONS = 8

_REFUSAL_BODY = b'{"errorType": "ServiceException", "errorMessage": "Too many open connections; try again later."}'
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Connection: close\r\n"
    b"Content-Length: %d\r\n\r\n" % len(_REFUSAL_BODY)
) + _REFUSAL_BODY


def connection_limit(soft_nofile: int, environments: int, configured: Optional[int] = None) -> int:
    """How many connections may be open at once. Pure.

    ``configured`` (LAMBDA_SANDBOX_MAX_CONNECTIONS) wins; otherwise what the
    descriptor limit leaves after the reserve, within 8 and 1024."""
    if configured is not None:
        return configured
    if soft_nofile < 0:  # RLIM_INFINITY
        return MOST_CONNECTIONS
    room = soft_nofile - RESERVED_FDS - PER_ENVIRONMENT_FDS * environments
    return max(FEWEST_CONNECTIONS, min(MOST_CONNECTIONS, room))


K = TypeVar("K", bound=Hashable)


def choose_victim(entries: Mapping[K, Tuple[bool, float]]) -> Optional[K]:
    """The connection to close for a newcomer: the one idle longest, or None when
    none is idle. ``entries``: connection -> (idle, idle since). Pure."""
    idle = [(since, key) for key, (is_idle, since) in entries.items() if is_idle]
    if not idle:
        return None
    return min(idle, key=lambda pair: pair[0])[1]


class ConnectionTable:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._entries: Dict[socket.socket, Tuple[bool, float]] = {}
        self._last_warning = 0.0
        self.evicted = 0
        self.refused = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def admit(self, conn: socket.socket) -> bool:
        """Take ``conn`` in, closing the longest-idle connection if the table is full;
        False (and nothing changed) when every connection is busy."""
        with self._lock:
            if len(self._entries) >= self.limit:
                victim = choose_victim(self._entries)
                if victim is None:
                    self.refused += 1
                    self._warn("every connection is busy: refused a new one with 503")
                    return False
                del self._entries[victim]
                self.evicted += 1
                self._warn("closed the longest-idle connection to admit a new one")
                # Its handler's blocked read returns at once; the handler closes it.
                with contextlib.suppress(OSError):
                    victim.shutdown(socket.SHUT_RDWR)
            self._entries[conn] = (True, time.monotonic())
            return True

    def mark(self, conn: socket.socket, idle: bool) -> None:
        with self._lock:
            if conn in self._entries:
                self._entries[conn] = (idle, time.monotonic())

    def is_idle(self, conn: socket.socket) -> bool:
        with self._lock:
            return self._entries.get(conn, (False, 0.0))[0]

    def forget(self, conn: socket.socket) -> None:
        with self._lock:
            self._entries.pop(conn, None)

    def _warn(self, what: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= 10.0:
            self._last_warning = now
            log.warning(
                "%d connections open, the limit (LAMBDA_SANDBOX_MAX_CONNECTIONS): %s "
                "(%d closed, %d refused so far)",
                self.limit,
                what,
                self.evicted,
                self.refused,
            )


def refuse(conn: socket.socket) -> None:
    """Answer a connection the table did not admit, without reading from it."""
    with contextlib.suppress(OSError):
        conn.settimeout(1.0)
        conn.sendall(REFUSAL)
