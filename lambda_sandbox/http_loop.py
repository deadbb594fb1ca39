"""One selectors loop for the sandbox's HTTP servers (issue 16).

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

``Loop`` is the thread and its selector; ``LoopServer`` one listening socket;
``Connection`` one client's connection. Standard library only, CPython 3.7+.
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
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
    List,
    NamedTuple,
    Optional,
    Set,
    Tuple,
    Type,
)

from lambda_sandbox import http_framing, http_request
from lambda_sandbox.connections import ConnectionTable, refuse
from lambda_sandbox.http_common import (
    ACCEPT_PAUSE_S,
    DRAIN_WAIT_S,
    IDLE_GRACE_S,
    Handler,
    encode_answer,
    refuse_new_connections,
)
from lambda_sandbox.http_reader import HEADER_BUDGET, RECV_BYTES, section_end

log = logging.getLogger("lambda_sandbox.http")

# How often the loop looks for connections past their deadline.
SWEEP_S = 0.05
# At most this many connections are accepted per readiness of a listener.
ACCEPTS_PER_WAKE = 64


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
        self.servers: List[LoopServer] = []
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

    def unregister(self, sock: socket.socket) -> None:
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


class Request(NamedTuple):
    """A request the loop parsed and read whole, for a server's fast routes."""

    command: str
    path: str  # the target without its query
    fields: http_request.Fields
    body: bytes


class FastRoutes:
    """What a server answers on the loop itself. ``body_limit`` says whether a
    request is one of them (and how large its body may be) from its line and
    fields; ``serve`` answers it through ``exchange.reply``, now or later, on the
    loop's thread. The base class takes none: every request is handed off."""

    def body_limit(self, command: str, path: str, fields: http_request.Fields) -> Optional[int]:
        return None

    def serve(self, request: Request, exchange: "Connection") -> None:  # pragma: no cover
        raise NotImplementedError


class _Head(NamedTuple):
    size: int  # request line and header section, blank line included
    command: str
    path: str
    fields: http_request.Fields
    length: int  # the body's
    keep_alive: bool


_WAIT = 0
_SERVED = 1
_HAND_OFF = 2


class Connection:
    """One client's connection while the loop serves it."""

    def __init__(self, server: "LoopServer", sock: socket.socket, address: Any) -> None:
        self.server = server
        self.sock = sock
        self.address = address
        self.buf = bytearray()
        self.out = b""
        self.head: Optional[_Head] = None
        self.pending = False  # a request has been taken and awaits its answer
        self.keep_alive = True
        self.close_after = False
        self.closed = False
        self.deadline: Optional[float] = None
        # Called if the client goes away while its answer is pending.
        self.on_gone: Optional[Callable[[], None]] = None
        self._serving = False
        self._events = selectors.EVENT_READ

    # -- readiness -----------------------------------------------------------------

    def on_event(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._flush()
        if mask & selectors.EVENT_READ and not self.closed:
            self._on_readable()

    def _on_readable(self) -> None:
        if self.pending:
            # Only whether the client went away (as a threaded next's client_gone).
            try:
                peeked = self.sock.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                return
            except OSError:
                peeked = b""
            if not peeked:
                self.close()
                return
            self._want(write=bool(self.out), read=False)  # a pipelined request waits
            return
        try:
            chunk = self.sock.recv(RECV_BYTES)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            if self.buf:
                # The client ended its side mid-request: the threaded handler
                # gives that request the answer it gives a cut-off one.
                self.server.hand_off(self)
            else:
                self.close()
            return
        if not self.buf:
            self._begin()
        self.buf += chunk
        self.serve()

    def _begin(self) -> None:
        """A request's first bytes: from now on the whole request is timed."""
        timeout = self.server.client_timeout_s
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.server.mark(self.sock, idle=False)

    def _idle(self) -> None:
        timeout = self.server.client_timeout_s
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.server.mark(self.sock, idle=True)

    # -- requests ------------------------------------------------------------------

    def serve(self) -> None:
        """Take every complete request the buffer holds, while nothing is pending."""
        if self._serving:
            return
        self._serving = True
        try:
            while self.buf and not self.pending and not self.closed:
                outcome = self._take_request()
                if outcome == _WAIT:
                    return
                if outcome == _HAND_OFF:
                    self.server.hand_off(self)
                    return
        finally:
            self._serving = False
        if not self.buf and not self.pending and not self.closed:
            self._idle()

    def _take_request(self) -> int:
        head = self.head
        if head is None:
            head_or_outcome = self._parse_head()
            if isinstance(head_or_outcome, int):
                return head_or_outcome
            head = self.head = head_or_outcome
        end = head.size + head.length
        if len(self.buf) < end:
            return _WAIT
        body = bytes(self.buf[head.size : end])
        del self.buf[:end]
        self.head = None
        self.pending = True
        self.keep_alive = head.keep_alive
        self.deadline = None
        self.server.routes.serve(Request(head.command, head.path, head.fields, body), self)
        return _SERVED

    def _parse_head(self) -> "_Head | int":
        buf = self.buf
        end = buf.find(b"\n")
        if end < 0:
            return _HAND_OFF if len(buf) > http_request.MAX_LINE else _WAIT
        if end + 1 > http_request.MAX_LINE or not buf[: end + 1].strip():
            return _HAND_OFF
        stop, skip = section_end(buf, end)
        if stop < 0:
            return _HAND_OFF if len(buf) - end > HEADER_BUDGET else _WAIT
        if stop - end > HEADER_BUDGET:
            return _HAND_OFF
        try:
            line = http_request.parse_request_line(bytes(buf[: end + 1]))
            fields = http_request.parse_fields(bytes(buf[end + 1 : stop + 1]))
        except http_request.BadRequest:
            return _HAND_OFF
        if line is None or "expect" in fields:
            return _HAND_OFF
        try:
            kind, length = http_framing.framing(
                fields.get_all("Content-Length") or [], fields.get_all("Transfer-Encoding") or []
            )
        except http_framing.BadFraming:
            return _HAND_OFF
        if kind == "chunked":
            return _HAND_OFF
        path = line.path.split("?", 1)[0]
        limit = self.server.routes.body_limit(line.command, path, fields)
        if limit is None or length > limit:
            return _HAND_OFF
        keep_alive = line.keep_alive
        connection = fields.get("Connection", "").lower()
        if connection == "close":
            keep_alive = False
        elif connection == "keep-alive":
            keep_alive = True
        return _Head(stop + skip, line.command, path, fields, length, keep_alive)

    # -- answers -------------------------------------------------------------------

    def reply(
        self,
        status: int,
        body: bytes = b"",
        headers: Optional[Dict[str, str]] = None,
        content_type: str = "application/json",
    ) -> None:
        """The pending request's answer (loop thread). It goes out now: a caller may
        answer while it holds a lock (an environment's), so a next request already
        read is served later, not from here."""
        if self.closed or not self.pending:
            return
        close = not self.keep_alive or self.server.stopping
        self.pending = False
        self.on_gone = None
        self.close_after = close
        self._write(encode_answer(status, body, headers, content_type, close))
        if self.closed or close:
            return
        if self.buf:
            self._begin()
            self.server.loop.call_soon(self.serve)
        else:
            self._idle()
        self._want(write=bool(self.out), read=True)

    def _write(self, data: bytes) -> None:
        if self.out:
            self.out += data
            return
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close()
            return
        if sent < len(data):
            self.out = data[sent:]
            self._want(write=True, read=not self.pending)
        elif self.close_after:
            self.close()

    def _flush(self) -> None:
        try:
            sent = self.sock.send(self.out)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        self.out = self.out[sent:]
        if self.out:
            return
        if self.close_after:
            self.close()
            return
        self._want(write=False, read=True)

    def _want(self, write: bool, read: bool) -> None:
        events = (selectors.EVENT_WRITE if write else 0) | (selectors.EVENT_READ if read else 0)
        if events == self._events or self.closed:
            return
        self._events = events
        if events:
            try:
                self.server.loop.modify(self.sock, events, self.on_event)
            except KeyError:
                self.server.loop.register(self.sock, events, self.on_event)
        else:
            self.server.loop.unregister(self.sock)

    def is_idle(self) -> bool:
        return not self.pending and not self.buf and not self.out

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        gone, self.on_gone = self.on_gone, None
        if self.pending and gone is not None:
            gone()
        self.server.forget(self)
        with contextlib.suppress(OSError):
            self.sock.close()


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
        if buffered:
            connection.buf += buffered
            connection._begin()
            connection.serve()
        else:
            connection._idle()

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
            return
        if self.connections is not None:
            self.connections.forget(sock)
        with contextlib.suppress(OSError):
            sock.close()

    def _take_back(self, sock: socket.socket, client: Any, leftover: bytes) -> None:
        if self.stopping:
            if self.connections is not None:
                self.connections.forget(sock)
            with contextlib.suppress(OSError):
                sock.close()
            return
        try:
            sock.setblocking(False)
        except OSError:
            if self.connections is not None:
                self.connections.forget(sock)
            return
        self._adopt(sock, client, leftover)

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
        begun = threading.Event()

        def begin() -> None:
            self.stopping = True
            # No new connection may complete from here on (Linux: a socket filter
            # that drops every packet), so draining the backlog leaves nothing in
            # it to be reset.
            refuse_new_connections(self.socket)
            while self._accept_one():
                pass
            if self._listening:
                self.loop.unregister(self.socket)
                self._listening = False
            with contextlib.suppress(OSError):
                self.socket.close()
            begun.set()

        self.loop.call_soon(begin)
        begun.wait(DRAIN_WAIT_S)
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
