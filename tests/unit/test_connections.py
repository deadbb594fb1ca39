"""The bound on open connections: how large, and whom it closes. Pure logic, plus the
table's bookkeeping on socket pairs (no server)."""

from __future__ import annotations

import socket
from typing import Iterator, List

import pytest

from lambda_sandbox.connections import (
    MOST_CONNECTIONS,
    ConnectionTable,
    choose_victim,
    connection_limit,
)


@pytest.mark.parametrize(
    "soft, environments, configured, expected",
    [
        (128, 1, None, 80),  # 128 - 32 reserved - 16 for the one environment
        (1024, 1, None, 976),
        (1_048_576, 4, None, MOST_CONNECTIONS),  # threads, not descriptors, bound it
        (-1, 1, None, MOST_CONNECTIONS),  # RLIM_INFINITY
        (40, 2, None, 8),  # never below 8: a sandbox must serve someone
        (128, 1, 500, 500),  # LAMBDA_SANDBOX_MAX_CONNECTIONS wins
    ],
)
def test_the_limit_leaves_room_for_the_processes(
    soft: int, environments: int, configured, expected: int
) -> None:
    assert connection_limit(soft, environments, configured) == expected


def test_the_victim_is_the_connection_idle_longest() -> None:
    entries = {"a": (True, 5.0), "b": (False, 1.0), "c": (True, 3.0)}
    assert choose_victim(entries) == "c"


def test_no_victim_when_every_connection_is_busy() -> None:
    assert choose_victim({"a": (False, 1.0), "b": (False, 2.0)}) is None
    assert choose_victim({}) is None


@pytest.fixture
def pairs() -> Iterator[List[socket.socket]]:
    made = [socket.socketpair() for _ in range(4)]
    yield [server for server, _ in made]
    for a, b in made:
        a.close()
        b.close()


def test_a_full_table_closes_the_longest_idle_connection_for_a_newcomer(pairs) -> None:
    table = ConnectionTable(limit=2)
    first, second, third, _ = pairs
    assert table.admit(first) and table.admit(second)
    table.mark(second, idle=False)  # mid-request: never closed for a newcomer
    assert table.admit(third)
    assert len(table) == 2 and table.evicted == 1
    assert first.recv(1) == b""  # shut down: its handler's read ends
    assert not table.is_idle(second) and table.is_idle(third)


def test_a_full_table_of_busy_connections_refuses_the_newcomer(pairs) -> None:
    table = ConnectionTable(limit=1)
    first, second, _, _ = pairs
    assert table.admit(first)
    table.mark(first, idle=False)
    assert not table.admit(second)
    assert len(table) == 1 and table.refused == 1
    table.forget(first)
    assert table.admit(second)
