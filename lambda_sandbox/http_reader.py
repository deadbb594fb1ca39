"""A request reader with a deadline for the whole request and a budget for its headers.

http.server reads through a buffered socket file whose timeout applies to
each read: a client trickling a byte a second is never dropped, and a header
section may reach 100 lines of 64 KiB. ``DeadlineReader`` replaces that file
for the server's handlers: once a request line has arrived, the rest of the
request (headers and body) must arrive within the client timeout in total,
and the header section may hold at most ``header_budget`` bytes (past it the
read fails as a too-long line, which http.server answers with 431). Waiting
for the next request on a kept-alive connection is bounded by the same
timeout, per wait.
"""

from __future__ import annotations

import http.client
import socket
import time
from typing import Optional

HEADER_BUDGET = 64 * 1024
RECV_BYTES = 65536


class DeadlineReader:
    def __init__(
        self, sock: socket.socket, timeout_s: Optional[float], header_budget: int = HEADER_BUDGET
    ) -> None:
        self._sock = sock
        self._timeout_s = timeout_s
        self._buf = bytearray()
        self._deadline: Optional[float] = None
        self._header_left: Optional[int] = None
        self.header_budget = header_budget
        self.closed = False

    # -- the request's phases (called by the handler) --------------------------

    def next_request(self) -> None:
        """Between requests: the next one's clock starts with its first line."""
        self._deadline = None
        self._header_left = None

    def headers_done(self) -> None:
        self._header_left = None

    # -- file-like reads ----------------------------------------------------------

    def readline(self, limit: int = -1) -> bytes:
        while True:
            end = self._buf.find(b"\n")
            if end >= 0 and (limit < 0 or end < limit):
                return self._take(end + 1)
            if 0 <= limit <= len(self._buf):
                return self._take(limit)
            if not self._fill():
                return self._take(len(self._buf))

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            if not self._fill():
                break
        return self._take(len(self._buf) if size < 0 else min(size, len(self._buf)))

    def close(self) -> None:
        self.closed = True

    # -- internals -----------------------------------------------------------------

    def _take(self, n: int) -> bytes:
        data = bytes(self._buf[:n])
        del self._buf[:n]
        if self._deadline is None and data:
            # The request's first bytes: from now on the whole request is timed,
            # and its header section (after this, the request line) is budgeted.
            if self._timeout_s is not None:
                self._deadline = time.monotonic() + self._timeout_s
            self._header_left = self.header_budget
        elif self._header_left is not None:
            self._header_left -= len(data)
            if self._header_left < 0:
                raise http.client.LineTooLong(f"header section over {self.header_budget} bytes")
        return data

    def _fill(self) -> bool:
        """One receive into the buffer; False at end of stream."""
        if self._timeout_s is not None:
            if self._deadline is None:
                wait = self._timeout_s  # idle between requests: per wait
            else:
                wait = self._deadline - time.monotonic()
                if wait <= 0:
                    raise socket.timeout("the request did not arrive in time")
            self._sock.settimeout(wait)
        chunk = self._sock.recv(RECV_BYTES)
        if not chunk:
            return False
        self._buf += chunk
        return True
