"""The stop's socket filter on a real listener (Linux): a connection that opens
after it gets no answer, then a refusal once the listener is closed; one whose
handshake began before it completes and is served whole, and while it is half
open the kernel's table counts it."""

from __future__ import annotations

import socket
import sys
import time
from typing import Iterator

import pytest

from lambda_sandbox.listener_stop import handshakes_in_flight_now, refuse_new_connections

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a Linux socket filter"),
]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.create_server(("127.0.0.1", 0), backlog=8)
    yield sock
    sock.close()


def test_a_connection_that_opens_after_the_filter_is_not_answered_then_refused(
    listener: socket.socket,
) -> None:
    port = listener.getsockname()[1]
    assert refuse_new_connections(listener)
    late = socket.socket()
    late.settimeout(0.3)
    with late, pytest.raises(socket.timeout):
        late.connect(("127.0.0.1", port))  # its SYN is dropped: no answer at all
    assert handshakes_in_flight_now(port) == 0, "nothing half open behind it"
    listener.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_a_connection_opened_before_the_filter_is_served_whole(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        assert refuse_new_connections(listener)
        client.sendall(b"request")
        server, _ = listener.accept()
        with server:
            server.settimeout(5)
            assert server.recv(64) == b"request", "its segments pass the filter"
            server.sendall(b"answer")
            assert client.recv(64) == b"answer"


def test_a_handshake_in_flight_when_the_filter_comes_completes_and_is_counted_till_then(
    listener: socket.socket,
) -> None:
    port = listener.getsockname()[1]
    # TCP_DEFER_ACCEPT keeps the server's side half open (SYN_RECV) until data
    # comes: a handshake caught in flight, for as long as the test needs.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 5)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        deadline = time.monotonic() + 5
        while handshakes_in_flight_now(port) != 1 and time.monotonic() < deadline:
            time.sleep(0.01)  # polling /proc: the kernel tells no one
        assert handshakes_in_flight_now(port) == 1
        assert refuse_new_connections(listener)
        client.sendall(b"request")  # completes the handshake: it passes the filter
        listener.settimeout(5)
        server, _ = listener.accept()
        with server:
            server.settimeout(5)
            assert server.recv(64) == b"request"
        assert handshakes_in_flight_now(port) == 0
