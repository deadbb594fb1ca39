"""A frozen environment, thawed for its shutdown, still gets SIGTERM on the main thread.

The legacy pure-Python client waits for the next invocation in a blocking
``recv`` on its main thread, with the internal extension's thread parked in
another; its plain ``signal.signal`` handler runs because SIGTERM interrupts
that ``recv``. Thawed with SIGCONT, a process's threads wake one by one, and
the kernel gives a process-directed signal to a thread with no signal pending:
sent too soon after the thaw, SIGTERM went to the extension's thread and the
main thread went back to sleep in ``recv`` (without the wait, this test failed
in one run of two, and 3 to 6 of 18 legacy and thread-polling matrix cells failed
per run). The sandbox now waits for the threads to settle. The stop comes right
after the invocation, a few milliseconds after the freeze, as in the matrix.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.interpreters import awslambdaric_python

from harness.model.pins import load_pins
from harness.paths import FUNCTION_DIR
from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CLEANUP = "[runtime] SIGTERM received: cleaning up"
ROUNDS = 10


@pytest.mark.parametrize("version", ["3.8", "3.12"])
def test_a_thawed_legacy_runtime_runs_its_plain_handler_every_time(
    version: str, tmp_path: Path
) -> None:
    python = awslambdaric_python(version, [load_pins().requirement("requests")])
    for n in range(ROUNDS):
        workdir = tmp_path / str(n)
        workdir.mkdir()
        with RunningSandbox(
            python,
            [str(python), str(FUNCTION_DIR / "legacy_runtime.py"), "app.handler"],
            workdir,
            env={"LAB_STRATEGY": "signal", "LAB_EXTENSION": "internal"},
            task_root=FUNCTION_DIR,
        ) as sb:
            assert sb.invoke({}).status == 200
            sb.wait_for(lambda e: e["kind"] == "invoke.end", timeout=10)
            assert sb.stop() == 0
            lines = [e["line"] for e in sb.of_kind("output")]
            kinds = [e["kind"] for e in sb.events()]
        assert "environment.thaw" in kinds
        assert CLEANUP in lines, f"round {n + 1}: the handler did not run after the thaw"
