"""What the sandbox's HTTP servers share: the answer's encoding, and the threaded
handler that serves a request the loop (``http_server``) hands off."""

from __future__ import annotations

import contextlib
import html
import json
import logging
import select
import socket
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Dict, List, Optional, Tuple

from lambda_sandbox import http_framing, http_request
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


def _has_pending_bytes(conn: socket.socket) -> bool:
    """Whether ``conn`` has something to read (a request begun, or the client's close).
    Nothing is consumed."""
    return bool(select.select([conn], [], [], 0)[0])


def request_framing(fields: http_request.Fields) -> Tuple[str, int]:
    """A request's body framing from its Content-Length and Transfer-Encoding fields
    (``http_framing.framing``: BadFraming for what RFC 9112 refuses)."""
    return http_framing.framing(
        fields.get_all("Content-Length") or [], fields.get_all("Transfer-Encoding") or []
    )


def encode_answer(
    status: int,
    body: bytes,
    headers: Optional[Dict[str, str]],
    content_type: str,
    close: bool,
) -> bytes:
    """An answer as it goes out, in one piece: the status line, http.server's Server
    and Date fields, the content type (none for an empty 202 or 204), the given
    fields, Content-Length, and ``Connection: close`` when the connection closes."""
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
    if close:
        parts.append("Connection: close\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("latin-1", "strict") + body


class Handler:
    """One request the loop handed off (``http_server``), served on the handed-off
    connection's own thread, blocking.

    What http.server's BaseHTTPRequestHandler does, with less work per request:
    the request line and the header section are taken in one piece and parsed
    strictly (``http_request``), an answer goes out in one write, and nothing is
    formatted for a log nobody reads. The answers are http.server's: 400, 414,
    431, 501 and 505 for a request that cannot be served (an HTML body, then the
    connection closes), ``100 Continue`` when asked for, ``do_<METHOD>`` for the
    rest. ``server`` is the ``LoopServer``: its context, client timeout,
    connection table and whether it is stopping.
    """

    default_request_version = "HTTP/1.1"

    def __init__(self, sock: socket.socket, client_address: Any, server: Any) -> None:
        self.client_address = client_address
        self.server = server
        self.connection: socket.socket = sock
        # Headers and body go out in one write; NODELAY still matters for the
        # 100 Continue interim answer, which Nagle's algorithm would hold back.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        timeout = getattr(server, "client_timeout_s", None)
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
            self.headers = http_request.parse_fields(section)
        except http_request.BadRequest as bad:
            self.send_error(bad.status, bad.message)
            return False
        self.close_connection = not http_request.keeps_alive(line, self.headers)
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

    def _declares_body(self) -> bool:
        try:
            kind, length = request_framing(self.headers)
        except http_framing.BadFraming:
            return True  # unknown framing: what follows cannot be trusted
        return kind == "chunked" or length > 0

    def read_body(self, limit: int) -> bytes:
        """The request body; BodyTooLarge past ``limit`` (drained when cheap), BadBody
        for framing RFC 9112 rejects (the connection is then closed)."""
        self.body_consumed = True
        try:
            kind, length = request_framing(self.headers)
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
        answer = encode_answer(status, body, headers, content_type, self.close_connection)
        try:
            self.connection.sendall(answer)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_json(self, status: int, obj: Any, headers: Optional[Dict[str, str]] = None) -> None:
        self.send(status, json.dumps(obj).encode("utf-8"), headers)
