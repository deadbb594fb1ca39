"""Observers outside the sandbox that judge a cell too (see ``base``).

``KINDS`` is every probe kind the lab has; a scenario names them in
``[probes.<name>]`` tables. The rest of the pipeline uses the functions here
and the ``Probe`` interface, never a particular probe.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence, Tuple

from harness.evidence.result import CellResult
from harness.model.cells import Cell
from harness.probes.base import Probe, ProbeKind, ProbeObservation, ProbeUnavailable
from harness.probes.broker import BrokerKind
from harness.probes.collector import CollectorKind
from harness.probes.telemetry import TelemetryKind

KINDS: Dict[str, ProbeKind] = {
    kind.name: kind for kind in (BrokerKind(), TelemetryKind(), CollectorKind())
}

__all__ = [
    "KINDS",
    "Probe",
    "ProbeKind",
    "ProbeObservation",
    "ProbeUnavailable",
    "check_settings",
    "report_markdown",
    "start_probes",
]


def check_settings(name: str, settings: Mapping[str, Any]) -> Tuple[Tuple[str, Any], ...]:
    """For scenario loading (``load_cells(..., probe_check=check_settings)``)."""
    kind = KINDS.get(name)
    if kind is None:
        raise ValueError(f"a probe from {', '.join(sorted(KINDS))} (unknown: {name!r})")
    return kind.check_settings(settings)


def start_probes(cell: Cell) -> List[Probe]:
    """A probe per probe kind the cell names, in the cell's order."""
    return [KINDS[name].start(cell) for name, _ in cell.probes]


def report_markdown(results: Sequence[CellResult]) -> List[str]:
    """Every probe kind's section of REPORT.md, in KINDS order."""
    lines: List[str] = []
    for kind in KINDS.values():
        lines += kind.report_markdown(results)
    return lines
