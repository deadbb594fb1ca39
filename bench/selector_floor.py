"""The fastest floor a Python server can have: one thread, one ``selectors`` loop,
the two exchanges of a warm invoke and nothing else.

``bench.loopback_floor``'s server takes a thread per connection
(ThreadingHTTPServer), as the sandbox does. This one serves the same paths
(``POST /2015-03-31/functions/function/invocations`` and ``POST /invoke``,
``GET /2018-06-01/runtime/invocation/next`` and ``GET /next``, ``POST
.../{id}/response`` and ``POST /response/{id}``, ``POST /echo``) from a single
thread that never blocks but in ``select``: an invoke is queued or handed to a
runtime parked in ``next``, a response is written straight to the waiting
invoker. Bodies by Content-Length only, HTTP/1.1 keep-alive, no validation,
no timeouts: a floor, not a server for anything but the benchmark. What a
CPython server costs per invoke when it does no work of its own.

    python -m bench.selector_floor      # prints its port, serves until killed
"""

from __future__ import annotations

import collections
import itertools
import selectors
import socket
from typing import Deque, Dict, Optional, Tuple

from bench.loopback_floor import INVOKE_PATH, RUNTIME_INVOCATION, next_fields

INVOKE_PATHS = (INVOKE_PATH, "/invoke")
RECV_BYTES = 65536


def parse_head(head: bytes) -> Tuple[str, str, int]:
    """Method, path and Content-Length of a request head (without its blank line). Pure."""
    lines = head.split(b"\r\n")
    method, path, _ = lines[0].decode("latin-1").split(" ", 2)
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return method, path, length


def response_id(path: str) -> Optional[str]:
    """The request id a response path answers, or None when it is not one. Pure."""
    if path.startswith("/response/"):
        return path[len("/response/") :]
    if path.startswith(RUNTIME_INVOCATION) and path.endswith("/response"):
        return path[len(RUNTIME_INVOCATION) : -len("/response")]
    return None


def answer(status: int, body: bytes, extra: str = "") -> bytes:
    """One HTTP/1.1 answer, status line to body, for one write. Pure."""
    reason = {200: "OK", 202: "Accepted"}.get(status, "Not Found")
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode("latin-1") + body


class SelectorFloor:
    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.buffers: Dict[socket.socket, bytearray] = {}
        self.parked: Deque[socket.socket] = collections.deque()  # runtimes in next
        self.queued: Deque[Tuple[str, bytes]] = collections.deque()  # invokes waiting
        self.invokers: Dict[str, socket.socket] = {}
        self.ids = itertools.count(1)

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def serve_forever(self) -> None:
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.listener:
                    self._accept()
                else:
                    self._readable(key.fileobj)  # type: ignore[arg-type]

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffers[conn] = bytearray()
        self.selector.register(conn, selectors.EVENT_READ)

    def _readable(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(RECV_BYTES)
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        buf = self.buffers[conn]
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            method, path, length = parse_head(bytes(buf[:end]))
            if len(buf) < end + 4 + length:
                return
            body = bytes(buf[end + 4 : end + 4 + length])
            del buf[: end + 4 + length]
            self._request(conn, method, path, body)

    def _request(self, conn: socket.socket, method: str, path: str, body: bytes) -> None:
        if method == "POST" and path in INVOKE_PATHS:
            request_id = str(next(self.ids))
            self.invokers[request_id] = conn
            if self.parked:
                self._deliver(self.parked.popleft(), request_id, body)
            else:
                self.queued.append((request_id, body))
        elif method == "GET" and path in (RUNTIME_INVOCATION + "next", "/next"):
            if self.queued:
                self._deliver(conn, *self.queued.popleft())
            else:
                self.parked.append(conn)
        elif method == "POST" and path == "/echo":
            conn.sendall(answer(200, body))
        elif method == "POST" and response_id(path) in self.invokers:
            invoker = self.invokers.pop(str(response_id(path)))
            invoker.sendall(answer(200, body))
            conn.sendall(answer(202, b""))
        else:
            conn.sendall(answer(404, b"{}"))

    def _deliver(self, runtime: socket.socket, request_id: str, body: bytes) -> None:
        runtime.sendall(
            answer(200, body, f"Request-Id: {request_id}\r\n" + next_fields(request_id))
        )

    def _close(self, conn: socket.socket) -> None:
        self.selector.unregister(conn)
        self.buffers.pop(conn, None)
        if conn in self.parked:
            self.parked.remove(conn)
        conn.close()


def main() -> None:
    floor = SelectorFloor()
    print(floor.port, flush=True)
    floor.serve_forever()


if __name__ == "__main__":
    main()
