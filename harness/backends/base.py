"""The one interface every backend implements, and the raw record a run produces."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol, Tuple

from harness.cells import Cell


class CellSkipped(Exception):
    """The cell cannot run here (e.g. no interpreter); the message says how to fix that."""


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
