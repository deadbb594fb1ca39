"""One cell's result as results.json records it, and its per-cell file.

Workers (pytest-xdist) each write ``cells/<id>/verdict.json``; the controller
reads them all back at the end of the session and writes the report. The
keys issue 3 requires are all here; the rest is evidence for the reader.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from harness.cells import Cell
from harness.judge import DEFAULT_MARKER, Observation
from harness.verdicts import Verdict


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
    # Broker-judged cells only (harness/broker.py); absent from other cells' JSON.
    messages_expected: Optional[int] = None
    messages_delivered: Optional[int] = None
    connection_closed_cleanly: Optional[bool] = None
    connection_close: Optional[str] = None  # the broker's words for how it ended

    @property
    def key(self) -> str:
        """Unique within a run: the same cell may run on several backends."""
        return f"{self.backend}/{self.id}"

    @property
    def variant(self) -> Tuple[str, str, str, str, str]:
        return (
            self.scenario,
            self.runtime_client,
            self.execution_env or "",
            self.extension,
            self.strategy,
        )

    def to_json(self) -> Dict[str, Any]:
        data = asdict(self)
        data["signals"] = list(self.signals)
        data["reasons"] = list(self.reasons)
        data["elapsed_s"] = round(self.ended - self.started, 3)
        if self.messages_expected is None:
            for key in BROKER_FIELDS:
                del data[key]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "CellResult":
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["signals"] = tuple(fields.get("signals") or ())
        fields["reasons"] = tuple(fields.get("reasons") or ())
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
    }


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
) -> CellResult:
    return CellResult(
        **_cell_fields(cell),
        **observation_fields(seen),
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


BROKER_FIELDS = (
    "messages_expected",
    "messages_delivered",
    "connection_closed_cleanly",
    "connection_close",
)
RESULT_FILE = "verdict.json"


def write_result(cells_dir: Path, result: CellResult) -> Path:
    """``cells_dir/<id>/verdict.json``, written whole or not at all."""
    folder = cells_dir / result.id
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / RESULT_FILE
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".verdict-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(result.to_json(), handle, indent=2)
    os.replace(tmp, target)
    return target


def read_results(cells_dir: Path) -> List[CellResult]:
    """Every result written below ``cells_dir`` (``<backend>/<id>/``), ordered by path."""
    results = []
    for path in sorted(cells_dir.rglob(RESULT_FILE)):
        results.append(CellResult.from_json(json.loads(path.read_text(encoding="utf-8"))))
    return results
