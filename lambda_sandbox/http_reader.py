"""A request reader with a deadline for the whole request and a budget for its headers.

http.server reads through a buffered socket file whose timeout applies to
each read: a client trickling a byte a second is never dropped, and a header
section may reach 100 lines of 64 KiB. ``DeadlineReader`` reads for the
server's handlers instead: once a request's first bytes have arrived, the rest
of the request (headers and body) must arrive within the client timeout in
total, and the header section may hold at most ``header_budget`` bytes.
Waiting for the next request on a kept-alive connection is bounded by the
same timeout, per wait.

``read_head`` takes a request's line and header section in one piece (a
search of the buffer, not a read per line); ``readline`` and ``read`` serve
the body and chunked framing, as a file's would.
"""

from __future__ import annotations

import socket
import time
from typing import Callable, Optional, Tuple

from lambda_sandbox.http_request import MAX_LINE, BadRequest

HEADER_BUDGET = 64 * 1024
RECV_BYTES = 65536
_NO_CALLBACK: Callable[[], None] = lambda: None  # noqa: E731


class DeadlineReader:
    def __init__(
        self, sock: socket.socket, timeout_s: Optional[float], header_budget: int = HEADER_BUDGET
    ) -> None:
        self._sock = sock
        self._timeout_s = timeout_s
        self._buf = bytearray()
        self._begun = False  # the current request's first bytes have arrived
        self._deadline: Optional[float] = None
        self.header_budget = header_budget

    # -- the request's phases (called by the handler) --------------------------

    def next_request(self) -> None:
        """Between requests: the next one's clock starts with its first bytes."""
        self._begun = False
        self._deadline = None

    def read_head(self, begun: Callable[[], None] = _NO_CALLBACK) -> Tuple[bytes, bytes]:
        """The request line (with its line end) and the header section's field lines
        (each with its line end; the blank line that ends the section is consumed,
        not returned). ``begun`` is called once the request's first bytes are here.

        (b"", b"") at end of stream before a request; a blank request line comes
        back alone; at end of stream mid-request, what came is returned. BadRequest:
        414 for a request line over ``MAX_LINE`` bytes, 431 for a header section
        over the budget."""
        buf = self._buf
        while not buf:
            if not self._fill():
                return b"", b""
        self._begin()
        begun()
        while True:
            end = buf.find(b"\n")
            if end >= 0:
                break
            if len(buf) > MAX_LINE:
                raise BadRequest(414, "Request-URI Too Long")
            if not self._fill():
                return self._take_raw(len(buf)), b""
        if end + 1 > MAX_LINE:
            raise BadRequest(414, "Request-URI Too Long")
        if not buf[: end + 1].strip():
            return self._take_raw(end + 1), b""  # a blank line: no request
        scanned = end  # the section's end is searched for from here on
        while True:
            stop, skip = section_end(buf, scanned)
            if stop >= 0:
                if stop - end > self.header_budget:
                    raise BadRequest(431, "Request Header Fields Too Large")
                line = bytes(buf[: end + 1])
                section = bytes(buf[end + 1 : stop + 1])
                del buf[: stop + skip]
                return line, section
            if len(buf) - end > self.header_budget:
                raise BadRequest(431, "Request Header Fields Too Large")
            scanned = max(end, len(buf) - 2)
            if not self._fill():
                line = bytes(buf[: end + 1])
                section = bytes(buf[end + 1 :])
                del buf[:]
                return line, section

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

    # -- the loop's hand-off (``http_server``) ------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes the loop read before it handed the connection off: read first."""
        self._buf += data

    def take_buffered(self) -> bytes:
        """What was read past the request (a pipelined next one): for the loop."""
        data = bytes(self._buf)
        del self._buf[:]
        return data

    # -- internals -----------------------------------------------------------------

    def _begin(self) -> None:
        """The request's first bytes: from now on the whole request is timed."""
        self._begun = True
        if self._timeout_s is not None:
            self._deadline = time.monotonic() + self._timeout_s

    def _take_raw(self, n: int) -> bytes:
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def _take(self, n: int) -> bytes:
        if not self._begun and n:
            self._begin()
        return self._take_raw(n)

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


def section_end(buf: bytearray, start: int) -> Tuple[int, int]:
    """Where the header section ends, searched from ``start``: the index of the last
    field line's LF (the request line's, when there are no fields) and how many
    bytes from there to the end of the blank line (3 for LF CR LF, 2 for LF LF);
    (-1, 0) while the blank line has not arrived."""
    crlf = buf.find(b"\n\r\n", start)
    lf = buf.find(b"\n\n", start)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf, 3
    if lf >= 0:
        return lf, 2
    return -1, 0
