"""Extra ``next`` calls on the Runtime API leave nothing behind.

Three clients besides the runtime wait in ``invocation/next``; the environment
is then reset (here by a timeout). Every reset used to leave each extra waiter
blocked for good, a thread and a descriptor apiece. Now a reset wakes every
waiter, and a waiter whose client went away gives up: after each reset the
sandbox's threads and descriptors are back to their counts with a warm
environment.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import List

import pytest
from support.interpreters import awslambdaric_python
from support.resources import settle, steady

from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"
RESETS = 3
EXTRA_WAITERS = 3


def test_extra_next_waiters_do_not_outlive_an_environment_reset(tmp_path: Path) -> None:
    python = awslambdaric_python("3.12")
    runtime = [str(python), "-m", "awslambdaric", "app.handler"]
    env = {"AWS_LAMBDA_FUNCTION_TIMEOUT": "1"}
    with RunningSandbox(python, runtime, tmp_path, env=env) as sb:
        assert sb.proc is not None
        pid = sb.proc.pid
        assert sb.invoke({"warm": True}).status == 200
        warm = steady(pid)
        host, port = sb.of_kind("environment.created")[0]["runtime_api"].rsplit(":", 1)
        for n in range(RESETS):
            waiters: List[socket.socket] = []
            try:
                for _ in range(EXTRA_WAITERS):
                    waiter = socket.create_connection((host, int(port)), timeout=5)
                    waiter.sendall(NEXT)
                    waiters.append(waiter)
                reply = sb.invoke({"sleep": 2})  # past the 1 s timeout: a reset
                assert reply.headers.get("X-Amz-Function-Error") == "Unhandled", reply.body
            finally:
                for waiter in waiters:
                    waiter.close()
            assert sb.invoke({"after": n}).status == 200  # a new, warm environment
            after = settle(pid, warm)
            assert after.counts == warm.counts, f"reset {n + 1}: warm {warm}, after {after}"
        assert len(sb.of_kind("init.start")) == RESETS + 1
        assert sb.stop() == 0
