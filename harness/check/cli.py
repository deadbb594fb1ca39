"""``python -m harness.check PATH --handler module.function [--marker TEXT]`` (``./lab check``).

Runs a function directory through every deployment target (targets.toml),
with no extension and with an external one, as written and with the fix (the
lambda-shutdown-hook layer on managed runtimes, the package on images),
prints one table and writes ``results.json``, ``CHECK.md`` and the cells'
evidence under ``results/latest/check/<dir name>/``.

Exit status, for a function repository's CI: 0 when, with the fix, the
cleanup ran on every target that ran; 1 when it did not somewhere (or a run
failed); 2 for a usage error (a missing directory, an unloadable handler, no
interpreter for any target). ``--marker`` names a line the cleanup prints;
without it, "runs" means the runtime ended by itself after SIGTERM, before
SIGKILL (a handler that exits, as AWS's samples do).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import List, Mapping, Optional, Sequence

from harness import backends
from harness.check.handler import handler_problem
from harness.check.plan import CheckRequest, check_cells
from harness.check.table import fix_fails, grid, markdown, terminal
from harness.errors import LabError
from harness.evidence.result import CellResult
from harness.model.cells import Cell
from harness.model.targets import TargetError
from harness.paths import FUNCTION_DIR, LATEST_RESULTS_DIR
from harness.provision.interpreters import find_interpreter, where_searched
from harness.report.meta import RunMeta
from harness.report.writer import write_results
from harness.runner import run_cells
from harness.sandbox import forkserver, sweep

BACKENDS = ("process", "docker")
# ./lab changes to the project folder; it passes where it was called from.
CALLER_DIR = "LAB_CALLER_DIR"


class UsageError(LabError):
    """A bad command line: one line, exit status 2."""


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="./lab check",
        description="Run your function through every deployment target, without and with "
        "the fix, and say where its SIGTERM cleanup runs.",
    )
    parser.add_argument("path", type=Path, help="the function directory (its task root)")
    parser.add_argument(
        "--handler",
        default="app.lambda_handler",
        help="module.function (default app.lambda_handler)",
    )
    parser.add_argument("--marker", help="a line the cleanup prints (recommended)")
    parser.add_argument(
        "--event", type=Path, help="a JSON file: the invocation payload your handler expects"
    )
    parser.add_argument(
        "--target", action="append", help="a target of targets.toml (repeat); default all"
    )
    parser.add_argument("--backend", default="process", help="process (default) or docker")
    parser.add_argument("--results", type=Path, help="output folder")
    parser.add_argument("--workers", type=int, default=2, help="cells at a time (default 2)")
    return parser.parse_args(argv)


def _resolve(path: Path, env: Mapping[str, str]) -> Path:
    base = Path(env.get(CALLER_DIR) or os.getcwd())
    return (base / path).resolve() if not path.is_absolute() else path


def request_from(args: argparse.Namespace, env: Mapping[str, str]) -> CheckRequest:
    function_dir = _resolve(args.path, env)
    if not function_dir.is_dir():
        raise UsageError(f"{function_dir}: no such directory (the function's task root)")
    problem = handler_problem(function_dir, args.handler)
    if problem:
        raise UsageError(problem)
    if args.backend not in BACKENDS:
        raise UsageError(f"--backend: one of {', '.join(BACKENDS)}, got {args.backend!r}")
    if args.workers < 1:
        raise UsageError(f"--workers: expected 1 or more, got {args.workers}")
    if args.marker is not None and not args.marker.strip():
        raise UsageError("--marker: expected the text of a line the cleanup prints")
    event = ""
    if args.event is not None:
        path = _resolve(args.event, env)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise UsageError(f"--event {path}: not a readable JSON file ({err})") from None
        if not isinstance(payload, dict):
            raise UsageError(
                f"--event {path}: expected a JSON object, got {type(payload).__name__}"
            )
        event = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return CheckRequest(
        event=event,
        function_dir=function_dir,
        handler=args.handler,
        marker=args.marker,
        extensions_dir=FUNCTION_DIR / "extensions",
        target_names=tuple(args.target or ["all"]),
    )


def runnable(cells: Sequence[Cell], backend: str) -> List[Cell]:
    """The cells, or UsageError when no target's CPython is found (process backend)."""
    if not cells:
        raise UsageError("no cell to run (no target selected)")
    if backend != "process" or any(find_interpreter(c.python) for c in cells):
        return list(cells)
    pythons = sorted({c.python for c in cells}, key=lambda v: tuple(map(int, v.split("."))))
    raise UsageError("no interpreter for any target: " + where_searched(pythons[0]))


def run(request: CheckRequest, cells: Sequence[Cell], args: argparse.Namespace) -> int:
    name = request.function_dir.name or "function"
    chosen = _resolve(args.results, os.environ) if args.results else None
    results_dir = (chosen or LATEST_RESULTS_DIR / "check" / name).resolve()
    if (results_dir / "cells").exists():
        shutil.rmtree(results_dir / "cells")
    session = uuid.uuid4().hex[:12]
    backend = backends.create(args.backend, results_dir / "cells" / args.backend, session)
    started = time.time()

    def progress(done: int, cell: Cell, result: CellResult) -> None:
        print(f"[check] {done}/{len(cells)} {cell.target}: {cell.id}", file=sys.stderr, flush=True)

    try:
        results = run_cells(backend, cells, results_dir, args.workers, progress)
    finally:
        forkserver.close_all()
        sweep.sweep(session + "/")
    meta = RunMeta(
        tool="lambda-sigterm-lab check",
        tool_version="1",
        platform=platform.platform(),
        host_python=f"CPython {platform.python_version()}",
        backend=args.backend,
        backend_note=f"{request.function_dir} --handler {request.handler}",
        started=started,
        ended=time.time(),
        command="./lab check " + " ".join(sys.argv[1:]),
    )
    rows, answers = grid(results, request.marker is not None)
    table = terminal(rows, answers)
    judged = f"the line {request.marker!r}" if request.marker else "the runtime exiting by itself"
    bad = fix_fails(rows, answers)
    verdict = (
        "with the fix, the cleanup ran on every target that ran"
        if not bad
        else "with the fix, the cleanup did NOT run on: " + "; ".join(bad)
    )
    check_md = (
        f"# ./lab check {request.function_dir.name}\n\n"
        f"Handler `{request.handler}`; cleanup judged by {judged}; backend {args.backend}. "
        f"The fix: the lambda-shutdown-hook layer (managed runtimes) or package (images).\n\n"
        + markdown(rows, answers)
        + f"\n{verdict}.\n"
    )
    ordered = sorted(results, key=lambda r: r.id)
    write_results(results_dir, ordered, meta, {results_dir / "CHECK.md": check_md})
    print(f"SIGTERM cleanup of {request.handler} ({judged}):\n")
    print(table)
    print(f"\n{verdict}.\nresults: {results_dir}")
    return 1 if bad else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        args = parse_args(argv)
        request = request_from(args, os.environ)
        cells = runnable(check_cells(request), args.backend)
    except (UsageError, TargetError) as err:
        print(f"check: error: {err}", file=sys.stderr)
        return 2
    return run(request, cells, args)
