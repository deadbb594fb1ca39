"""Run every benchmark, print a table, write results/latest/bench.json and BENCH.md.

    python -m bench                        # the full run (a few minutes)
    python -m bench --quick                # a short run, for CI (figures not asserted)
    python -m bench --matrix-workers 1,2,4,8   # also the whole matrix by workers (long)
    python -m bench --only invoke,cold     # some of: invoke, profile, throughput, shutdown, cell, cold

Every figure is a ratio of two paths measured side by side in this run, on
this machine; bench.json records the machine. When results/latest/results.json
exists, REPORT.md and report.html are rendered again with a Benchmarks
section. All load is sequential and on loopback.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shlex
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from bench import (
    cell_cost,
    cold_start,
    invoke_overhead,
    invoke_profile,
    invoke_throughput,
    shutdown_fidelity,
)
from bench.common import machine
from harness.paths import LATEST_RESULTS_DIR
from harness.provision.interpreters import find_interpreter
from harness.report.bench import BENCH_VERSION, render_bench_markdown, render_bench_text
from harness.report.writer import rewrite_report

BENCHMARKS = ("invoke", "profile", "throughput", "shutdown", "cell", "cold")

# The throughput benchmark's load: the 16 clients on MAX_CONCURRENCY 4.
THROUGHPUT_CLIENTS = 16
THROUGHPUT_CONCURRENCY = 4


@dataclass(frozen=True)
class Sizes:
    invokes: int
    rounds: int
    shutdowns: int
    cell_runs: int
    cold_runs: int
    invocations: int  # the throughput benchmark's, from all its clients together


FULL = Sizes(invokes=2000, rounds=10, shutdowns=20, cell_runs=3, cold_runs=10, invocations=4000)
QUICK = Sizes(invokes=200, rounds=4, shutdowns=3, cell_runs=1, cold_runs=2, invocations=800)


def _iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).isoformat(timespec="seconds")


def _workers(text: str) -> List[int]:
    workers = [int(w) for w in text.split(",") if w.strip()]
    if not workers or any(not 1 <= w <= 32 for w in workers):
        raise argparse.ArgumentTypeError("a comma-separated list of worker counts from 1 to 32")
    return workers


def _only(text: str) -> List[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {', '.join(BENCHMARKS)}")
    return names


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small samples (CI)")
    parser.add_argument("--only", type=_only, default=list(BENCHMARKS), help="e.g. invoke,cold")
    parser.add_argument(
        "--matrix-workers",
        type=_workers,
        default=None,
        help="also run the default matrix at these worker counts, e.g. 1,2,4,8 (minutes)",
    )
    parser.add_argument("--python", default="3.12", help="CPython for invoke and shutdown")
    parser.add_argument("--results", type=Path, default=LATEST_RESULTS_DIR)
    return parser.parse_args(argv)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + "-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _invoke_floor_ms(data: Dict[str, Any], python_version: str) -> float:
    """One warm invoke's floor: from the invoke benchmark, or measured now."""
    measured = ((data.get("invoke_overhead") or {}).get("paths") or {}).get("floor_relay")
    if measured:
        return float(measured["p50"])
    interpreter = find_interpreter(python_version)
    python = interpreter.path if interpreter else Path(sys.executable)
    return invoke_overhead.floor_relay_p50(python)


def run(args: argparse.Namespace) -> Dict[str, Any]:
    sizes = QUICK if args.quick else FULL
    started = time.time()
    data: Dict[str, Any] = {
        "benchversion": BENCH_VERSION,
        "machine": machine(),
        "start": _iso(started),
        "command": shlex.join(["python", "-m", "bench", *sys.argv[1:]]),
        "quick": bool(args.quick),
        "skipped": {},
        "errors": {},
    }

    def step(name: str, label: str, body: Callable[[], None]) -> None:
        if name not in args.only:
            return
        print(f"bench: {label} ...", file=sys.stderr, flush=True)
        try:
            body()
        except LookupError as why:  # a missing interpreter or tool: say so, go on
            data["skipped"][name] = str(why)
        except Exception as err:  # one broken benchmark must not hide the others
            data["errors"][name] = f"{type(err).__name__}: {err}"
            traceback.print_exc()

    def invoke() -> None:
        data["invoke_overhead"] = invoke_overhead.run(args.python, sizes.invokes, sizes.rounds)

    def profile() -> None:
        data["invoke_profile"] = invoke_profile.run(
            args.python, invoke_profile.SANDBOX_PYTHON, sizes.invokes // 2
        )

    def throughput() -> None:
        data["invoke_throughput"] = invoke_throughput.run(
            args.python, THROUGHPUT_CONCURRENCY, sizes.invocations, THROUGHPUT_CLIENTS
        )

    def shutdown() -> None:
        data["shutdown_fidelity"] = shutdown_fidelity.run(args.python, sizes.shutdowns)

    def cell() -> None:
        invoke_ms = _invoke_floor_ms(data, args.python)
        names, skipped = cell_cost.available_backends()
        rows, more = cell_cost.measure_cells(names, sizes.cell_runs, invoke_ms)
        figures: Dict[str, Any] = {"invoke_floor_ms": invoke_ms, "cells": rows}
        if args.matrix_workers and names:
            figures["matrix"] = cell_cost.matrix_by_workers(
                args.matrix_workers, names[0], invoke_ms
            )
        else:
            figures["matrix_skipped"] = "not asked for (--matrix-workers 1,2,4,8)"
        data["cell_cost"] = figures
        data["skipped"].update({**skipped, **more})

    def cold() -> None:
        figures, skipped = cold_start.measure(runs=sizes.cold_runs)
        data["cold_start"] = figures
        data["skipped"].update(skipped)

    step("invoke", f"invoke overhead ({sizes.invokes} invokes per path)", invoke)
    step("profile", f"where an invoke's time goes ({sizes.invokes // 2} invokes)", profile)
    step(
        "throughput",
        f"throughput ({sizes.invocations} invocations, {THROUGHPUT_CLIENTS} clients, "
        f"MAX_CONCURRENCY {THROUGHPUT_CONCURRENCY})",
        throughput,
    )
    step("shutdown", f"shutdown fidelity ({sizes.shutdowns} per rule)", shutdown)
    step(
        "cell",
        "cost of a cell" + (" and the matrix by workers" if args.matrix_workers else ""),
        cell,
    )
    step("cold", f"cold start ({sizes.cold_runs} per Python and client)", cold)
    ended = time.time()
    data["end"] = _iso(ended)
    data["elapsed_s"] = round(ended - started, 1)
    return data


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    data = run(args)
    results: Path = args.results
    _write_atomic(results / "bench.json", json.dumps(data, indent=2) + "\n")
    _write_atomic(
        results / "BENCH.md", "\n".join(render_bench_markdown(data, heading="# Benchmarks")) + "\n"
    )
    print(render_bench_text(data), end="")
    for name, error in data["errors"].items():
        print(f"bench: {name} FAILED: {error}", file=sys.stderr)
    rewritten = rewrite_report(results)
    written = [results / "bench.json", results / "BENCH.md", *rewritten]
    print("bench: wrote " + ", ".join(str(p) for p in written))
    return 1 if data["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
