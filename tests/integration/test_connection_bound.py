"""Connections are bounded by what the descriptors allow, and none is reset at stop.

- Under a 128-descriptor limit, 150 idle connections used to exhaust the
  sandbox's descriptors: accept() failed, the loop spun at 95 % CPU, nobody
  was served and nothing was logged. Now the longest-idle connection makes
  room: a real invocation is served, the loop stays quiet, the sandbox says
  what it did, and its threads and descriptors come back to their idle counts.
- A client whose connection was made while the sandbox stops gets an HTTP
  answer (the invocation's result, or the service's error), never a reset.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Dict, List

import pytest
from support.interpreters import awslambdaric_python
from support.resources import cpu_ticks, held, settle, steady

from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

INVOKE = "/2015-03-31/functions/function/invocations"
FD_LIMIT = 128
IDLE_CONNECTIONS = 150

# Starts the sandbox as `python -m lambda_sandbox ARGS` under a lower soft limit.
UNDER_LIMIT = (
    "import os, resource, sys\n"
    "hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]\n"
    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({FD_LIMIT}, hard))\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'lambda_sandbox', *sys.argv[1:]])\n"
)


def address(sb: RunningSandbox) -> tuple:
    host, port = sb.invoke_api.rsplit(":", 1)
    return host, int(port)


def test_idle_connections_beyond_the_descriptor_limit_do_not_stop_serving(tmp_path: Path) -> None:
    python = awslambdaric_python("3.12")
    runtime = [str(python), "-m", "awslambdaric", "app.handler"]
    sb = RunningSandbox(python, runtime, tmp_path)
    sb.argv = [str(python), "-c", UNDER_LIMIT, *sb.argv[3:]]
    with sb:
        assert sb.proc is not None
        pid = sb.proc.pid
        assert sb.invoke({"warm": True}).status == 200
        idle = steady(pid)
        idle_clients: List[socket.socket] = []
        try:
            for _ in range(IDLE_CONNECTIONS):
                idle_clients.append(socket.create_connection(address(sb), timeout=5))
            time.sleep(0.5)  # the sandbox accepts them all
            before = cpu_ticks(pid)
            time.sleep(2.0)
            busy_ticks = cpu_ticks(pid) - before
            peak = held(pid)
            began = time.monotonic()
            reply = sb.invoke({"while": "held"})
            served_in = time.monotonic() - began
        finally:
            for conn in idle_clients:
                conn.close()
        print(f"idle {idle}; holding {IDLE_CONNECTIONS}: {peak}, {busy_ticks} ticks in 2 s")
        assert reply.status == 200, reply.body[:300]
        assert served_in < 5.0, served_in
        # 2 s of a loop spinning on accept() is ~200 ticks; an idle loop, a few.
        assert busy_ticks < 40, f"the sandbox used {busy_ticks} ticks in 2 s while idle"
        assert peak.fds < FD_LIMIT, peak
        after = settle(pid, idle)
        assert sb.stop() == 0
    output = sb.output_path.read_text(errors="replace")
    assert "LAMBDA_SANDBOX_MAX_CONNECTIONS" in output, output[-2000:]
    assert after.counts == idle.counts, f"idle {idle}, after the connections closed {after}"


def test_clients_connecting_while_the_sandbox_stops_get_an_answer_not_a_reset(
    tmp_path: Path,
) -> None:
    python = awslambdaric_python("3.12")
    runtime = [str(python), "-m", "awslambdaric", "app.handler"]
    outcomes: Dict[str, int] = {"answered": 0, "reset": 0, "refused": 0}
    lock = threading.Lock()
    stop = threading.Event()
    body = b"{}"
    with RunningSandbox(python, runtime, tmp_path) as sb:
        assert sb.proc is not None
        target = address(sb)
        request = (
            f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode() + body

        def client() -> None:
            for _ in range(400):  # bounded: at most 400 connections per client
                if stop.is_set():
                    return
                try:
                    conn = socket.create_connection(target, timeout=5)
                except ConnectionRefusedError:
                    outcome = "refused"  # the port is closed: the server is gone
                else:
                    with conn:
                        try:
                            conn.sendall(request)
                            first = conn.recv(12)
                            outcome = "answered" if first.startswith(b"HTTP/1.1 ") else "reset"
                        except (ConnectionResetError, BrokenPipeError, socket.timeout):
                            outcome = "reset"
                with lock:
                    outcomes[outcome] += 1
                if outcome == "refused":
                    return

        clients = [threading.Thread(target=client) for _ in range(6)]
        for c in clients:
            c.start()
        time.sleep(0.3)
        os.kill(sb.proc.pid, signal.SIGTERM)
        assert sb.proc.wait(timeout=20) == 0
        stop.set()
        for c in clients:
            c.join(timeout=30)
    assert outcomes["answered"] > 0, outcomes
    assert outcomes["reset"] == 0, f"connections made during the stop were reset: {outcomes}"
