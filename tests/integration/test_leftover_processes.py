"""After a shutdown, nothing the environment started is left: a child that ignores
SIGTERM, in the runtime's process group, goes with the environment even when the
runtime itself died at SIGTERM (internal extension: no SIGKILL was due).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from support.interpreters import awslambdaric_python

from harness.paths import TEST_FIXTURES
from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def gone(pid: int, within_s: float = 5.0) -> bool:
    """Whether ``pid`` is dead (or a zombie waiting for whoever reaps it)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.02)  # polling /proc: nothing to wait on
    return False


@pytest.mark.parametrize(
    "how",
    [{"hold": False}, {"hold": True}, {"daemon": True}],
    ids=["own-streams", "holds-runtime-stderr", "setsid-double-fork"],
)
def test_a_child_that_ignores_sigterm_does_not_outlive_the_environment(
    tmp_path: Path, how: dict
) -> None:
    python = awslambdaric_python("3.12")
    runtime = [str(python), "-m", "awslambdaric", "spawner_app.handler"]
    child = 0
    try:
        with RunningSandbox(python, runtime, tmp_path, task_root=TEST_FIXTURES / "fn") as sb:
            reply = sb.invoke(how)
            assert reply.status == 200, reply.body
            child = int(reply.json()["child"])
            assert not gone(child, within_s=0.2), "the stubborn child should be running"
            assert sb.stop() == 0
            # Checked before the harness's own clean-up (leaving the block) kills leftovers.
            assert gone(child), f"pid {child} (ignores SIGTERM) outlived the sandbox's shutdown"
            # The runtime died at SIGTERM: its exit ends the shutdown at once, even
            # while the child still holds the runtime's output pipe open.
            (end,) = sb.of_kind("shutdown.end")
            assert end["duration_ms"] < 250, end
    finally:
        if child and not gone(child, within_s=0):
            os.kill(child, 9)  # this test started it: never leave it behind
