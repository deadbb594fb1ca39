"""Run one cell through a backend, judge it, decide, and record the result.

This is the only place that joins the pipeline's stages:
``probes prepare -> Backend.run -> judge -> probes observe -> decide -> CellResult``.
The pytest test in ``harness/test_matrix.py`` is a thin shell around ``run_cell``.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Sequence

from harness.backends.base import Backend, CellRun, CellSkipped
from harness.errors import LabError, must_run
from harness.evidence.judge import judge
from harness.evidence.result import CellResult, not_observed, observed
from harness.evidence.verdicts import Verdict, decide, skipped
from harness.model.cells import Cell
from harness.probes import Probe, ProbeObservation, ProbeUnavailable, start_probes
from harness.report.journal import write_result

TAIL_LINES = 40


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def run_cell(cell: Cell, backend: Backend, results_dir: Path) -> CellResult:
    """The cell's result, also written to ``results_dir/cells/<backend>/<id>/verdict.json``."""
    cells_dir = results_dir / "cells" / backend.name
    started = time.time()
    probes = start_probes(cell)
    try:
        run = backend.run(_prepare(cell, probes))
    except CellSkipped as why:
        result = not_observed(cell, backend.name, skipped(str(why)), (started, time.time()))
    except (LabError, OSError) as err:
        verdict = Verdict(status="fail", reasons=(f"{type(err).__name__}: {err}",))
        result = not_observed(cell, backend.name, verdict, (started, time.time()))
    else:
        seen = judge(run.event_lines, cell.cleanup_marker)
        observations = [probe.observe(run.event_lines) for probe in probes]
        result = observed(
            cell,
            backend.name,
            run.python_full_version,
            seen,
            decide(cell, seen, run.problem, [r for o in observations for r in o.reasons]),
            (_relative(run.event_log, results_dir), _relative(run.output_log, results_dir)),
            (run.started, run.ended),
            probes=probe_fields(observations),
        )
        if result.verdict == "fail":
            # The log tail travels with the failure (see failure_text).
            _write_tail(cells_dir / cell.id / "failure.txt", result, run)
    finally:
        for probe in probes:
            probe.cleanup()
    write_result(cells_dir, result)
    return result


def run_cells(
    backend: Backend,
    cells: Sequence[Cell],
    results_dir: Path,
    workers: int,
    progress: Callable[[int, Cell, CellResult], None],
) -> List[CellResult]:
    """Every cell through ``run_cell``, ``workers`` at a time; results in the cells'
    order. ``progress(done, cell, result)`` after each (the command lines' own line)."""
    done: List[CellResult] = []

    def one(cell: Cell) -> CellResult:
        result = run_cell(cell, backend, results_dir)
        done.append(result)
        progress(len(done), cell, result)
        return result

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, cells))


def _prepare(cell: Cell, probes: Sequence[Probe]) -> Cell:
    """Each probe readies itself; a missing one skips the cell, except under CI."""
    for probe in probes:
        try:
            cell = probe.prepare(cell)
        except ProbeUnavailable as err:
            if must_run():
                raise
            raise CellSkipped(str(err)) from None
    return cell


def probe_fields(observations: Sequence[ProbeObservation]) -> Dict[str, Mapping[str, Any]]:
    """results.json's ``probes``: probe name -> what it recorded. Pure."""
    return {o.probe: dict(o.fields) for o in observations}


def _tail(lines: Sequence[str], n: int = TAIL_LINES) -> str:
    return "\n".join(lines[-n:])


def _write_tail(path: Path, result: CellResult, run: CellRun) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(failure_text(result, run), encoding="utf-8")


def failure_text(result: CellResult, run: "CellRun | None" = None) -> str:
    """Why the cell failed, then the tail of its event log and output."""
    parts: List[str] = [f"cell {result.id} ({result.scenario}) failed:"]
    parts += [f"  - {reason}" for reason in result.reasons]
    if run is not None:
        parts += [
            f"--- last {TAIL_LINES} events of {run.event_log} ---",
            _tail(run.event_lines),
            f"--- last {TAIL_LINES} lines of {run.output_log} ---",
            _tail(run.output.splitlines()),
        ]
    return os.linesep.join(parts)
