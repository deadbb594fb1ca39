"""What the sandbox's two HTTP servers share: bounded body reads, JSON replies."""

from __future__ import annotations

import contextlib
import errno
import html
import json
import logging
import select
import socket
import socketserver
import struct
import threading
import time
from email.utils import formatdate
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

from lambda_sandbox import http_framing, http_request
from lambda_sandbox.connections import ConnectionTable, refuse
from lambda_sandbox.header_values import safe_header_value
from lambda_sandbox.http_reader import DeadlineReader

log = logging.getLogger("lambda_sandbox.http")

# How long the server loop pauses when accept() finds no descriptor left.
ACCEPT_PAUSE_S = 0.05

# At stop, how long the answers still owed may take to go out, and how long a
# connection that has sent no request yet may take to begin one.
DRAIN_WAIT_S = 2.0
IDLE_GRACE_S = 0.1

# Beyond this a body is not even drained: the connection is closed instead.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024


# http.server's error page (DEFAULT_ERROR_MESSAGE), and its media type.
ERROR_PAGE = """<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: %(code)d</p>
        <p>Message: %(message)s.</p>
        <p>Error code explanation: %(code)s - %(explain)s.</p>
    </body>
</html>
"""
ERROR_CONTENT_TYPE = "text/html;charset=utf-8"

_PHRASES: Dict[int, Tuple[str, str]] = {
    int(status): (status.phrase, status.description) for status in HTTPStatus
}
_STATUS_LINES: Dict[int, str] = {
    code: f"HTTP/1.1 {code} {phrase}\r\n" for code, (phrase, _) in _PHRASES.items()
}


def _status_line(status: int) -> str:
    return _STATUS_LINES.get(status) or f"HTTP/1.1 {status} \r\n"


_date_cache: List[Any] = [-1, ""]  # (second, "Server: ...\r\nDate: ...\r\n")


def _server_and_date() -> str:
    """The Server and Date fields http.server sends, the date formatted once a second."""
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[1] = f"Server: lambda-sandbox\r\nDate: {formatdate(now, usegmt=True)}\r\n"
        _date_cache[0] = now
    return str(_date_cache[1])


class BodyTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class BadBody(Exception):
    """The body cannot be read as framed; ``status``: 400, or 501 for a transfer
    coding the server does not support."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


SO_ATTACH_FILTER = 26
BPF_RET_K = 0x06  # BPF_RET | BPF_K: return a constant (0: keep no byte of the packet)


def refuse_new_connections(listener: socket.socket) -> bool:
    """Attach a classic BPF filter that drops every packet to ``listener``; whether it
    took (Linux only; elsewhere the backlog's drain alone must do)."""
    try:
        import ctypes

        program = (ctypes.c_uint64 * 1)(BPF_RET_K)  # code 0x06, jt 0, jf 0, k 0
        fprog = struct.pack("@HP", 1, ctypes.addressof(program))
        listener.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except (ImportError, OSError, struct.error):
        return False
    return True


def _has_pending_bytes(conn: socket.socket) -> bool:
    """Whether ``conn`` has something to read (a request begun, or the client's close):
    its handler then ends by itself. Nothing is consumed."""
    return bool(select.select([conn], [], [], 0)[0])


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: Tuple[str, int],
        handler: Any,
        context: Any,
        client_timeout_s: Optional[float] = None,
        connections: Optional[ConnectionTable] = None,
    ) -> None:
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.context = context
        # A client that stops sending mid-request (or idles on a keep-alive
        # connection) is dropped after this long instead of holding a thread.
        self.client_timeout_s = client_timeout_s
        # Shared by all the sandbox's servers: how many connections may be open.
        self.connections = connections
        self.stopping = False  # answers go out with "Connection: close" from now on
        self._last_accept_warning = 0.0
        # Every connection being handled, with its thread: joined at stop.
        self._handlers: Dict[socket.socket, threading.Thread] = {}
        self._handlers_lock = threading.Lock()
        super().__init__(address, handler)

    # -- admission -----------------------------------------------------------------

    def get_request(self) -> Tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError as err:
            if err.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                self._cannot_accept(err)
            raise  # socketserver drops the attempt; the client stays in the backlog

    def _cannot_accept(self, err: OSError) -> None:
        """Out of descriptors: say so (once in 10 s) and pause, instead of spinning."""
        now = time.monotonic()
        if now - self._last_accept_warning >= 10.0:
            self._last_accept_warning = now
            log.warning("%s: cannot accept a connection: %s", self.address, err.strerror)
        time.sleep(ACCEPT_PAUSE_S)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self.connections is None or self.connections.admit(request):
            return True
        refuse(request)
        return False

    def process_request(self, request: Any, client_address: Any) -> None:
        handler = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self._handlers_lock:
            self._handlers[request] = handler
        handler.start()

    def shutdown_request(self, request: Any) -> None:
        with self._handlers_lock:
            self._handlers.pop(request, None)
        if self.connections is not None:
            self.connections.forget(request)
        super().shutdown_request(request)

    # -- stopping ------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop serving now, not at the loop's next poll, and leave no client without
        an answer: what the backlog holds is handled, the listening socket is
        closed (later clients are refused, not reset), idle connections are
        closed, and requests in progress finish, each bounded by DRAIN_WAIT_S.

        socketserver offers no way to wake its loop, so this does what its
        shutdown does (set the request flag, wait for the loop to end) with one
        step between: a connection to the server itself makes the loop's select
        return, and the loop checks the flag before it accepts. (Shutting the
        listening socket down would wake it too, but Linux then resets every
        connection in the backlog.) The attribute names are socketserver's
        own, unchanged from CPython 3.7 to 3.13.
        """
        if not hasattr(self, "_BaseServer__is_shut_down"):
            super().shutdown()
            return
        self._BaseServer__shutdown_request = True
        self.stopping = True
        self._wake()
        self._BaseServer__is_shut_down.wait()
        # No new connection may complete from here on (Linux: a socket filter that
        # drops every packet; a client's SYN is retried, then refused at close), so
        # draining the backlog leaves nothing in it to be reset.
        refuse_new_connections(self.socket)
        self.drain_backlog()
        self.socket.close()
        self.finish_handlers()

    def _wake(self) -> None:
        host, port = self.server_address[:2]
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(str(host), str(host))
        with contextlib.suppress(OSError), socket.socket(self.address_family) as poke:
            poke.settimeout(0.5)
            poke.connect((host, port))

    def drain_backlog(self) -> None:
        """Accept and hand on what the backlog holds now."""
        try:
            self.socket.setblocking(False)
        except OSError:
            return
        while True:
            try:
                request, client_address = self.socket.accept()
            except OSError:  # empty (EAGAIN), or closed
                return
            request.setblocking(True)
            if self.verify_request(request, client_address):
                self.process_request(request, client_address)
            else:
                self.shutdown_request(request)

    def finish_handlers(self, wait_s: float = DRAIN_WAIT_S) -> None:
        """Wait up to ``wait_s`` for every connection's answer to go out; a connection
        still waiting for its request after IDLE_GRACE_S (a client that connected
        and sends nothing, one kept alive between requests) is closed then."""
        deadline = time.monotonic() + wait_s
        with self._handlers_lock:
            handlers = dict(self._handlers)
        grace_end = time.monotonic() + IDLE_GRACE_S
        for handler in handlers.values():
            handler.join(max(0.0, grace_end - time.monotonic()))
        for conn, handler in handlers.items():
            if not handler.is_alive():
                continue
            if self.connections is not None and self.connections.is_idle(conn):
                with contextlib.suppress(OSError):
                    if not _has_pending_bytes(conn):
                        conn.shutdown(socket.SHUT_RDWR)
        for handler in handlers.values():
            handler.join(max(0.0, deadline - time.monotonic()))

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Handler(socketserver.BaseRequestHandler):
    """One connection's requests, one after another (HTTP/1.1 keep-alive).

    What http.server's BaseHTTPRequestHandler does, with less work per request
    (``python -m bench.invoke_profile`` measured its parsing and answering at
    about 40% of the sandbox's CPU per warm invoke): the request line and the
    header section are taken in one piece and parsed strictly (``http_request``),
    an answer goes out in one write, and nothing is formatted for a log nobody
    reads. The answers are http.server's: 400, 414, 431, 501 and 505 for a
    request that cannot be served (an HTML body, then the connection closes),
    ``100 Continue`` when asked for, ``do_<METHOD>`` for the rest.
    """

    default_request_version = "HTTP/1.1"

    def setup(self) -> None:
        self.connection: socket.socket = self.request
        # Headers and body go out in one write; NODELAY still matters for the
        # 100 Continue interim answer, which Nagle's algorithm would hold back.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        timeout = getattr(self.server, "client_timeout_s", None)
        if timeout is not None:
            self.connection.settimeout(timeout)
        # The whole request within the timeout, its headers within a budget.
        self.rfile = DeadlineReader(self.connection, timeout)
        self.command: Optional[str] = None
        self.path = ""
        self.request_version = self.default_request_version
        self.headers = http_request.Fields()
        self.close_connection = True
        self.body_consumed = True

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            self.handle_one_request()

    def finish(self) -> None:
        self.rfile.close()

    def handle_one_request(self) -> None:
        try:
            self.rfile.next_request()
            self._mark(idle=True)  # waiting for a request line: may make room for a newcomer
            if not self.parse_request():
                return
            method = getattr(self, "do_" + str(self.command), None)
            if method is None:
                self.send_error(501, f"Unsupported method ({self.command!r})")
                return
            method()
        except socket.timeout as err:
            log.debug("%s: request timed out: %s", self.client_address, err)
            self.close_connection = True
            return
        if getattr(self.server, "stopping", False):
            self.close_connection = True

    def parse_request(self) -> bool:
        """The request line and header fields, parsed strictly and without the email
        package (``http_request``); False when there is nothing to serve (end of
        stream, a blank line, or a bad request, which has been answered). The
        Connection and Expect fields are handled as http.server handles them."""
        self.body_consumed = False
        self.command = None
        self.request_version = self.default_request_version
        self.close_connection = True
        self.headers = http_request.Fields()
        try:
            raw, section = self.rfile.read_head(lambda: self._mark(idle=False))
            if not raw:
                return False
            line = http_request.parse_request_line(raw, self.default_request_version)
            if line is None:
                return False
            self.command, self.path = line.command, line.path
            self.request_version = line.version
            self.close_connection = not line.keep_alive
            self.headers = http_request.parse_fields(section)
        except http_request.BadRequest as bad:
            self.send_error(bad.status, bad.message)
            return False
        connection = self.headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        expect = self.headers.get("Expect", "").lower()
        if expect == "100-continue" and self.request_version >= "HTTP/1.1":
            return self._continue()
        return True

    def _continue(self) -> bool:
        try:
            self.connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        except OSError:
            self.close_connection = True
            return False
        return True

    def send_error(self, status: int, message: str) -> None:
        """http.server's error answer: a small HTML page, and the connection closes."""
        self.close_connection = True
        explain = _PHRASES.get(status, ("", ""))[1]
        page = ERROR_PAGE % {
            "code": status,
            "message": html.escape(message, quote=False),
            "explain": html.escape(explain, quote=False),
        }
        self.send(status, page.encode("utf-8", "replace"), content_type=ERROR_CONTENT_TYPE)

    def client_gone(self) -> bool:
        """Whether the client has closed its side of the connection (for a handler
        that waits with the request read: a long-polling ``next``)."""
        try:
            if not _has_pending_bytes(self.connection):
                return False
            peeked: bytes = self.connection.recv(1, socket.MSG_PEEK)
        except (OSError, ValueError):
            return True
        return peeked == b""

    def _mark(self, idle: bool) -> None:
        connections = getattr(self.server, "connections", None)
        if connections is not None:
            connections.mark(self.connection, idle)

    def _framing(self) -> Tuple[str, int]:
        headers = self.headers
        return http_framing.framing(
            headers.get_all("Content-Length") or [], headers.get_all("Transfer-Encoding") or []
        )

    def _declares_body(self) -> bool:
        try:
            kind, length = self._framing()
        except http_framing.BadFraming:
            return True  # unknown framing: what follows cannot be trusted
        return kind == "chunked" or length > 0

    def read_body(self, limit: int) -> bytes:
        """The request body; BodyTooLarge past ``limit`` (drained when cheap), BadBody
        for framing RFC 9112 rejects (the connection is then closed)."""
        self.body_consumed = True
        try:
            kind, length = self._framing()
        except http_framing.BadFraming as bad:
            self.close_connection = True
            raise BadBody(str(bad), bad.status) from None
        if kind == "chunked":
            return self._read_chunked(limit)
        if kind == "none":
            return b""
        if length > limit:
            if length <= DRAIN_LIMIT_BYTES:
                self._drain(length)
            else:
                self.close_connection = True
            raise BodyTooLarge(length)
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            raise BadBody(f"body ended after {len(body)} of {length} bytes")
        return body

    def _drain(self, length: int) -> None:
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                self.close_connection = True
                return
            remaining -= len(chunk)

    def _read_chunked(self, limit: int) -> bytes:
        try:
            return self._chunks(limit)
        except http_framing.BadFraming as bad:
            self.close_connection = True
            raise BadBody(f"malformed chunked body: {bad}", bad.status) from None

    def _chunks(self, limit: int) -> bytes:
        parts: List[bytes] = []
        total = 0
        while True:
            size = http_framing.chunk_size(self.rfile.readline(http_framing.LINE_LIMIT))
            if size == 0:
                break
            total += size
            if total > limit:
                self.close_connection = True
                raise BodyTooLarge(total)
            data = self.rfile.read(size)
            if len(data) < size:
                raise http_framing.BadFraming(f"chunk ended after {len(data)} of {size} bytes")
            parts.append(data)
            if not http_framing.is_line_end(self.rfile.readline(3)):
                raise http_framing.BadFraming("chunk data not followed by CRLF")
        # The trailer section: fields (ignored) up to an empty line.
        for _ in range(http_framing.MAX_TRAILER_LINES):
            line = self.rfile.readline(http_framing.LINE_LIMIT)
            if http_framing.is_line_end(line):
                return b"".join(parts)
            if not line.endswith(b"\n") or b":" not in line:
                raise http_framing.BadFraming("malformed trailer section")
        raise http_framing.BadFraming("too many trailer fields")

    def send(
        self,
        status: int,
        body: bytes = b"",
        headers: Optional[Dict[str, str]] = None,
        content_type: str = "application/json",
    ) -> None:
        if not self.body_consumed and self._declares_body():
            # Answered without reading the body: what is left of it on the
            # connection must not be parsed as the next request.
            self.close_connection = True
        parts = [_status_line(status), _server_and_date()]
        if body or status not in (202, 204):
            parts.append(f"Content-Type: {content_type}\r\n")
        for name, value in (headers or {}).items():
            # The last line of defence: a value that would end the header
            # line early, or that Latin-1 cannot carry, is left out.
            if not safe_header_value(value):
                log.error("header %s left out: its value cannot be a header", name)
                continue
            parts.append(f"{name}: {value}\r\n")
        parts.append(f"Content-Length: {len(body)}\r\n")
        if self.close_connection:
            parts.append("Connection: close\r\n")
        parts.append("\r\n")
        try:
            self.connection.sendall("".join(parts).encode("latin-1", "strict") + body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_json(self, status: int, obj: Any, headers: Optional[Dict[str, str]] = None) -> None:
        self.send(status, json.dumps(obj).encode("utf-8"), headers)
