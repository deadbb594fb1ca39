"""The processes' output is read by the HTTP loop (issue 16): no thread per stream
to wake for each printed line. Real pipes, a real loop, real child processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from typing import Iterator, List, Tuple

import pytest

from harness.paths import PROJECT_ROOT
from lambda_sandbox.http_loop import Loop
from lambda_sandbox.processes import OutputPump


@pytest.fixture
def loop() -> Iterator[Loop]:
    running = Loop(name="test-loop")
    yield running
    running.close()


def test_a_watched_pipe_is_read_on_the_loop_until_its_end_then_let_go(loop: Loop) -> None:
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb", buffering=0)
    lines: List[Tuple[str, str]] = []
    ended = threading.Event()

    def on_line(line: str) -> None:
        lines.append((threading.current_thread().name, line))

    pump = OutputPump(reader, on_line)

    def on_end() -> None:
        pump.close()
        ended.set()

    loop.watch(pump.fd, pump.pump_once, on_end)
    os.write(write_fd, b"".join(b"line %d\n" % n for n in range(500)) + b"last, no newline")
    os.close(write_fd)
    assert ended.wait(5), "the end of the pipe ends the watch"
    assert [line for _, line in lines] == [f"line {n}" for n in range(500)] + ["last, no newline"]
    assert {thread for thread, _ in lines} == {"test-loop"}, "read on the loop's thread"
    assert reader.closed


def test_a_watch_whose_reader_fails_is_let_go_and_the_loop_goes_on(loop: Loop) -> None:
    read_fd, write_fd = os.pipe()
    ended = threading.Event()
    calls: List[int] = []

    def on_ready() -> bool:
        calls.append(1)
        raise RuntimeError("a reader that fails")

    def on_end() -> None:
        ended.set()

    loop.watch(read_fd, on_ready, on_end)
    os.write(write_fd, b"x\n")
    assert ended.wait(5)
    # The byte is still unread: a descriptor still watched would be ready again at once.
    went_on = threading.Event()
    loop.call_soon(lambda: loop.call_later(0.1, went_on.set))
    assert went_on.wait(5), "the loop still runs"
    assert calls == [1], "not watched any more"
    os.close(read_fd)
    os.close(write_fd)


# Run in a process of its own: a Supervisor's reaper waits for any child of its
# process (waitpid(-1)), which would take the exits of this test process's children.
SUPERVISED = r"""
import json, os, sys, threading
from lambda_sandbox.http_loop import Loop
from lambda_sandbox.processes import Supervisor

loop = Loop(name="test-loop")
got, exited = [], threading.Event()
supervisor = Supervisor(
    lambda child, stream, line: got.append((threading.current_thread().name, stream, line)),
    lambda child, code, signame: exited.set(),
    watcher=loop,
)
program = (
    "import sys\n"
    "for n in range(300):\n"
    "    print('out', n, flush=True)\n"
    "    print('err', n, file=sys.stderr, flush=True)\n"
)
child = supervisor.spawn("runtime", "printer", [sys.executable, "-c", program], os.environ, ".")
exited.wait(20)
print(json.dumps({
    "exited": exited.is_set(),
    "pumps": len(child.pumps),
    "pump_threads": [t.name for t in threading.enumerate() if t.name.startswith("pump-")],
    "got": got,
}))
"""


def test_a_supervisor_with_a_loop_pumps_every_line_of_a_child_without_pump_threads() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SUPERVISED],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    seen = json.loads(done.stdout)
    assert seen["exited"]
    assert seen["pumps"] == 0 and seen["pump_threads"] == [], "no thread per stream"
    got = [tuple(entry) for entry in seen["got"]]
    by_stream = {
        stream: [line for _, s, line in got if s == stream] for stream in ("stdout", "stderr")
    }
    assert by_stream["stdout"] == [f"out {n}" for n in range(300)]
    assert by_stream["stderr"] == [f"err {n}" for n in range(300)]
    # The reaper's drain hands on what was written before the exit, on its own
    # thread when it gets there first; the rest came from the loop.
    threads = {thread for thread, _, _ in got}
    assert "test-loop" in threads and threads <= {"test-loop", "reaper"}, threads
