"""Run one cell through a backend, judge it, decide, and record the result.

This is the only place that joins the pipeline's stages:
``Backend.run -> judge -> decide -> CellResult``. The pytest test in
``harness/test_matrix.py`` is a thin shell around ``run_cell``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Optional, Sequence

from harness.backends.base import Backend, CellRun, CellSkipped
from harness.broker import BrokerObservation, BrokerProbe, BrokerUnavailable
from harness.cells import Cell
from harness.judge import judge
from harness.results import CellResult, not_observed, observed, write_result
from harness.venvs import VenvBuildError
from harness.verdicts import Verdict, decide, skipped

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
    probe: Optional[BrokerProbe] = None
    try:
        if cell.broker_messages:
            # The cell's own queue at the broker, empty, named in the function's env.
            probe = BrokerProbe(cell)
            _prepare(probe)
            run = backend.run(probe.cell)
        else:
            run = backend.run(cell)
    except CellSkipped as why:
        result = not_observed(cell, backend.name, skipped(str(why)), (started, time.time()))
    except (VenvBuildError, OSError, BrokerUnavailable) as err:
        verdict = Verdict(status="fail", reasons=(f"{type(err).__name__}: {err}",))
        result = not_observed(cell, backend.name, verdict, (started, time.time()))
    else:
        seen = judge(run.event_lines, cell.cleanup_marker)
        at_broker = probe.observe() if probe is not None else None
        result = observed(
            cell,
            backend.name,
            run.python_full_version,
            seen,
            decide(cell, seen, run.problem, at_broker),
            (_relative(run.event_log, results_dir), _relative(run.output_log, results_dir)),
            (run.started, run.ended),
        )
        if at_broker is not None:
            result = _with_broker(result, at_broker)
        if result.verdict == "fail":
            # The log tail travels with the failure (see failure_text).
            _write_tail(cells_dir / cell.id / "failure.txt", result, run)
    finally:
        if probe is not None:
            probe.cleanup()
    if cell.broker_messages and result.messages_expected is None:
        result = dataclasses.replace(result, messages_expected=cell.messages_expected)
    write_result(cells_dir, result)
    return result


def _prepare(probe: BrokerProbe) -> None:
    """Ready the cell's queue; no broker is a skip, except in CI where it must run."""
    try:
        probe.prepare()
    except BrokerUnavailable as err:
        if os.environ.get("CI") == "true":
            raise
        raise CellSkipped(str(err)) from None


def _with_broker(result: CellResult, at_broker: BrokerObservation) -> CellResult:
    return dataclasses.replace(
        result,
        messages_expected=at_broker.messages_expected,
        messages_delivered=at_broker.messages_delivered,
        connection_closed_cleanly=at_broker.connection_closed_cleanly,
        connection_close=at_broker.close_detail or None,
    )


def _tail(lines: Sequence[str], n: int = TAIL_LINES) -> str:
    return "\n".join(lines[-n:])


def _write_tail(path: Path, result: CellResult, run: CellRun) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(failure_text(result, run), encoding="utf-8")


def failure_text(result: CellResult, run: "CellRun | None" = None) -> str:
    """Why the cell failed, then the tail of its event log and output."""
    parts = [f"cell {result.id} ({result.scenario}) failed:"]
    parts += [f"  - {reason}" for reason in result.reasons]
    if run is not None:
        parts += [
            f"--- last {TAIL_LINES} events of {run.event_log} ---",
            _tail(run.event_lines),
            f"--- last {TAIL_LINES} lines of {run.output_log} ---",
            _tail(run.output.splitlines()),
        ]
    return os.linesep.join(parts)
