"""``python -m harness.bisect``: run a subset of releases.toml and write the release timeline.

    python -m harness.bisect [--subset ci|full] [--backend process] [--results DIR] [--workers N]

Cells go through the harness's one pipeline (``harness.runner.run_cell``) on
the process backend. The venvs, one per (CPython, release), are built first,
``--workers`` at a time (pip runs in each; the cache renames a finished venv
into place, so parallel builds are safe); then the cells run, ``--workers``
at a time. Writes ``results.json`` (the matrix's format), ``BISECT.md`` and
``cells/process/<id>/`` under the results folder. Every process a cell starts
carries the run's label, swept at the end.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from harness import backends
from harness.backends.base import Backend, CellSkipped, ProvisionFailed
from harness.backends.process import ProcessBackend
from harness.bisect.expand import Plan, expand, wheel_pythons
from harness.bisect.markdown import render_bisect
from harness.bisect.releases import RELEASES_FILE, ReleaseError, load_releases
from harness.errors import LabError
from harness.evidence.result import CellResult
from harness.model.cells import Cell
from harness.paths import LATEST_RESULTS_DIR
from harness.provision.interpreters import find_interpreter
from harness.report.meta import RunMeta
from harness.report.writer import write_results
from harness.runner import run_cells
from harness.sandbox import forkserver, sweep

DEFAULT_RESULTS = LATEST_RESULTS_DIR / "bisect"
BACKENDS = ("process",)


class UsageError(LabError):
    """A bad command line or releases file: one line, exit status 2."""


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m harness.bisect",
        description="Run awslambdaric releases (releases.toml) through the lab and write the "
        "release timeline with its change points.",
    )
    parser.add_argument(
        "--subset", default="ci", help="full, or a [subset.*] of releases.toml (default ci)"
    )
    parser.add_argument(
        "--backend",
        default="process",
        help="where cells run; only process (each release needs its own venv, not an image)",
    )
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="output folder")
    parser.add_argument("--workers", type=int, default=2, help="cells at a time (default 2)")
    parser.add_argument("--releases", type=Path, default=RELEASES_FILE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.backend not in BACKENDS:
        raise UsageError(
            f"--backend: the bisect runs on {', '.join(BACKENDS)} only, got {args.backend!r} "
            "(the images pin one awslambdaric per CPython)"
        )
    if args.workers < 1:
        raise UsageError(f"--workers: expected 1 or more, got {args.workers}")
    return args


def available_pythons(wanted: Sequence[str]) -> Tuple[str, ...]:
    """The CPythons among ``wanted`` that this machine has (harness.provision.interpreters)."""
    return tuple(p for p in wanted if find_interpreter(p) is not None)


def provision_all(backend: ProcessBackend, cells: Sequence[Cell], workers: int) -> List[str]:
    """Build every venv the cells need before any runs; a line per failure (those cells fail
    again, with the reason, when they run)."""
    firsts: Dict[Tuple[str, str], Cell] = {}
    for cell in cells:
        firsts.setdefault((cell.python, cell.runtime_client_version), cell)

    def build(cell: Cell) -> Optional[str]:
        try:
            backend.provision(cell)
        except (CellSkipped, ProvisionFailed) as err:
            return f"CPython {cell.python}, awslambdaric {cell.runtime_client_version}: {err}"
        return None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [line for line in pool.map(build, firsts.values()) if line]


def run_all(
    backend: Backend, cells: Sequence[Cell], results_dir: Path, workers: int
) -> List[CellResult]:
    def progress(done: int, cell: Cell, result: CellResult) -> None:
        mark = {"pass": ".", "fail": "F", "skipped": "s"}.get(result.verdict, "?")
        print(f"[bisect] {done}/{len(cells)} {mark} {cell.id}", file=sys.stderr, flush=True)

    return run_cells(backend, cells, results_dir, workers, progress)


def write_outputs(
    results_dir: Path, results: Sequence[CellResult], meta: RunMeta, markdown: str
) -> List[Path]:
    return write_results(results_dir, results, meta, {results_dir / "BISECT.md": markdown})


def run(args: argparse.Namespace, plan: Plan, subset: str) -> int:
    book = load_releases(args.releases)
    results_dir: Path = args.results.resolve()
    cells_dir = results_dir / "cells"
    if cells_dir.exists():  # the report holds this run only
        shutil.rmtree(cells_dir)
    session = uuid.uuid4().hex[:12]
    backend = backends.create(args.backend, cells_dir / args.backend, session)
    assert isinstance(backend, ProcessBackend)
    started = time.time()
    print(
        f"[bisect] subset {subset}: {len(plan.cells)} cells; building venvs first",
        file=sys.stderr,
        flush=True,
    )
    for line in provision_all(backend, plan.cells, args.workers):
        print(f"[bisect] venv failed: {line}", file=sys.stderr, flush=True)
    built = time.time()
    try:
        results = run_all(backend, plan.cells, results_dir, args.workers)
    finally:
        forkserver.close_all()
        leftovers = sweep.sweep(session + "/")
    ended = time.time()
    meta = RunMeta(
        tool="lambda-sigterm-lab bisect",
        tool_version="1",
        platform=platform.platform(),
        host_python=f"CPython {platform.python_version()}",
        backend=args.backend,
        backend_note=f"--subset {subset}; venvs {built - started:.0f} s, cells {ended - built:.0f} s",
        started=started,
        ended=ended,
        command="python -m harness.bisect " + " ".join(sys.argv[1:]),
    )
    ordered = sorted(results, key=lambda r: r.id)
    written = write_outputs(
        results_dir, ordered, meta, render_bisect(book, ordered, meta, subset, plan.left_out)
    )
    if leftovers:
        print(f"[bisect] killed leftover processes {leftovers}", file=sys.stderr)
    tally = {v: sum(r.verdict == v for r in results) for v in ("pass", "fail", "skipped")}
    print(
        f"[bisect] {len(results)} cells ({tally['pass']} pass, {tally['fail']} fail, "
        f"{tally['skipped']} skipped) in {ended - started:.0f} s -> "
        + ", ".join(str(p) for p in written)
    )
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        args = parse_args(argv)
        book = load_releases(args.releases)
        subset = book.subset(args.subset)
        plan = expand(book, subset, available_pythons(wheel_pythons(book)), args.releases)
    except (UsageError, ReleaseError) as err:
        print(f"bisect: error: {err}", file=sys.stderr)
        return 2
    for note in plan.left_out:
        print(f"[bisect] not run: {note}", file=sys.stderr)
    if not plan.cells:
        print("bisect: error: no cell to run (see 'not run' above)", file=sys.stderr)
        return 2
    return run(args, plan, args.subset)
