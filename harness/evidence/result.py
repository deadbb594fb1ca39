"""One cell's result as results.json records it. Pure values.

The cell's declaration, what its event log showed (``observation_fields``),
the verdict, and what each probe saw (``probes``: probe name -> its fields).
Writing and reading the per-cell files is ``harness.report.journal``'s job.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

from harness.evidence.judge import DEFAULT_MARKER, Observation
from harness.evidence.verdicts import Verdict
from harness.model.cells import Cell, variant_of


@dataclass(frozen=True)
class CellResult:
    id: str
    scenario: str
    python: str
    python_full_version: Optional[str]
    runtime_client: str
    runtime_client_version: str
    execution_env: Optional[str]
    extension: str
    strategy: str
    trigger: str
    backend: str
    expected_cleanup: bool
    expected_reason: str
    expected_source: str
    observed_cleanup: Optional[bool]
    sigterm_sent: Optional[bool]
    killed: Optional[bool]
    ms_sigterm_to_cleanup: Optional[float]
    ms_sigterm_to_exit: Optional[float]
    shutdown_rule: Optional[str]
    shutdown_limit_ms: Optional[int]
    signals: Tuple[Dict[str, Any], ...]
    verdict: str  # "pass" | "fail" | "skipped"
    reasons: Tuple[str, ...]
    event_log: Optional[str]  # relative to the results directory
    output_log: Optional[str]
    started: float
    ended: float
    # The line the judge looked for; the HTML timeline marks it. Defaulted so
    # that results written before it was recorded still load.
    cleanup_marker: str = DEFAULT_MARKER
    # What each probe of the cell saw (harness/probes/): name -> fields. Absent
    # from the JSON of cells no probe observed.
    probes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # The deployment target the cell stands for (targets.toml), and how its
    # runtime started ("direct" or "managed").
    target: str = ""
    start: str = "direct"

    @property
    def key(self) -> str:
        """Unique within a run: the same cell may run on several backends."""
        return f"{self.backend}/{self.id}"

    @property
    def variant(self) -> Tuple[str, str, str, str, str]:
        return variant_of(self)

    def to_json(self) -> Dict[str, Any]:
        data = asdict(self)
        data["signals"] = list(self.signals)
        data["reasons"] = list(self.reasons)
        data["elapsed_s"] = round(self.ended - self.started, 3)
        if not self.probes:
            del data["probes"]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "CellResult":
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["signals"] = tuple(fields.get("signals") or ())
        fields["reasons"] = tuple(fields.get("reasons") or ())
        fields["probes"] = dict(fields.get("probes") or {})
        if "messages_expected" in data and "broker" not in fields["probes"]:
            # results.json before probes (report version 1) kept the broker's
            # findings at the top level.
            fields["probes"]["broker"] = {k: data[k] for k in LEGACY_BROKER_FIELDS if k in data}
        return cls(**fields)


def _cell_fields(cell: Cell) -> Dict[str, Any]:
    return {
        "id": cell.id,
        "scenario": cell.scenario,
        "python": cell.python,
        "runtime_client": cell.runtime_client,
        "runtime_client_version": cell.runtime_client_version,
        "execution_env": cell.execution_env,
        "extension": cell.extension,
        "strategy": cell.strategy,
        "trigger": cell.trigger,
        "expected_cleanup": cell.expectation.cleanup,
        "expected_reason": cell.expectation.reason,
        "expected_source": cell.expectation.source,
        "cleanup_marker": cell.cleanup_marker,
        "target": cell.target,
        "start": cell.start,
    }


def _probes(
    cell: Cell, seen: Optional[Mapping[str, Mapping[str, Any]]]
) -> Dict[str, Dict[str, Any]]:
    """Every probe of the cell gets an entry, empty when it saw nothing."""
    seen = seen or {}
    return {name: dict(seen.get(name, {})) for name, _ in cell.probes}


def observation_fields(seen: Observation) -> Dict[str, Any]:
    """The CellResult fields that come from the judged event log. Pure."""
    return {
        "observed_cleanup": seen.cleanup_seen,
        "sigterm_sent": seen.sigterm_sent,
        "killed": seen.killed,
        "ms_sigterm_to_cleanup": seen.ms_sigterm_to_cleanup,
        "ms_sigterm_to_exit": seen.ms_sigterm_to_exit,
        "shutdown_rule": seen.shutdown_rule,
        "shutdown_limit_ms": seen.shutdown_limit_ms,
        "signals": tuple(
            {"signal": s.signal, "role": s.role, "name": s.name, "ms": s.ms_after_shutdown_start}
            for s in seen.signals
        ),
    }


def observed(
    cell: Cell,
    backend: str,
    python_full_version: str,
    seen: Observation,
    verdict: Verdict,
    logs: Tuple[Optional[str], Optional[str]],
    times: Tuple[float, float],
    probes: Optional[Mapping[str, Mapping[str, Any]]] = None,
) -> CellResult:
    return CellResult(
        **_cell_fields(cell),
        **observation_fields(seen),
        probes=_probes(cell, probes),
        python_full_version=python_full_version,
        backend=backend,
        verdict=verdict.status,
        reasons=verdict.reasons,
        event_log=logs[0],
        output_log=logs[1],
        started=times[0],
        ended=times[1],
    )


def not_observed(
    cell: Cell,
    backend: str,
    verdict: Verdict,
    times: Tuple[float, float],
    python_full_version: Optional[str] = None,
) -> CellResult:
    """A cell that did not run (skipped) or broke before it had a log."""
    return CellResult(
        **_cell_fields(cell),
        probes=_probes(cell, None),
        python_full_version=python_full_version,
        backend=backend,
        observed_cleanup=None,
        sigterm_sent=None,
        killed=None,
        ms_sigterm_to_cleanup=None,
        ms_sigterm_to_exit=None,
        shutdown_rule=None,
        shutdown_limit_ms=None,
        signals=(),
        verdict=verdict.status,
        reasons=verdict.reasons,
        event_log=None,
        output_log=None,
        started=times[0],
        ended=times[1],
    )


LEGACY_BROKER_FIELDS = (
    "messages_expected",
    "messages_delivered",
    "connection_closed_cleanly",
    "connection_close",
)
