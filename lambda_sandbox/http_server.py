"""The sandbox's HTTP servers, served by one selectors loop (issue 16).

Every listening socket and every connection of the Invoke API and of each
environment's Runtime API is served by one thread that blocks only in
``select``. A thread per connection cost each warm invoke a dozen hand-overs
between threads (a connection's thread waking another's, the GIL passing
between them): about half of the sandbox's CPU per invoke
(``python -m bench.invoke_profile``), and more than a whole invoke of the
peers (AWS's emulator, the Runtime API Daemon).

The loop reads requests, parses them with the same strict parsers as before
(``http_request``, ``http_framing``) and answers the frequent ones itself: a
server's *fast routes* (an invoke, a runtime's ``next`` and response) take a
parsed request and answer it now or later (a ``next`` waits for an
invocation; an invoke for the runtime's response), always on the loop's
thread. Anything else (another route, a chunked body, ``Expect``, a body
past its limit, a request the parsers refuse) is *handed off*: the
connection, with the bytes read so far, goes to a thread of its own that
serves that one request with the threaded ``Handler`` (http.server's answers:
400, 413, 414, 431, 501, 505, ``100 Continue``), then comes back to the loop.
So every answer for unusual input is the one the threaded server gave, and
the loop parses only what it serves.

What the threaded server did, the loop does too: the whole request within the
client timeout from its first byte, the idle wait between requests bounded by
the same timeout, the header section within its budget, the connection table
(idle or busy; the longest-idle closed for a newcomer), a waiting ``next``
given up when its client goes away, ``Connection: close`` once stopping, and
an orderly stop (no new connection, the backlog served, idle connections
closed, answers owed sent within a bound).

``LoopServer`` is one listening socket (the Invoke API, or one environment's
Runtime API); ``http_loop.Loop`` the thread and its selector;
``http_connection.Connection`` one client's connection. Standard library
only, CPython 3.7+.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, Type

from lambda_sandbox.connections import ConnectionTable, refuse
from lambda_sandbox.http_common import (
    ACCEPT_PAUSE_S,
    DRAIN_WAIT_S,
    IDLE_GRACE_S,
    Handler,
)
from lambda_sandbox.http_connection import Connection, FastRoutes
from lambda_sandbox.http_loop import Loop
from lambda_sandbox.http_sections import SectionMemo
from lambda_sandbox.listener_stop import handshakes_in_flight_now, refuse_new_connections

log = logging.getLogger("lambda_sandbox.http")

# At most this many connections are accepted per readiness of a listener.
ACCEPTS_PER_WAKE = 64


class LoopServer:
    """One listening socket served by the loop: the Invoke API, or one environment's
    Runtime API. ``handler`` serves a handed-off request (``Handler``'s answers);
    ``routes`` the requests the loop answers itself."""

    def __init__(
        self,
        loop: Loop,
        address: Tuple[str, int],
        handler: Type[Handler],
        context: Any,
        routes: FastRoutes,
        client_timeout_s: Optional[float] = None,
        connections: Optional[ConnectionTable] = None,
    ) -> None:
        host = address[0]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind(address)
            self.socket.listen(128)
            self.socket.setblocking(False)
        except OSError:
            self.socket.close()
            raise
        self.server_address: Tuple[Any, ...] = self.socket.getsockname()
        self.loop = loop
        self.handler = handler
        self.context = context
        self.routes = routes
        self.sections = SectionMemo()  # header sections the loop has parsed (loop thread)
        self.client_timeout_s = client_timeout_s
        self.connections = connections
        self.stopping = False  # answers go out with "Connection: close" from now on
        self._conns: Set[Connection] = set()
        self._handed_off: Dict[socket.socket, threading.Thread] = {}
        self._handed_lock = threading.Lock()
        self._last_accept_warning = 0.0
        self._listening = False
        loop.servers.append(self)
        self._on_loop(self._listen_again)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    # -- admission -----------------------------------------------------------------

    def _on_accept(self, mask: int = 0) -> None:
        for _ in range(ACCEPTS_PER_WAKE):
            if not self._accept_one():
                return

    def _accept_one(self) -> bool:
        try:
            conn, client = self.socket.accept()
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as err:
            if err.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                self._cannot_accept(err)
            return False
        if self.connections is not None and not self.connections.admit(conn):
            refuse(conn)
            with contextlib.suppress(OSError):
                conn.close()
            return True
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.setblocking(False)
        self._adopt(conn, client, b"")
        return True

    def _cannot_accept(self, err: OSError) -> None:
        """Out of descriptors: say so (once in 10 s) and stop accepting a while,
        instead of spinning on a listener that stays readable."""
        now = time.monotonic()
        if now - self._last_accept_warning >= 10.0:
            self._last_accept_warning = now
            log.warning("%s: cannot accept a connection: %s", self.address, err.strerror)
        if self._listening:
            self.loop.unregister(self.socket)
            self._listening = False
            self.loop.call_later(ACCEPT_PAUSE_S, self._listen_again)

    def _listen_again(self) -> None:
        if not self.stopping and not self._listening:
            self.loop.register(self.socket, selectors.EVENT_READ, self._on_accept)
            self._listening = True

    def _adopt(self, sock: socket.socket, client: Any, buffered: bytes) -> None:
        connection = Connection(self, sock, client)
        self._conns.add(connection)
        self.loop.open_connections += 1
        self.loop.register(sock, selectors.EVENT_READ, connection.on_event)
        connection.start(buffered)

    def mark(self, sock: socket.socket, idle: bool) -> None:
        if self.connections is not None:
            self.connections.mark(sock, idle)

    def forget(self, connection: Connection) -> None:
        self._release(connection)
        if self.connections is not None:
            self.connections.forget(connection.sock)

    def _release(self, connection: Connection) -> None:
        """The loop is done with ``connection`` (closed, or handed off)."""
        if connection in self._conns:
            self._conns.discard(connection)
            self.loop.open_connections -= 1
        self.loop.unregister(connection.sock)

    # -- hand-off --------------------------------------------------------------------

    def hand_off(self, connection: Connection) -> None:
        """Serve the connection's next request on a thread of its own, with the
        threaded handler; the connection comes back to the loop after it."""
        self._release(connection)
        connection.closed = True  # the loop is done with this object
        sock, buffered = connection.sock, bytes(connection.buf)
        thread = threading.Thread(
            target=self._serve_handed_off,
            args=(sock, connection.address, buffered),
            name="http-handoff",
            daemon=True,
        )
        with self._handed_lock:
            self._handed_off[sock] = thread
        thread.start()

    def _serve_handed_off(self, sock: socket.socket, client: Any, buffered: bytes) -> None:
        keep = False
        leftover = b""
        try:
            sock.setblocking(True)
            handler = self.handler(sock, client, self)
            handler.rfile.feed(buffered)
            handler.handle_one_request()
            keep = not handler.close_connection and not self.stopping
            leftover = handler.rfile.take_buffered()
        except Exception:
            log.exception("%s: a handed-off request failed", self.address)
        finally:
            with self._handed_lock:
                self._handed_off.pop(sock, None)
        if keep:
            self.loop.call_soon(lambda: self._take_back(sock, client, leftover))
        else:
            self._drop(sock)

    def _take_back(self, sock: socket.socket, client: Any, leftover: bytes) -> None:
        if self.stopping:
            self._drop(sock)
            return
        try:
            sock.setblocking(False)
        except OSError:
            self._drop(sock)
            return
        self._adopt(sock, client, leftover)

    def _drop(self, sock: socket.socket) -> None:
        """Close a connection the loop does not serve (after a hand-off)."""
        if self.connections is not None:
            self.connections.forget(sock)
        with contextlib.suppress(OSError):
            sock.close()

    # -- deadlines -------------------------------------------------------------------

    def sweep(self, now: float) -> None:
        """Close every connection whose request (or idle wait) is past its deadline."""
        for connection in list(self._conns):
            deadline = connection.deadline
            if deadline is not None and now >= deadline and not connection.pending:
                log.debug("%s: request timed out", connection.address)
                connection.close()

    # -- stopping --------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop serving, and leave no client without an answer: what the backlog
        holds is served, the listening socket is closed (later clients are
        refused, not reset), idle connections are closed, and requests in
        progress finish, each bounded by DRAIN_WAIT_S. From any thread but the
        loop's."""
        deadline = time.monotonic() + DRAIN_WAIT_S
        refusing: List[bool] = []

        def begin() -> None:
            self.stopping = True
            # No new connection may open from here on (Linux: a socket filter that
            # drops connection openings); one already opening completes, and the
            # loop accepts it with the rest of the backlog while it still listens.
            refusing.append(refuse_new_connections(self.socket))

        def close_listener() -> None:
            while self._accept_one():
                pass
            if self._listening:
                self.loop.unregister(self.socket)
                self._listening = False
            with contextlib.suppress(OSError):
                self.socket.close()

        self._on_loop(begin, DRAIN_WAIT_S)
        if refusing and refusing[0]:
            # Closed with a handshake in flight, the listener would leave its
            # client a connection reset at the first read.
            port = self.server_address[1]
            while time.monotonic() < deadline and handshakes_in_flight_now(port):
                time.sleep(0.001)  # polling /proc: the kernel says nothing when one completes
        self._on_loop(close_listener, DRAIN_WAIT_S)
        grace_end = time.monotonic() + IDLE_GRACE_S
        while time.monotonic() < grace_end and (self._conns or self._handed_off):
            time.sleep(0.005)
        self._on_loop(self._close_idle)
        for thread in self._threads():
            thread.join(max(0.0, deadline - time.monotonic()))
        while time.monotonic() < deadline and self._conns:
            time.sleep(0.005)
        self._on_loop(self.close_all)

    def _threads(self) -> List[threading.Thread]:
        with self._handed_lock:
            return list(self._handed_off.values())

    def _close_idle(self) -> None:
        for connection in list(self._conns):
            if connection.is_idle():
                connection.close()
        with self._handed_lock:
            handed = list(self._handed_off)
        for sock in handed:
            # A handed-off connection waiting for its request's first byte.
            if self.connections is not None and self.connections.is_idle(sock):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close_all(self) -> None:
        for connection in list(self._conns):
            connection.close()

    def _on_loop(self, callback: Callable[[], None], wait_s: float = 2.0) -> None:
        """Run ``callback`` on the loop's thread and wait for it."""
        if self.loop.in_loop():
            callback()
            return
        done = threading.Event()

        def run() -> None:
            try:
                callback()
            finally:
                done.set()

        self.loop.call_soon(run)
        done.wait(wait_s)

    def server_close(self) -> None:
        with contextlib.suppress(OSError):
            self.socket.close()
        if self in self.loop.servers:
            self.loop.servers.remove(self)
