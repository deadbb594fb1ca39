"""The probe interface: an observer outside the sandbox that judges a cell too.

A scenario names its probes (``[probes.<name>]`` with settings). For each
cell the runner asks every probe kind named to ``start`` a probe; the probe
*prepares* the cell (its own queue, sink or collector, and the cell's
environment pointing at it), *observes* after the run (what arrived, judged
against the cell's declared expectation) and *cleans up*. The pipeline knows
this interface only, never a particular probe; a probe kind also writes its
own section of REPORT.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection, List, Mapping, Protocol, Sequence, Tuple

from harness.errors import Unavailable
from harness.evidence.result import CellResult
from harness.model.cells import Cell


def reject_unknown(settings: Mapping[str, Any], known: Collection[str]) -> None:
    """ValueError naming the settings a probe does not have, and the ones it has. Pure."""
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ValueError(f"settings from {', '.join(known)}; unknown: {', '.join(unknown)}")


class ProbeUnavailable(Unavailable):
    """What the probe observes (a broker, a collector) is not there; skip, or fail under CI."""


@dataclass(frozen=True)
class ProbeObservation:
    """What one probe saw of one run: fields for results.json, and why the cell fails by it."""

    probe: str
    fields: Tuple[Tuple[str, Any], ...]
    reasons: Tuple[str, ...] = ()  # empty: what it saw agrees with the declaration


class Probe(Protocol):
    """One probe, for one run of one cell."""

    def prepare(self, cell: Cell) -> Cell:
        """Make ready; the cell with what its function needs to reach the probe."""
        ...

    def observe(self, event_lines: Sequence[str]) -> ProbeObservation:
        """What it saw; ``event_lines`` is the run's event log (the function's output is in it)."""
        ...

    def cleanup(self) -> None:
        """Remove what ``prepare`` made (best effort; also after a failure)."""
        ...


class ProbeKind(Protocol):
    name: str

    def check_settings(self, settings: Mapping[str, Any]) -> Tuple[Tuple[str, Any], ...]:
        """The scenario's settings, validated; ValueError saying what is expected."""
        ...

    def start(self, cell: Cell) -> Probe: ...

    def report_markdown(self, results: Sequence[CellResult]) -> List[str]:
        """Its section of REPORT.md (no lines when no result was observed by it)."""
        ...
