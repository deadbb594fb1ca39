"""The one interface every backend implements, the raw record a run produces, and
the run skeleton both backends share.

A backend supplies two things: how to *provision* a cell (a venv on the host,
an image for a container) and how to *launch* its sandbox (a child process, a
container). Everything else, the same on every backend, is here: a fresh
folder for the cell's evidence, readiness from ``sandbox.ready``, the cell's
script (``script.play_cell``), one stop sequence (SIGTERM, then SIGKILL after
``term_s``) and a clean-up that reports anything that outlived the sandbox.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol, Sequence, Tuple

from harness.backends.script import play_cell
from harness.errors import LabError
from harness.model.cells import Cell
from harness.sandbox.tail import EventLogTail
from lambda_sandbox.eventlog import Event, Kind, new_key, verify_seals

EVENT_LOG = "events.jsonl"
OUTPUT_LOG = "output.log"


class CellSkipped(LabError):
    """The cell cannot run here (e.g. no interpreter); the message says how to fix that."""


@dataclass(frozen=True)
class Timeouts:
    ready_s: float = 30.0  # start to `sandbox.ready`
    invoke_s: float = 30.0  # one invocation, cold start included
    idle_grace_s: float = 15.0  # beyond idle timeout + shutdown limit, for `shutdown.end`
    term_s: float = 10.0  # SIGTERM to the sandbox -> SIGKILL (its own limit is 2 s at most)
    kill_s: float = 15.0  # SIGKILL -> gone


DEFAULT_TIMEOUTS = Timeouts()


@dataclass(frozen=True)
class CellRun:
    """What a backend saw, raw: the event log, the captured output, and any harness problem.

    ``problem`` is set when the run itself went wrong (the sandbox never got
    ready, an invocation failed, a process outlived its sandbox); the cell
    then fails whatever the log says.
    """

    cell: Cell
    backend: str
    python_full_version: str
    event_lines: Tuple[str, ...]
    output: str
    event_log: Path
    output_log: Path
    started: float  # time.time()
    ended: float
    sandbox_returncode: Optional[int]
    problem: Optional[str] = None


class Backend(Protocol):
    name: str

    def run(self, cell: Cell) -> CellRun:
        """Run the cell to the end; raise CellSkipped when it cannot run here."""
        ...


class Launched(Protocol):
    """A sandbox a backend started for one cell."""

    def alive(self) -> bool: ...

    def invoke_address(self, ready: Event) -> str:
        """``host:port`` of the Invoke API, from the ``sandbox.ready`` event."""
        ...

    def stop(self, timeouts: Timeouts) -> Tuple[Optional[int], bool]:
        """SIGTERM, SIGKILL after ``term_s``: (exit code or None, whether SIGKILL was needed)."""
        ...

    def close(self) -> Optional[str]:
        """Remove whatever is left (also after an interrupt); a problem if anything outlived it."""
        ...


@dataclass(frozen=True)
class Provisioned:
    """What a cell runs with: the full CPython version, and the backend's own handle."""

    python_full_version: str
    handle: object


class ProvisionFailed(LabError):
    """Preparing the cell's interpreter or image failed; the cell fails with this reason."""


class BackendBase:
    """The run skeleton; subclasses implement ``provision`` and ``launch``."""

    name = "base"

    def __init__(
        self, cells_dir: Path, session: str, timeouts: Timeouts = DEFAULT_TIMEOUTS
    ) -> None:
        self.cells_dir = cells_dir
        self.session = session
        self.timeouts = timeouts

    def provision(self, cell: Cell) -> Provisioned:
        raise NotImplementedError

    def launch(self, cell: Cell, ready: Provisioned, workdir: Path, key: bytes) -> Launched:
        """Start the cell's sandbox with ``key`` as LAMBDA_SANDBOX_EVIDENCE_KEY."""
        raise NotImplementedError

    def label(self, cell: Cell) -> str:
        """Every process of this cell's run carries it (``sandbox.sweep``)."""
        return f"{self.session}/{cell.id}"

    def workdir(self, cell: Cell) -> Path:
        """The cell's evidence folder, emptied."""
        workdir = self.cells_dir / cell.id
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        return workdir

    def run(self, cell: Cell) -> CellRun:
        workdir = self.workdir(cell)
        event_log, output_log = workdir / EVENT_LOG, workdir / OUTPUT_LOG
        started = time.time()
        problem: Optional[str] = None
        returncode: Optional[int] = None
        python_version = ""
        key: Optional[bytes] = None
        try:
            ready = self.provision(cell)
        except CellSkipped:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        except ProvisionFailed as err:
            problem = str(err)
            output_log.write_text(problem + "\n", encoding="utf-8")
        else:
            python_version = ready.python_full_version
            key = new_key()
            problem, returncode = self._play(cell, ready, workdir, key)
        event_lines = tuple(_read_text(event_log).splitlines())
        if key is not None:
            problem = problem or forgery_problem(verify_seals(event_lines, key))
        return CellRun(
            cell=cell,
            backend=self.name,
            python_full_version=python_version,
            event_lines=event_lines,
            output=_read_text(output_log),
            event_log=event_log,
            output_log=output_log,
            started=started,
            ended=time.time(),
            sandbox_returncode=returncode,
            problem=problem,
        )

    def _play(
        self, cell: Cell, ready: Provisioned, workdir: Path, key: bytes
    ) -> Tuple[Optional[str], Optional[int]]:
        launched = self.launch(cell, ready, workdir, key)
        problem: Optional[str] = None
        returncode: Optional[int] = None
        try:
            problem = drive(cell, launched, EventLogTail(workdir / EVENT_LOG), self.timeouts)
            # Also after a problem: a stop by the rules, so the log still shows a shutdown.
            returncode, killed = launched.stop(self.timeouts)
            if problem is None:
                problem = stop_problem(returncode, killed, self.timeouts)
        finally:
            leftover = launched.close()
        return problem or leftover, returncode


def drive(cell: Cell, launched: Launched, log: EventLogTail, timeouts: Timeouts) -> Optional[str]:
    """Ready, then the cell's script. A problem description, or None."""
    ready = log.wait_for(Kind.SANDBOX_READY, timeouts.ready_s, launched.alive)
    if ready is None:
        return f"the sandbox did not log sandbox.ready within {timeouts.ready_s:g} s"
    return play_cell(
        cell,
        launched.invoke_address(ready),
        log,
        launched.alive,
        timeouts.invoke_s,
        timeouts.idle_grace_s,
    )


def forgery_problem(seal_problems: Sequence[str]) -> Optional[str]:
    """What the run's problem is when the event log holds lines the sandbox did not
    write (``verify_seals``), or None. Pure."""
    if not seal_problems:
        return None
    return (
        f"the event log is not the sandbox's alone ({len(seal_problems)} line(s) fail their "
        f"seal; first: {seal_problems[0]}): its evidence is not judged"
    )


def stop_problem(returncode: Optional[int], killed: bool, timeouts: Timeouts) -> Optional[str]:
    """What was wrong with how the sandbox ended after SIGTERM, or None. Pure."""
    if killed:
        return f"the sandbox did not exit within {timeouts.term_s:g} s of SIGTERM (SIGKILLed)"
    if returncode is None:
        return "the sandbox could not be stopped"
    if returncode != 0:
        return f"the sandbox exited with code {returncode} after SIGTERM, expected 0"
    return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
