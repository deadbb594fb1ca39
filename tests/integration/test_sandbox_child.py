"""The one owner of the sandbox's process: SIGTERM, then SIGKILL after ``term_s``; and
nothing it started outlives ``close``. Children here are small Python programs
that announce themselves through a start file (no sleeps to wait for them)."""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import IO, Any, Iterator, List

import pytest
from support.factories import cell

from harness.backends.process import ProcessBackend
from harness.sandbox import sweep
from harness.sandbox.child import SandboxChild, StopTimeouts

pytestmark = pytest.mark.integration

OBEYS = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
open(sys.argv[1], "w").close()
time.sleep(60)
"""
IGNORES = """
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").close()
time.sleep(60)
"""
# Starts a grandchild in a session of its own (as a daemonising runtime would),
# which writes its pid, then waits.
ESCAPES = """
import os, subprocess, sys, time
subprocess.Popen([sys.executable, "-c",
    "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)",
    sys.argv[1]], start_new_session=True)
time.sleep(60)
"""


def wait_for_file(path: Path, timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and (path.stat().st_size or path.name.endswith(".started")):
            return path.read_text()
        time.sleep(0.01)  # the handshake file; bounded by the deadline
    raise AssertionError(f"{path} never appeared")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): read its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def output(tmp_path: Path) -> Iterator[IO[bytes]]:
    with (tmp_path / "out.log").open("wb") as handle:
        yield handle


def child(output: IO[bytes], program: str, argument: Path, **kwargs: Any) -> SandboxChild:
    return SandboxChild(
        [sys.executable, "-c", program, str(argument)],
        env={"PATH": os.environ.get("PATH", "")},
        cwd=argument.parent,
        output=output,
        **kwargs,
    )


def test_a_child_that_obeys_sigterm_is_not_killed(tmp_path: Path, output: IO[bytes]) -> None:
    started = tmp_path / "child.started"
    with child(output, OBEYS, started) as c:
        wait_for_file(started)
        outcome = c.stop()
    assert (outcome.returncode, outcome.killed) == (0, False)


def test_a_child_that_ignores_sigterm_is_killed_after_term_s(
    tmp_path: Path, output: IO[bytes]
) -> None:
    started = tmp_path / "child.started"
    with child(output, IGNORES, started, timeouts=StopTimeouts(term_s=0.3, kill_s=5)) as c:
        wait_for_file(started)
        began = time.monotonic()
        outcome = c.stop()
        waited = time.monotonic() - began
    assert outcome.killed and outcome.returncode == -signal.SIGKILL
    assert 0.3 <= waited < 5


def test_close_kills_what_escaped_into_its_own_session(tmp_path: Path, output: IO[bytes]) -> None:
    pid_file = tmp_path / "grandchild.pid"
    label = f"test-{uuid.uuid4().hex[:8]}/cell"
    with child(output, ESCAPES, pid_file, label=label) as c:
        grandchild = int(wait_for_file(pid_file))
        assert alive(grandchild)
        leftovers = c.close()
    assert grandchild in leftovers
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.01)  # SIGKILL delivered; waiting for init to reap it
    assert not alive(grandchild)
    assert sweep.labelled(label, exact=True) == []


@pytest.mark.timeout(300)
def test_an_interrupted_process_run_leaves_no_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ric_python: Any
) -> None:
    version, _ = ric_python
    backend = ProcessBackend(tmp_path / "cells", f"test-{uuid.uuid4().hex[:8]}")
    the_cell = cell(
        python=version,
        runtime_client_version="2.2.1" if version == "3.8" else "4.2.2",
        function_dir=Path(__file__).resolve().parents[1] / "fixtures" / "fn",
    )
    seen: List[int] = []

    def interrupted(cell: Any, launched: Any, *rest: Any) -> None:
        # The sandbox is up: remember every process of the cell, then break off.
        seen.append(launched.child.pid)
        seen.extend(sweep.labelled(backend.label(the_cell), exact=True))
        raise KeyboardInterrupt

    monkeypatch.setattr("harness.backends.base.drive", interrupted)
    with pytest.raises(KeyboardInterrupt):
        backend.run(the_cell)
    assert seen, "the sandbox was running when the run broke off"
    assert sweep.labelled(backend.label(the_cell), exact=True) == []
    assert not [pid for pid in seen if alive(pid)]
