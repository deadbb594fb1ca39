"""The request reader: file-like reads over a socket, the whole request within the
timeout, its header section within a budget. A real socket pair; no server."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from typing import Iterator, Tuple

import pytest

from lambda_sandbox.http_reader import DeadlineReader


@pytest.fixture
def pair() -> Iterator[Tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_lines_and_reads_as_a_file_gives_them(pair: Tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    client.sendall(b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody-bytes")
    reader = DeadlineReader(server, timeout_s=5)
    assert reader.readline(65537) == b"GET / HTTP/1.1\r\n"
    assert reader.readline(65537) == b"A: b\r\n"
    assert reader.readline(65537) == b"\r\n"
    reader.headers_done()
    assert reader.read(4) == b"body"
    assert reader.readline(3) == b"-by"  # a limit cuts the line, as a file's does
    client.close()
    assert reader.read() == b"tes"
    assert reader.readline() == b""


def test_the_header_section_has_a_budget(pair: Tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    reader = DeadlineReader(server, timeout_s=5, header_budget=100)
    client.sendall(
        b"GET / HTTP/1.1\r\n" + b"X: " + b"v" * 60 + b"\r\n" + b"Y: " + b"v" * 60 + b"\r\n"
    )
    reader.readline(65537)  # the request line is not counted
    reader.readline(65537)
    with pytest.raises(http.client.LineTooLong):
        reader.readline(65537)


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
        reader.readline(65537)
        with pytest.raises(socket.timeout):
            reader.readline(65537)
    finally:
        stop.set()
        thread.join()
    assert time.monotonic() - began < 1.5


def test_between_requests_the_clock_restarts(pair: Tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    reader = DeadlineReader(server, timeout_s=0.3)
    client.sendall(b"GET / HTTP/1.1\r\n\r\n")
    reader.readline()
    reader.readline()
    reader.next_request()
    time.sleep(0.4)  # longer than the timeout, but between requests
    client.sendall(b"GET /again HTTP/1.1\r\n")
    assert reader.readline() == b"GET /again HTTP/1.1\r\n"
