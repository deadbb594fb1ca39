"""The HTTP loop (lambda_sandbox.http_server, its connections and loop), on loopback
sockets: it answers its fast routes itself, now or later, in order; it hands
every other request to the threaded handler and takes the connection back; it
keeps the client timeout, gives up a waiting request whose client went away,
and stops without leaving a client unanswered."""

from __future__ import annotations

import socket
import threading
import time
import weakref
from typing import BinaryIO, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from lambda_sandbox.connections import ConnectionTable
from lambda_sandbox.http_common import BadBody, BodyTooLarge, Handler
from lambda_sandbox.http_connection import Connection, FastRoutes, Request
from lambda_sandbox.http_loop import Loop
from lambda_sandbox.http_request import Fields
from lambda_sandbox.http_server import LoopServer


class Routes(FastRoutes):
    """GET /now answers at once with who answered; GET /later waits for ``release``;
    POST /echo answers its body. Everything else is handed off."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.waiting: List[Connection] = []
        self.gone: List[str] = []

    def body_limit(self, command: str, path: str, fields: Fields) -> Optional[int]:
        if (command, path) in (("GET", "/now"), ("GET", "/later"), ("GET", "/big")):
            return 0
        if (command, path) == ("POST", "/slow"):
            return 1024
        if (command, path) == ("POST", "/echo"):
            return 1024
        return None

    def serve(self, request: Request, exchange: Connection) -> None:
        if request.path == "/later":
            self.waiting.append(exchange)
            exchange.on_gone = lambda: self.gone.append(request.path)
            return
        if request.path == "/slow":  # answered later, and not given up if the client ends
            self.loop.call_later(0.2, lambda: exchange.reply(200, b"slow", content_type="x/y"))
            return
        if request.path == "/big":
            exchange.reply(200, BIG, content_type="application/octet-stream")
            return
        body = request.body if request.command == "POST" else threading.current_thread().name
        if isinstance(body, str):
            body = body.encode()
        exchange.reply(200, body, content_type="text/plain")

    def release(self, body: bytes) -> None:
        def answer() -> None:
            self.waiting.pop(0).reply(200, body, content_type="text/plain")

        self.loop.call_soon(answer)


class Threaded(Handler):
    def do_GET(self) -> None:
        self.send(200, threading.current_thread().name.encode(), content_type="text/plain")

    def do_POST(self) -> None:
        try:
            body = self.read_body(1024)
        except BodyTooLarge:
            self.send(413, b"too large", content_type="text/plain")
            return
        except BadBody as bad:
            self.send(bad.status, str(bad).encode(), content_type="text/plain")
            return
        self.send(200, body, content_type="text/plain")


Served = Tuple[Loop, LoopServer, Routes]
BIG = bytes(range(256)) * 32 * 1024  # 8 MiB: more than a socket takes at once


@pytest.fixture
def served() -> Iterator[Served]:
    loop = Loop()
    routes = Routes(loop)
    server = LoopServer(
        loop, ("127.0.0.1", 0), Threaded, None, routes, client_timeout_s=0.5,
        connections=ConnectionTable(16),
    )  # fmt: skip
    try:
        yield loop, server, routes
    finally:
        server.shutdown()
        server.server_close()
        loop.close()


def connect(server: LoopServer) -> socket.socket:
    sock = socket.create_connection(server.server_address[:2], timeout=5)
    return sock


_readers: "weakref.WeakKeyDictionary[socket.socket, BinaryIO]" = weakref.WeakKeyDictionary()


def read_answer(sock: socket.socket) -> Tuple[int, Dict[str, str], bytes]:
    """The next answer on ``sock``: status, fields (lower-case names), body."""
    reader = _readers.get(sock)
    if reader is None:
        reader = _readers[sock] = sock.makefile("rb")
    line = reader.readline()
    if not line:
        raise ConnectionError("closed before an answer")
    status = int(line.split()[1])
    fields: Dict[str, str] = {}
    for raw in iter(reader.readline, b"\r\n"):
        if not raw:
            raise ConnectionError("closed in the middle of an answer")
        name, _, value = raw.decode("latin-1").partition(":")
        fields[name.lower()] = value.strip()
    body = reader.read(int(fields.get("content-length", "0")))
    return status, fields, body


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


def wait_for(condition: Callable[[], bool], within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_a_fast_route_is_answered_on_the_loops_thread(served: Served) -> None:
    loop, server, _ = served
    with connect(server) as sock:
        sock.sendall(get("/now"))
        status, fields, body = read_answer(sock)
        assert (status, body) == (200, loop.thread.name.encode())
        assert fields["content-type"] == "text/plain" and "connection" not in fields


def test_another_route_goes_to_a_thread_and_the_connection_comes_back(served: Served) -> None:
    loop, server, _ = served
    with connect(server) as sock:
        sock.sendall(get("/elsewhere"))
        status, _, body = read_answer(sock)
        assert status == 200 and body == b"http-handoff"
        sock.sendall(get("/now"))  # the same connection, served by the loop again
        assert read_answer(sock)[2] == loop.thread.name.encode()


def test_a_body_arriving_in_pieces_is_read_whole(served: Served) -> None:
    _, server, _ = served
    with connect(server) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nhello")
        time.sleep(0.05)
        sock.sendall(b"world")
        assert read_answer(sock)[2] == b"helloworld"


def test_pipelined_requests_are_answered_in_order_after_a_waiting_one(served: Served) -> None:
    _, server, routes = served
    with connect(server) as sock:
        sock.sendall(get("/later") + b"POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nok")
        assert wait_for(lambda: len(routes.waiting) == 1)
        time.sleep(0.05)
        routes.release(b"first")
        assert read_answer(sock)[2] == b"first"
        assert read_answer(sock)[2] == b"ok"


def test_what_the_loop_does_not_take_gets_the_threaded_answer(served: Served) -> None:
    _, server, _ = served
    cases = [
        (b"POST /echo HTTP/1.1\r\nContent-Length: 4096\r\n\r\n" + b"x" * 4096, 413),
        (b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", 200),
        (b"PUT /now HTTP/1.1\r\n\r\n", 501),
        (b"POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"GET /now HTTP/3.0\r\n\r\n", 505),
        (b"GET /now HTTP/1.1\r\nBad Name: 1\r\n\r\n", 400),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
    ]
    for raw, status in cases:
        with connect(server) as sock:
            sock.sendall(raw)
            assert read_answer(sock)[0] == status, raw[:40]


def test_a_request_cut_off_by_the_client_gets_the_threaded_answer(served: Served) -> None:
    _, server, _ = served
    with connect(server) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        sock.shutdown(socket.SHUT_WR)
        assert read_answer(sock)[0] == 400  # the body ended after 3 of 10 bytes


def test_an_answer_goes_out_whole_before_the_next_request_is_taken(served: Served) -> None:
    # The next request is one the loop hands off: the rest of the big answer must
    # not be left behind with the connection.
    _, server, _ = served
    with connect(server) as sock:
        sock.sendall(get("/big") + get("/elsewhere"))
        time.sleep(0.3)  # the loop meets a full socket buffer meanwhile
        assert read_answer(sock)[2] == BIG
        assert read_answer(sock)[2] == b"http-handoff"


def test_a_client_that_ends_its_side_still_gets_every_answer(served: Served) -> None:
    _, server, _ = served
    with connect(server) as sock:
        sock.sendall(get("/now") + b"POST /slow HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        assert read_answer(sock)[0] == 200
        assert read_answer(sock)[2] == b"slow"
        assert sock.recv(1) == b""  # then the loop closes


def test_a_request_must_arrive_within_the_client_timeout(served: Served) -> None:
    _, server, _ = served
    with connect(server) as sock:
        began = time.monotonic()
        sock.sendall(b"GET /now HTTP/1.1\r\n")
        for _ in range(20):  # a byte every 0.1 s: never a whole request in 0.5 s
            time.sleep(0.1)
            try:
                sock.sendall(b"X")
            except OSError:
                break
        sock.settimeout(2)
        try:
            data = sock.recv(1024)
        except ConnectionResetError:  # closed while our last bytes were on the way
            data = b""
        assert data == b""
        assert time.monotonic() - began < 1.5


def test_an_idle_connection_is_closed_after_the_client_timeout(served: Served) -> None:
    _, server, _ = served
    with connect(server) as sock:
        sock.sendall(get("/now"))
        read_answer(sock)
        began = time.monotonic()
        sock.settimeout(3)
        assert sock.recv(1) == b""
        assert 0.4 < time.monotonic() - began < 1.5


def test_a_waiting_request_whose_client_goes_away_is_given_up(served: Served) -> None:
    _, server, routes = served
    sock = connect(server)
    sock.sendall(get("/later"))
    assert wait_for(lambda: len(routes.waiting) == 1)
    sock.close()
    assert wait_for(lambda: routes.gone == ["/later"])
    # A waiting request is not timed out: only reading one is.
    with connect(server) as other:
        other.sendall(get("/later"))
        assert wait_for(lambda: len(routes.waiting) == 2)
        time.sleep(0.8)
        routes.waiting.pop(0)  # the gone one
        routes.release(b"still here")
        assert read_answer(other)[2] == b"still here"


def test_a_large_answer_goes_out_whole(served: Served) -> None:
    _, server, _ = served
    big = b"y" * 1000
    with connect(server) as sock:
        for _ in range(50):
            sock.sendall(b"POST /echo HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" + big)
        for _ in range(50):
            assert read_answer(sock)[2] == big


def test_stopping_answers_what_is_owed_closes_idle_and_refuses_new(served: Served) -> None:
    _, server, routes = served
    idle = connect(server)
    owed = connect(server)
    owed.sendall(get("/later"))
    assert wait_for(lambda: len(routes.waiting) == 1)
    threading.Timer(0.3, lambda: routes.release(b"owed")).start()
    began = time.monotonic()
    server.shutdown()
    status, fields, body = read_answer(owed)
    assert (status, body) == (200, b"owed") and fields["connection"] == "close"
    assert owed.recv(1) == b""
    idle.settimeout(2)
    assert idle.recv(1) == b""
    assert time.monotonic() - began < 2.5
    with pytest.raises(OSError):
        socket.create_connection(server.server_address[:2], timeout=1).recv(1)
    idle.close()
    owed.close()
