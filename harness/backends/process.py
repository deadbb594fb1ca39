"""The process backend: the sandbox runs on the host, under the cell's interpreter.

Provisioning is a cached venv for (Python, client, version); launching starts
the sandbox as a ``SandboxChild`` (the one owner of the sandbox process, with
the one stop sequence) with ports chosen by the kernel (port 0). The run
skeleton (``BackendBase``) does the rest; whatever happens, ``close`` kills
the sandbox's group, the groups it started and every process labelled with
the cell, so nothing outlives the run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Dict, List, Mapping, Optional, Tuple

from harness.backends.base import (
    BackendBase,
    CellSkipped,
    Launched,
    Provisioned,
    ProvisionFailed,
    Timeouts,
)
from harness.model.cells import Cell, cell_environment, layer_environment
from harness.model.clients import requirements, runtime_command
from harness.model.pins import PinError, load_pins
from harness.paths import PROJECT_ROOT
from harness.provision import strategy
from harness.provision.fix import FixBuildError
from harness.provision.interpreters import find_interpreter, where_searched
from harness.provision.venvs import VenvBuildError, ensure_venv, venv_python
from harness.sandbox import forkserver, sweep
from harness.sandbox.child import SandboxChild, StopTimeouts
from lambda_sandbox.eventlog import Event, Kind, read_event_log

# Variables the sandbox may inherit from the harness's own environment; the
# rest of its environment is set here, so a stray AWS_* or LAB_* on the host
# cannot change a cell.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")


def sandbox_env(
    cell: Cell,
    workdir: Path,
    label: str,
    host_env: Mapping[str, str],
    layer: Optional[Path] = None,
    key: Optional[bytes] = None,
) -> Dict[str, str]:
    """The sandbox's whole environment for ``cell`` (``layer``: the extracted layer that
    plays /opt, for strategies that use one; ``key``: the event log's seal). Pure."""
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
    if layer is not None:
        env.update(layer_environment(cell, str(layer)))
    if key is not None:
        env["LAMBDA_SANDBOX_EVIDENCE_KEY"] = key.hex()
    return env


def sandbox_argv(python: Path, cell: Cell) -> List[str]:
    """``python -m lambda_sandbox -- RUNTIME_CMD...``, or the managed runtime's start. Pure."""
    if cell.start == "managed":
        return [str(python), "-m", "lambda_sandbox", "--managed-python", str(python), cell.handler]
    return [
        str(python),
        "-m",
        "lambda_sandbox",
        "--",
        *runtime_command(cell.runtime_client, python, cell.handler),
    ]


class _HostSandbox:
    """A launched sandbox child, as the run skeleton sees it."""

    def __init__(self, child: SandboxChild, output: IO[bytes], event_log: Path) -> None:
        self.child = child
        self.output = output
        self.event_log = event_log

    def alive(self) -> bool:
        return self.child.alive()

    def invoke_address(self, ready: Event) -> str:
        return str(ready["invoke_api"])

    def stop(self, timeouts: Timeouts) -> Tuple[Optional[int], bool]:
        outcome = self.child.stop()
        return outcome.returncode, outcome.killed

    def close(self) -> Optional[str]:
        try:
            started = [
                int(e["pid"])
                for e in read_event_log(str(self.event_log)).of_kind(Kind.PROCESS_START)
            ]
            leftovers = self.child.close(started)
        finally:
            self.output.close()
        if leftovers:
            return f"processes outlived the sandbox and were killed: {leftovers}"
        return None


class ProcessBackend(BackendBase):
    name = "process"

    def provision(self, cell: Cell) -> Provisioned:
        interpreter = find_interpreter(cell.python)
        if interpreter is None:
            raise CellSkipped(where_searched(cell.python))
        try:
            extra = strategy.requirements(cell)
            wanted = requirements(
                cell.runtime_client, cell.runtime_client_version, (*cell.packages, *extra)
            )
            # A function's own packages bring dependencies: held to pins.toml's.
            held = load_pins().constraints(wanted) if cell.packages else ()
            venv = ensure_venv(interpreter, wanted, constraints=held)
        except (VenvBuildError, FixBuildError, PinError, OSError) as err:
            raise ProvisionFailed(f"venv for Python {cell.python}: {err}") from None
        return Provisioned(python_full_version=interpreter.full_version, handle=venv_python(venv))

    def launch(self, cell: Cell, ready: Provisioned, workdir: Path, key: bytes) -> Launched:
        assert isinstance(ready.handle, Path)
        (workdir / "no-extensions").mkdir(exist_ok=True)
        label = self.label(cell)
        output = (workdir / "output.log").open("wb")
        child = SandboxChild(
            sandbox_argv(ready.handle, cell),
            env=sandbox_env(cell, workdir, label, os.environ, strategy.layer_dir(cell), key),
            cwd=cell.function_dir,
            output=output,
            label=label,
            timeouts=StopTimeouts(term_s=self.timeouts.term_s, kill_s=self.timeouts.kill_s),
            forkserver=(
                forkserver.server_for(ready.handle, f"{self.session}/forkserver")
                if forkserver.enabled()
                else None
            ),
            output_path=workdir / "output.log",
        )
        try:
            child.__enter__()
        except BaseException:
            output.close()
            raise
        return _HostSandbox(child, output, workdir / "events.jsonl")
