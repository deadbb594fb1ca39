"""The process backend: the sandbox runs on the host, under the cell's interpreter.

One run, start to end: a cached venv for (Python, client, version); the
sandbox started in a session of its own with ports chosen by the kernel
(port 0); readiness from the ``sandbox.ready`` event; the invocations over
urllib; the trigger (SIGTERM to the sandbox, or idle reaping and then
SIGTERM); a bounded wait for the sandbox to exit. Whatever happens, the
``finally`` kills the sandbox's group and sweeps every process labelled with
the cell, so nothing outlives the run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from harness import sweep
from harness.backends.base import CellRun, CellSkipped
from harness.backends.script import play_cell
from harness.cells import Cell, cell_environment
from harness.clients import requirements, runtime_command
from harness.interpreters import find_interpreter, where_searched
from harness.logtail import EventLogTail
from harness.venvs import ensure_venv, venv_python

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent

# Variables the sandbox may inherit from the harness's own environment; the
# rest of its environment is set here, so a stray AWS_* or LAB_* on the host
# cannot change a cell.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")


@dataclass(frozen=True)
class Timeouts:
    ready_s: float = 20.0  # sandbox start to `sandbox.ready`
    invoke_s: float = 30.0  # one invocation, cold start included
    idle_grace_s: float = 15.0  # beyond idle timeout + shutdown limit, for `shutdown.end`
    exit_s: float = 15.0  # SIGTERM to the sandbox's exit (the limit is at most 2 s)


def sandbox_env(
    cell: Cell,
    workdir: Path,
    label: str,
    host_env: Mapping[str, str],
) -> Dict[str, str]:
    """The sandbox's whole environment for ``cell``. Pure."""
    env = {k: host_env[k] for k in PASSED_THROUGH if k in host_env}
    env.update(
        {
            "PYTHONPATH": str(PROJECT_ROOT),
            # The runtime prints the cleanup line and may die a moment later;
            # buffering must not decide whether the line is seen.
            "PYTHONUNBUFFERED": "1",
            "AWS_LAMBDA_FUNCTION_NAME": "function",
            "INVOKE_API_HOST": "127.0.0.1",
            "INVOKE_API_PORT": "0",
            "RUNTIME_API_HOST": "127.0.0.1",
            "RUNTIME_API_PORT": "0",
            "LAMBDA_TASK_ROOT": str(cell.function_dir),
            "LAMBDA_EXTENSIONS_DIR": str(
                cell.extensions_dir if cell.extension == "external" else workdir / "no-extensions"
            ),
            "LAMBDA_SANDBOX_EVENT_LOG": str(workdir / "events.jsonl"),
            sweep.LABEL: label,
        }
    )
    env.update(cell_environment(cell))
    return env


def sandbox_argv(python: Path, cell: Cell) -> List[str]:
    """``python -m lambda_sandbox -- RUNTIME_CMD...``. Pure."""
    return [
        str(python),
        "-m",
        "lambda_sandbox",
        "--",
        *runtime_command(cell.runtime_client, python, cell.handler),
    ]


class ProcessBackend:
    name = "process"

    def __init__(self, cells_dir: Path, session: str, timeouts: Timeouts = Timeouts()) -> None:
        self.cells_dir = cells_dir
        self.session = session
        self.timeouts = timeouts

    def run(self, cell: Cell) -> CellRun:
        interpreter = find_interpreter(cell.python)
        if interpreter is None:
            raise CellSkipped(where_searched(cell.python))
        venv = ensure_venv(
            interpreter,
            requirements(
                cell.runtime_client, cell.runtime_client_version, broker=bool(cell.broker_messages)
            ),
        )
        python = venv_python(venv)

        workdir = self.cells_dir / cell.id
        if workdir.exists():
            shutil.rmtree(workdir)
        (workdir / "no-extensions").mkdir(parents=True)
        event_log = workdir / "events.jsonl"
        output_log = workdir / "output.log"
        label = f"{self.session}/{cell.id}"
        env = sandbox_env(cell, workdir, label, os.environ)

        started = time.time()
        problem: Optional[str] = None
        returncode: Optional[int] = None
        with output_log.open("wb") as output:
            proc = subprocess.Popen(
                sandbox_argv(python, cell),
                cwd=str(cell.function_dir),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                problem = self._drive(cell, proc, EventLogTail(event_log))
                returncode = proc.poll()
            finally:
                problem = self._cleanup(proc, label, problem)
        ended = time.time()

        return CellRun(
            cell=cell,
            backend=self.name,
            python_full_version=interpreter.full_version,
            event_lines=tuple(_read_lines(event_log)),
            output=output_log.read_text(encoding="utf-8", errors="replace"),
            event_log=event_log,
            output_log=output_log,
            started=started,
            ended=ended,
            sandbox_returncode=returncode,
            problem=problem,
        )

    def _drive(
        self, cell: Cell, proc: "subprocess.Popen[bytes]", log: EventLogTail
    ) -> Optional[str]:
        """Ready, invoke, trigger, wait for exit. A problem description, or None."""
        alive = lambda: proc.poll() is None  # noqa: E731
        ready = log.wait_for("sandbox.ready", self.timeouts.ready_s, alive)
        if ready is None:
            return (
                f"the sandbox did not log sandbox.ready within {self.timeouts.ready_s:g} s "
                f"(exit code {proc.poll()})"
            )
        problem = play_cell(
            cell, str(ready["invoke_api"]), log, alive, self.timeouts.invoke_s,
            self.timeouts.idle_grace_s,
        )  # fmt: skip
        if problem is not None:
            return problem
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=self.timeouts.exit_s)
        except subprocess.TimeoutExpired:
            return f"the sandbox did not exit within {self.timeouts.exit_s:g} s of SIGTERM"
        if code != 0:
            return f"the sandbox exited with code {code} after SIGTERM, expected 0"
        return None

    def _cleanup(
        self, proc: "subprocess.Popen[bytes]", label: str, problem: Optional[str]
    ) -> Optional[str]:
        try:
            if proc.poll() is None:
                # The run broke off (a problem, or an interrupt): ask the sandbox
                # to shut down by the rules, so that the log still shows a shutdown.
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=self.timeouts.exit_s)
        finally:
            # Even when interrupted again: its own session, so the group id is its pid.
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            leftovers = sweep.sweep(label, exact=True)
        if leftovers and problem is None:
            problem = f"processes outlived the sandbox and were killed: {leftovers}"
        return problem


def _read_lines(path: Path) -> List[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
