"""One client's connection while the HTTP loop (``http_loop``) serves it: its
requests read and parsed strictly (``http_request``, ``http_framing``), the
frequent ones answered through the server's fast routes, now or later, the
rest handed off (``http_server``); answers written without blocking; the
client timeout kept, and a client that goes away while its answer is pending
noticed. Standard library only, CPython 3.7+.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from typing import Any, Callable, Dict, NamedTuple, Optional

try:
    from typing import Protocol
except ImportError:  # CPython 3.7: the protocol is for the type checker only
    Protocol = object  # type: ignore[assignment]

from lambda_sandbox import http_framing, http_request
from lambda_sandbox.http_common import encode_answer
from lambda_sandbox.http_loop import Loop
from lambda_sandbox.http_reader import HEADER_BUDGET, RECV_BYTES, section_end
from lambda_sandbox.http_sections import SectionMemo


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


class Server(Protocol):
    """What a connection asks of its server (``http_server.LoopServer``)."""

    loop: Loop
    routes: FastRoutes
    sections: SectionMemo
    client_timeout_s: Optional[float]
    stopping: bool

    def mark(self, sock: socket.socket, idle: bool) -> None: ...

    def forget(self, connection: "Connection") -> None: ...

    def hand_off(self, connection: "Connection") -> None: ...


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

    def __init__(self, server: Server, sock: socket.socket, address: Any) -> None:
        self.server = server
        self.sock = sock
        self.address = address
        self.buf = bytearray()
        # What of the last answer the socket has not taken yet (a view: sending
        # the rest of a large answer copies nothing).
        self.out = memoryview(b"")
        self.head: Optional[_Head] = None
        self.pending = False  # a request has been taken and awaits its answer
        self.keep_alive = True
        self.close_after = False
        self.closed = False
        self.eof = False  # the client has ended its side: nothing more to read
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
                if self.on_gone is not None:
                    self.close()  # a waiting next: its client went away, it gives up
                    return
                # An invoke whose client ended its side: it still gets its answer.
                self.eof = True
            self._want(write=bool(self.out), read=False)  # a pipelined request waits
            return
        try:
            chunk = self.sock.recv(RECV_BYTES)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            # The client has sent all it will: nothing more to read (a socket at
            # its end stays readable), what it sent is still answered.
            self.eof = True
            self._want(write=bool(self.out), read=False)
            self._finish_input()
            return
        if not self.buf:
            self._begin()
        self.buf += chunk
        self.serve()

    def start(self, buffered: bytes) -> None:
        """Begin serving, with what was read before (by a handed-off request's thread)."""
        if buffered:
            self.buf += buffered
            self._begin()
            self.serve()
        else:
            self._idle()

    def _begin(self) -> None:
        """A request's first bytes: from now on the whole request is timed."""
        self._wait(idle=False)

    def _idle(self) -> None:
        """Waiting for a request: the wait is timed."""
        self._wait(idle=True)

    def _wait(self, idle: bool) -> None:
        timeout = self.server.client_timeout_s
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.server.mark(self.sock, idle)

    # -- requests ------------------------------------------------------------------

    def serve(self) -> None:
        """Take every complete request the buffer holds, one at a time: the next only
        once the last one's answer has gone out whole."""
        if self._serving:
            return
        self._serving = True
        try:
            while self.buf and not self.pending and not self.out and not self.closed:
                outcome = self._take_request()
                if outcome == _WAIT and not self.eof:
                    return
                if outcome != _SERVED:
                    # Or cut off by the client's end: the threaded handler gives a
                    # cut-off request the answer it gives one.
                    self.server.hand_off(self)
                    return
        finally:
            self._serving = False
        if self.eof:
            self._finish_input()
        elif not self.buf and not self.pending and not self.closed:
            self._idle()

    def _finish_input(self) -> None:
        """After the client's end: serve what it sent; close once nothing is left to
        answer or write."""
        if self.closed or self.pending or self.out:
            return  # the answer, or the end of its write, comes back here
        if self.buf:
            self.serve()
        else:
            self.close()

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
            fields, kind, length = self.server.sections.parse(bytes(buf[end + 1 : stop + 1]))
        except (http_request.BadRequest, http_framing.BadFraming):
            return _HAND_OFF
        if line is None or kind == "chunked" or "expect" in fields:
            return _HAND_OFF
        path = line.path.split("?", 1)[0]
        limit = self.server.routes.body_limit(line.command, path, fields)
        if limit is None or length > limit:
            return _HAND_OFF
        keep_alive = http_request.keeps_alive(line, fields)
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
        if self.buf or self.eof:
            self._begin()
            self.server.loop.call_soon(self.serve)
        else:
            self._idle()
        self._want(write=bool(self.out), read=not self.eof)

    def _write(self, data: bytes) -> None:
        """An answer: sent now as far as the socket takes it, the rest when it can.
        (Only one answer is ever on its way: the next request waits for it.)"""
        assert not self.out, "an answer while the last one is still going out"
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close()
            return
        if sent < len(data):
            self.out = memoryview(data)[sent:]
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
        self._want(write=False, read=not self.eof)
        if self.buf or self.eof:
            self.serve()  # what came while the answer was going out

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
