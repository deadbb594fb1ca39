"""Cost of a cell: its wall time against its floor, per backend; and the matrix by workers.

A cell's floor is what no harness can avoid: one interpreter start, the
shutdown rule's grace window as the cell used it (the runtime's SIGTERM to
its exit, at most the rule's limit; 0 with no extension), one warm invoke at
the bare-loopback floor, and for an idle cell the idle timeout. The wall
time is ``run_cell`` from start to verdict.

The matrix part runs the default scenarios (``pytest harness -n W``) at
several worker counts into a temporary results folder and compares each wall
time with the sum of the cells' floors divided by W. It takes minutes, so it
runs only when asked for (``--matrix-workers 1,2,4,8``).

    python -m bench.cell_cost [--runs 3] [--matrix-workers 1,2,4,8]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from bench.common import spread, time_command_ms
from harness import backends, probes
from harness.backends.base import Backend
from harness.model.cells import Cell
from harness.model.scenarios import load_cells
from harness.paths import PROJECT_ROOT as ROOT
from harness.paths import SCENARIOS_DIR
from harness.provision.interpreters import find_interpreter
from harness.runner import run_cell
from harness.sandbox import sweep
from lambda_sandbox.eventlog import Event, Kind, read_event_log

SCENARIOS = SCENARIOS_DIR / "experiments"

# One cell per shutdown behaviour, on Python 3.12 with awslambdaric, trigger stop.
REPRESENTATIVE: Tuple[Dict[str, Any], ...] = (
    {"extension": "none", "strategy": "wakeup-fd"},  # SIGKILL at 0 ms
    {"extension": "internal", "strategy": "wakeup-fd"},  # cleanup, exits at once
    {"extension": "internal", "strategy": "signal", "execution_env": None},  # SIGKILL at 500
    {"extension": "external", "strategy": "signal"},  # SIGKILL at 2,000
)


def floor_parts_ms(
    interpreter_ms: float,
    invoke_ms: float,
    limit_ms: Optional[int],
    sigterm_sent: Optional[bool],
    sigterm_to_exit_ms: Optional[float],
    idle_ms: float,
) -> Dict[str, float]:
    """A cell's floor, by part. Pure."""
    grace = 0.0
    if sigterm_sent and limit_ms:
        used = sigterm_to_exit_ms if sigterm_to_exit_ms is not None else float(limit_ms)
        grace = min(float(limit_ms), used)
    parts = {"interpreter": interpreter_ms, "grace": grace, "invoke": invoke_ms}
    if idle_ms:
        parts["idle"] = idle_ms
    return {k: round(v, 3) for k, v in parts.items()}


def phases_ms(events: Sequence[Event], started: float, ended: float) -> Dict[str, float]:
    """Where a cell's wall time went, from its event log (wall-clock ``ts``). Pure.

    ``events`` as the contract's reader gives them (``read_event_log``);
    ``to_sandbox_start``: the harness's Popen to the sandbox's first event
    (interpreter start and imports); ``init``, ``invoke`` (all of them) and
    ``shutdown`` as the sandbox logged them; ``sandbox_exit``: the last
    shutdown.end to sandbox.exit; ``rest``: everything else (waiting for the
    harness, the idle timeout, reading the log).
    """
    first = {e.kind: e for e in reversed(events)}
    last = {e.kind: e for e in events}

    def total_ms(kind: str) -> float:
        return sum(float(e.get("duration_ms") or 0) for e in events if e.kind == kind)

    out = {
        "to_sandbox_start": (first[Kind.SANDBOX_START]["ts"] - started) * 1000.0
        if Kind.SANDBOX_START in first
        else 0.0,
        "init": total_ms(Kind.INIT_END),
        "invoke": total_ms(Kind.INVOKE_END),
        "shutdown": total_ms(Kind.SHUTDOWN_END),
        "sandbox_exit": (last[Kind.SANDBOX_EXIT]["ts"] - last[Kind.SHUTDOWN_END]["ts"]) * 1000.0
        if Kind.SANDBOX_EXIT in last and Kind.SHUTDOWN_END in last
        else 0.0,
    }
    out["rest"] = (ended - started) * 1000.0 - sum(out.values())
    return {k: round(v, 1) for k, v in out.items()}


def representative_cells(cells: Sequence[Cell], python: str = "3.12") -> List[Cell]:
    chosen = []
    for wanted in REPRESENTATIVE:
        for cell in cells:
            if (
                cell.python == python
                and cell.trigger == "stop"
                and cell.runtime_client == "awslambdaric"
                and all(getattr(cell, k) == v for k, v in wanted.items())
            ):
                chosen.append(cell)
                break
    return chosen


def available_backends() -> Tuple[List[str], Dict[str, str]]:
    """The backends to measure, and why the others are left out."""
    names: List[str] = []
    skipped: Dict[str, str] = {}
    for name in ("process", "docker"):
        if name == "docker" and not backends.docker_engine_answers():
            skipped[f"cell cost on {name}"] = "no Docker engine answers"
        else:
            names.append(name)
    return names, skipped


def interpreter_start_ms(version: str, runs: int = 5) -> Optional[float]:
    interpreter = find_interpreter(version)
    if interpreter is None:
        return None
    return spread(time_command_ms([str(interpreter.path), "-c", "pass"], runs))["median"]


def measure_cells(
    backend_names: Sequence[str], runs: int, invoke_ms: float
) -> Tuple[List[Dict[str, Any]], Dict[str, str]]:
    cells = representative_cells(load_cells(SCENARIOS, probes.check_settings))
    start_ms = interpreter_start_ms("3.12")
    if start_ms is None or not cells:
        return [], {"cell cost": "no CPython 3.12, or the default scenarios lack its cells"}
    rows: List[Dict[str, Any]] = []
    session = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        with tempfile.TemporaryDirectory(prefix="bench-cells-") as tmp:
            for name in backend_names:
                backend: Backend = backends.create(name, Path(tmp) / name / "cells", session)
                for cell in cells:
                    walls, grace_used, verdicts, phases = [], [], [], []
                    for _ in range(runs):
                        started = time.perf_counter()
                        result = run_cell(cell, backend, Path(tmp) / name)
                        walls.append(time.perf_counter() - started)
                        verdicts.append(result.verdict)
                        log = Path(tmp) / name / (result.event_log or "missing")
                        # A cell without a log reads as an empty one: every phase 0.
                        events = read_event_log(str(log)).events
                        phase = phases_ms(events, result.started, result.ended)
                        # Before the backend's clock starts: interpreter lookup, venv check.
                        phase["prepare"] = round(
                            walls[-1] * 1000.0 - (result.ended - result.started) * 1000.0, 1
                        )
                        phases.append(phase)
                        grace_used.append(
                            floor_parts_ms(
                                start_ms,
                                invoke_ms,
                                result.shutdown_limit_ms,
                                result.sigterm_sent,
                                result.ms_sigterm_to_exit,
                                0.0,
                            )
                        )
                    parts = {k: min(p[k] for p in grace_used) for k in grace_used[0]}
                    floor_s = sum(parts.values()) / 1000.0
                    wall = spread(walls)
                    rows.append(
                        {
                            "backend": name,
                            "cell": cell.id,
                            "rule": cell.shutdown_rule.rule,
                            "limit_ms": cell.shutdown_rule.limit_ms,
                            "runs": runs,
                            "verdicts": verdicts,
                            "wall_s": wall,
                            "floor_s": round(floor_s, 3),
                            "floor_parts_ms": parts,
                            "ratio": round(wall["median"] / floor_s, 2) if floor_s else None,
                            "phases_ms": {
                                k: round(statistics.median(p[k] for p in phases), 1)
                                for k in phases[0]
                            },
                        }
                    )
    finally:
        sweep.sweep(session + "/")
    return rows, {}


def _matrix_floor_s(
    cells: Sequence[Mapping[str, Any]],
    start_ms: Mapping[str, float],
    invoke_ms: float,
    idle_s: Mapping[str, float],
) -> float:
    total = 0.0
    for c in cells:
        if c.get("verdict") == "skipped" or c.get("python") not in start_ms:
            continue
        parts = floor_parts_ms(
            start_ms[str(c["python"])],
            invoke_ms,
            c.get("shutdown_limit_ms"),
            c.get("sigterm_sent"),
            c.get("ms_sigterm_to_exit"),
            idle_s.get(str(c["id"]), 0.0) * 1000.0 if c.get("trigger") == "idle" else 0.0,
        )
        total += sum(parts.values())
    return total / 1000.0


def matrix_by_workers(
    workers: Sequence[int], backend: str, invoke_ms: float, timeout_s: float = 1800.0
) -> Dict[str, Any]:
    """Wall time of the default matrix at each worker count, against Σ floors ÷ workers."""
    if importlib.util.find_spec("xdist") is None:
        raise LookupError(
            "pytest-xdist is not installed here (run it through tox: ./lab tox -e bench)"
        )
    cells = load_cells(SCENARIOS)
    idle_s = {c.id: c.idle_timeout_s for c in cells}
    start_ms: Dict[str, float] = {}
    for version in sorted({c.python for c in cells}):
        measured = interpreter_start_ms(version)
        if measured is not None:
            start_ms[version] = measured
    rows = []
    for w in workers:
        with tempfile.TemporaryDirectory(prefix=f"bench-matrix-{w}-") as out:
            argv = [
                sys.executable,
                "-m",
                "pytest",
                "harness",
                "-q",
                "-p",
                "no:cacheprovider",
                "-n",
                str(w),
                "--backend",
                backend,
                "--results",
                out,
            ]
            started = time.perf_counter()
            proc = subprocess.run(
                argv,
                cwd=str(ROOT),
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
            wall = time.perf_counter() - started
            try:
                data = json.loads((Path(out) / "results.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise RuntimeError(
                    f"pytest -n {w} wrote no results.json (exit {proc.returncode}):\n"
                    + proc.stdout[-2000:]
                ) from None
        floor = _matrix_floor_s(data["cells"], start_ms, invoke_ms, idle_s)
        rows.append(
            {
                "workers": w,
                "cells": len(data["cells"]),
                "passed": data["summary"].get("pass", 0),
                "exit_code": proc.returncode,
                "wall_s": round(wall, 2),
                "floor_sum_s": round(floor, 2),
                "floor_per_worker_s": round(floor / w, 2),
                "ratio": round(wall / (floor / w), 2) if floor else None,
            }
        )
    return {
        "backend": backend,
        "cpus": os.cpu_count(),
        "interpreter_start_ms": start_ms,
        "workers": rows,
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--invoke-floor-ms", type=float, default=1.0)
    parser.add_argument("--matrix-workers", default="", help="e.g. 1,2,4,8 (off by default)")
    args = parser.parse_args(argv)
    names, skipped = available_backends()
    rows, more = measure_cells(names, args.runs, args.invoke_floor_ms)
    figures: Dict[str, Any] = {"cells": rows}
    if args.matrix_workers:
        workers = [int(w) for w in args.matrix_workers.split(",") if w.strip()]
        figures["matrix"] = matrix_by_workers(workers, names[0], args.invoke_floor_ms)
    print(json.dumps({"cell_cost": figures, "skipped": {**skipped, **more}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
