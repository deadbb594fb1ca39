"""The output pump's drain is a barrier: after it, every line written before it has
been handed on, in order, once, however far behind the pump thread is.

A real pipe and a real pump thread; no child process.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import IO, Callable, Iterator, List, Tuple

import pytest

from lambda_sandbox.processes import OutputPump


@pytest.fixture
def pipe() -> Iterator[Tuple[IO[bytes], int]]:
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb", buffering=0)
    yield reader, write_fd
    for closing in (reader.close, lambda: os.close(write_fd)):
        with contextlib.suppress(OSError):  # already closed by the test
            closing()


def collector() -> Tuple[List[str], Callable[[str], None]]:
    lines: List[str] = []
    return lines, lines.append


def test_drain_hands_on_everything_in_the_pipe_with_no_pump_thread_at_all(
    pipe: Tuple[IO[bytes], int],
) -> None:
    reader, write_fd = pipe
    lines, on_line = collector()
    pump = OutputPump(reader, on_line)  # its thread never started: the slowest pump
    os.write(write_fd, b"".join(b"line %d\n" % n for n in range(2000)) + b"half")
    pump.drain()
    assert lines == [f"line {n}" for n in range(2000)], "every complete line, in order"
    pump.drain()
    assert len(lines) == 2000, "nothing twice; the half line waits for its end"
    os.write(write_fd, b" and rest\r\nlast without newline")
    os.close(write_fd)
    pump.run()  # the thread's loop, here inline: reads to end of file and closes
    assert lines[2000:] == ["half and rest", "last without newline"]
    assert reader.closed
    pump.drain()  # after the close: a no-op, not a read of a reused descriptor


def test_drain_is_a_barrier_while_a_slow_pump_thread_runs(pipe: Tuple[IO[bytes], int]) -> None:
    reader, write_fd = pipe
    lines: List[str] = []
    pump_thread_lines: List[str] = []
    pump_thread_started = threading.Event()

    def slow_on_line(line: str) -> None:
        # The pump thread hands lines on slowly, as under load; drain's own
        # reads hand them on at full speed.
        if threading.current_thread().name == "pump":
            pump_thread_lines.append(line)
            pump_thread_started.set()
            time.sleep(0.0005)
        lines.append(line)

    pump = OutputPump(reader, slow_on_line)
    thread = threading.Thread(target=pump.run, name="pump", daemon=True)
    thread.start()
    written = 0
    for _ in range(60):
        burst = b"".join(b"n%d\n" % n for n in range(written, written + 25))
        os.write(write_fd, burst)
        written += 25
        if written == 25:
            # Handshake: the pump thread is in the middle of a chunk when the
            # first drain comes, so drain must wait for it and then read on.
            assert pump_thread_started.wait(10)
        pump.drain()
        assert lines == [f"n{n}" for n in range(written)], "a line written before drain is missing"
    os.close(write_fd)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert lines == [f"n{n}" for n in range(written)]
    assert pump_thread_lines, "the pump thread took part"


def test_a_line_without_end_is_handed_on_in_bounded_pieces(
    pipe: Tuple[IO[bytes], int],
) -> None:
    from lambda_sandbox.processes import MAX_LINE_BYTES

    reader, write_fd = pipe
    lines, on_line = collector()
    pump = OutputPump(reader, on_line)
    thread = threading.Thread(target=pump.run)
    thread.start()
    total = 3 * MAX_LINE_BYTES + 5
    written = 0
    while written < total:  # the pump must keep up, or the pipe fills
        written += os.write(write_fd, b"x" * min(65536, total - written))
    os.write(write_fd, b"\nend\n")
    os.close(write_fd)
    thread.join(10)
    assert [len(line) for line in lines] == [MAX_LINE_BYTES] * 3 + [5, 3]
    assert lines[-1] == "end"
