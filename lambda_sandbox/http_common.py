"""What the sandbox's two HTTP servers share: bounded body reads, JSON replies."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

log = logging.getLogger("lambda_sandbox.http")

# Beyond this a body is not even drained: the connection is closed instead.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024


class BodyTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class BadBody(Exception):
    pass


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
    ) -> None:
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.context = context
        # A client that stops sending mid-request (or idles on a keep-alive
        # connection) is dropped after this long instead of holding a thread.
        self.client_timeout_s = client_timeout_s
        super().__init__(address, handler)

    def shutdown(self) -> None:
        """Stop serve_forever now, not at its next poll (up to poll_interval later).

        socketserver offers no way to wake its loop, so this does what its
        shutdown does (set the request flag, wait for the loop to end) with one
        step between: shutting the listening socket's read side down makes the
        loop's select return at once (Linux), and the loop checks the flag
        before it accepts. The attribute names are socketserver's own,
        unchanged from CPython 3.7 to 3.13.
        """
        if not hasattr(self, "_BaseServer__is_shut_down"):
            super().shutdown()
            return
        self._BaseServer__shutdown_request = True
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RD)
        self._BaseServer__is_shut_down.wait()

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Answer even an unparsable request line with a status line (http.server
    # would otherwise treat it as HTTP/0.9 and send a bare body).
    default_request_version = "HTTP/1.1"
    server_version = "lambda-sandbox"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle's
        # algorithm meets the client's delayed ACK and adds ~40 ms per reply.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        timeout = getattr(self.server, "client_timeout_s", None)
        if timeout is not None:
            self.connection.settimeout(timeout)

    def parse_request(self) -> bool:
        self.body_consumed = False
        return super().parse_request()

    def _declares_body(self) -> bool:
        length = self.headers.get("Content-Length") if self.headers else None
        chunked = self.headers.get("Transfer-Encoding", "") if self.headers else ""
        return bool(length and length.strip() not in ("", "0")) or chunked.lower() == "chunked"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def read_body(self, limit: int) -> bytes:
        """The request body; BodyTooLarge past ``limit`` (drained when cheap)."""
        self.body_consumed = True
        raw = self.headers.get("Content-Length")
        if raw is None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                return self._read_chunked(limit)
            return b""
        try:
            length = int(raw)
        except ValueError:
            self.close_connection = True
            raise BadBody(f"Content-Length {raw!r} is not a number") from None
        if length < 0:
            self.close_connection = True
            raise BadBody(f"Content-Length {length} is negative")
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
        parts: List[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024).strip()
            try:
                size = int(line.split(b";")[0], 16)
            except ValueError:
                self.close_connection = True
                raise BadBody("malformed chunked body") from None
            if size == 0:
                self.rfile.readline(1024)
                return b"".join(parts)
            total += size
            if total > limit:
                self.close_connection = True
                raise BodyTooLarge(total)
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def send(
        self,
        status: int,
        body: bytes = b"",
        headers: Optional[Dict[str, str]] = None,
        content_type: str = "application/json",
    ) -> None:
        if not getattr(self, "body_consumed", True) and self._declares_body():
            # Answered without reading the body: what is left of it on the
            # connection must not be parsed as the next request.
            self.close_connection = True
        try:
            self.send_response(status)
            if body or status not in (202, 204):
                self.send_header("Content-Type", content_type)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if body:
                self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_json(self, status: int, obj: Any, headers: Optional[Dict[str, str]] = None) -> None:
        self.send(status, json.dumps(obj).encode("utf-8"), headers)
