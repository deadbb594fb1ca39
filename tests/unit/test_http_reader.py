"""The request reader: file-like reads over a socket, the whole request within the
timeout, its header section within a budget. A real socket pair; no server."""

from __future__ import annotations

import socket
import threading
import time
from typing import Iterator, Tuple

import pytest

from lambda_sandbox.http_reader import DeadlineReader
from lambda_sandbox.http_request import BadRequest


@pytest.fixture
def pair() -> Iterator[Tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_the_head_comes_whole_and_the_body_reads_as_a_file(
    pair: Tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    client.sendall(b"GET / HTTP/1.1\r\nA: b\r\nC: d\r\n\r\nbody-bytes")
    reader = DeadlineReader(server, timeout_s=5)
    begun = []
    assert reader.read_head(lambda: begun.append(True)) == (
        b"GET / HTTP/1.1\r\n",
        b"A: b\r\nC: d\r\n",
    )
    assert begun == [True]
    assert reader.read(4) == b"body"
    assert reader.readline(3) == b"-by"  # a limit cuts the line, as a file's does
    client.close()
    assert reader.read() == b"tes"
    assert reader.readline() == b""


@pytest.mark.parametrize(
    "sent, head",
    [
        (b"GET / HTTP/1.1\r\n\r\n", (b"GET / HTTP/1.1\r\n", b"")),
        (b"GET / HTTP/1.1\n\n", (b"GET / HTTP/1.1\n", b"")),
        (b"GET / HTTP/1.1\nA: b\n\n", (b"GET / HTTP/1.1\n", b"A: b\n")),
        (b"\r\nGET / HTTP/1.1\r\n\r\n", (b"\r\n", b"")),  # a blank line comes alone
    ],
)
def test_the_head_ends_at_the_first_empty_line(
    pair: Tuple[socket.socket, socket.socket], sent: bytes, head: Tuple[bytes, bytes]
) -> None:
    server, client = pair
    client.sendall(sent)
    assert DeadlineReader(server, timeout_s=5).read_head() == head


def test_a_head_arriving_a_byte_at_a_time_is_found(
    pair: Tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    raw = b"POST /x HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n{}"

    def trickle() -> None:
        for byte in raw:
            client.sendall(bytes([byte]))
            time.sleep(0.001)

    thread = threading.Thread(target=trickle)
    thread.start()
    try:
        reader = DeadlineReader(server, timeout_s=5)
        assert reader.read_head() == (b"POST /x HTTP/1.1\r\n", b"A: 1\r\nB: 2\r\n")
        assert reader.read(2) == b"{}"
    finally:
        thread.join()


def test_the_end_of_the_stream_gives_what_came(pair: Tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    client.sendall(b"POST /x HTTP/1.1\r\nA: 1\r\nB")
    client.close()
    reader = DeadlineReader(server, timeout_s=5)
    assert reader.read_head() == (b"POST /x HTTP/1.1\r\n", b"A: 1\r\nB")
    assert reader.read_head() == (b"", b"")


def test_the_header_section_has_a_budget(pair: Tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    reader = DeadlineReader(server, timeout_s=5, header_budget=100)
    client.sendall(
        b"GET / HTTP/1.1\r\n" + b"X: " + b"v" * 60 + b"\r\n" + b"Y: " + b"v" * 60 + b"\r\n"
    )
    with pytest.raises(BadRequest) as bad:
        reader.read_head()
    assert bad.value.status == 431


def test_a_request_line_over_the_limit_is_a_414(
    pair: Tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    client.sendall(b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")
    with pytest.raises(BadRequest) as bad:
        DeadlineReader(server, timeout_s=5).read_head()
    assert bad.value.status == 414


def test_the_whole_request_must_arrive_in_time(pair: Tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    reader = DeadlineReader(server, timeout_s=0.5)
    stop = threading.Event()

    def trickle() -> None:
        client.sendall(b"GET / HTTP/1.1\r\n")
        while not stop.wait(0.1):  # a byte every 0.1 s: each read is quick
            client.sendall(b"x")

    thread = threading.Thread(target=trickle)
    thread.start()
    began = time.monotonic()
    try:
        with pytest.raises(socket.timeout):
            reader.read_head()
    finally:
        stop.set()
        thread.join()
    assert time.monotonic() - began < 1.5


def test_between_requests_the_clock_restarts(pair: Tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    reader = DeadlineReader(server, timeout_s=0.3)
    client.sendall(b"GET / HTTP/1.1\r\n\r\n")
    reader.read_head()
    reader.next_request()
    time.sleep(0.4)  # longer than the timeout, but between requests
    client.sendall(b"GET /again HTTP/1.1\r\n\r\n")
    assert reader.read_head() == (b"GET /again HTTP/1.1\r\n", b"")
