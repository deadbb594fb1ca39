"""Where a warm invoke's time goes: the runtime's CPU, the sandbox's CPU, and the
sandbox's work by part (reading requests, writing answers, event-log writes,
console lines, /proc reads, freeze and thaw, the lifecycle machine).

Two runs of the same sandbox, runtime (awslambdaric on CPython ``--python``)
and fixture function, each ``--invokes`` warm invokes over one keep-alive
connection:

1. unprofiled: the latency, the CPU time per invoke of the sandbox and of the
   runtime process (user + system, ``/proc/<pid>/stat`` around the invokes),
   and the invocation's duration as the sandbox records it (``invoke.end``:
   from the event's delivery to the runtime's answer);
2. profiled (``bench.profiled_sandbox``: one cProfile per thread on the
   thread's CPU clock, so the sandbox runs on CPython ``--sandbox-python``,
   3.11 or older; snapshots just before and after the invokes, so start-up,
   warm-up and shutdown are left out): each part's CPU time. Profiling slows
   every call, so each part is reported as its share of all the CPU the
   profiler saw in that window, and that share of the unprofiled CPU per
   invoke. Parts that lock take their locks
   inside these functions: locking is in them, not a part of its own.

Beside them, ``bench.behaviour_floor`` on the sandbox's interpreter: the CPU
the same Lambda behaviour costs with no HTTP and no threads (the least any
design of the sandbox could spend per invoke).

    python -m bench.invoke_profile [--invokes 1000] [--python 3.12] [--sandbox-python 3.11]
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from bench.common import awslambdaric_python, cpu_seconds, latency_stats
from bench.invoke_overhead import INVOKE_PATH, Exchange
from harness.model.pins import load_pins
from harness.paths import PROJECT_ROOT
from harness.provision.interpreters import find_interpreter, where_searched
from harness.sandbox.running import RunningSandbox
from lambda_sandbox.eventlog import Kind

PROFILER = PROJECT_ROOT / "bench" / "profiled_sandbox.py"
WARMUP = 50
SNAPSHOT_WAIT_S = 10.0
# The sandbox under the profiler: per-thread profiles need CPython 3.11 or older.
SANDBOX_PYTHON = "3.11"
# Rounds of bench.behaviour_floor: a few seconds of CPU.
FLOOR_ITERATIONS = 20_000

# part -> the functions whose cumulative time is that part: (file suffix, name).
# Cumulative times of functions that do not call one another add up.
PARTS: Tuple[Tuple[str, Tuple[Tuple[str, str], ...]], ...] = (
    (
        "reading requests (request line, headers, body)",
        (
            ("lambda_sandbox/http_connection.py", "_parse_head"),
            ("~", "<method 'recv' of '_socket.socket' objects>"),
        ),
    ),
    (
        "writing answers (status, headers, body)",
        (
            ("lambda_sandbox/http_common.py", "encode_answer"),
            ("lambda_sandbox/http_connection.py", "_write"),
            ("lambda_sandbox/http_connection.py", "_flush"),
        ),
    ),
    ("waiting for sockets (the loop's select)", (("selectors.py", "select"),)),
    ("event-log writes", (("lambda_sandbox/eventlog.py", "write"),)),
    ("console lines (START, END, REPORT)", (("lambda_sandbox/environment.py", "_say"),)),
    (
        "/proc reads (max memory, thread states at thaw)",
        (
            ("lambda_sandbox/procfs.py", "read_max_memory_used_mb"),
            ("lambda_sandbox/procfs.py", "read_thread_states"),
        ),
    ),
    ("freeze and thaw signals", (("lambda_sandbox/environment.py", "_signal_all"),)),
    ("the lifecycle machine", (("lambda_sandbox/lifecycle.py", "handle"),)),
)
StatsTable = Mapping[Tuple[str, int, str], Tuple[Any, ...]]


def part_seconds(stats: StatsTable) -> Dict[str, float]:
    """Each part's cumulative seconds in a profile (pstats' ``stats`` table). Pure."""
    out: Dict[str, float] = {}
    for part, functions in PARTS:
        out[part] = sum(
            row[3]
            for (path, _, name), row in stats.items()
            if any(path.endswith(suffix) and name == fn for suffix, fn in functions)
        )
    return out


def window(start: StatsTable, end: StatsTable) -> StatsTable:
    """What happened between two snapshots of one profile: per function, the counts
    and times of ``end`` less those of ``start``. Pure."""
    out: Dict[Tuple[str, int, str], Tuple[Any, ...]] = {}
    for func, row in end.items():
        before = start.get(func, (0, 0, 0.0, 0.0))
        out[func] = (
            row[0] - before[0],
            row[1] - before[1],
            row[2] - before[2],
            row[3] - before[3],
            {},
        )
    return out


def total_seconds(stats: StatsTable) -> float:
    """All the CPU a profile saw: the sum of every function's own time. Pure."""
    return float(sum(row[2] for row in stats.values()))


def scaled_parts(
    parts_s: Mapping[str, float], profiled_s: float, cpu_ms_per_invoke: float, invokes: int
) -> Dict[str, Dict[str, float]]:
    """Each part as its share of all the CPU the profiler saw (``profiled_s``), and
    that share of the unprofiled CPU per invoke (ms). Pure."""
    out: Dict[str, Dict[str, float]] = {}
    for part, seconds in parts_s.items():
        share = seconds / profiled_s if profiled_s > 0 else 0.0
        out[part] = {
            "profiled_ms_per_invoke": round(seconds * 1000 / invokes, 4),
            "share_of_cpu": round(share, 3),
            "ms_per_invoke": round(share * cpu_ms_per_invoke, 4),
        }
    return out


def context_switches(pid: int) -> Tuple[int, int]:
    """(voluntary, involuntary) context switches so far, over all the process's threads
    (``/proc/<pid>/task/*/status``; a thread that ended since is not counted)."""
    voluntary = involuntary = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as status:
                for line in status:
                    if line.startswith("voluntary_ctxt_switches:"):
                        voluntary += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        involuntary += int(line.split()[1])
        except FileNotFoundError:
            continue  # the thread ended meanwhile
    return voluntary, involuntary


def _snapshot(profile: Path, which: str) -> None:
    """Ask the profiled sandbox for a snapshot of its profile; wait for the file."""
    path = Path(f"{profile}.{which}")
    with open(f"{profile}.ctl", "w") as control:
        control.write(which + "\n")
    deadline = time.monotonic() + SNAPSHOT_WAIT_S
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the profiled sandbox wrote no {path.name}")
        time.sleep(0.01)  # polling for the file; bounded by the deadline


class Driven(NamedTuple):
    samples: List[float]  # latency of each invoke, ms
    cpu_s: float  # the sandbox's CPU over the invokes
    runtime_cpu_s: float  # the runtime process's
    switches: Tuple[int, int]  # the sandbox's (voluntary, involuntary) context switches


def _drive(sb: RunningSandbox, invokes: int, profile: Optional[Path] = None) -> Driven:
    """Warm invokes over one connection: latencies (ms), the CPU seconds of the sandbox
    and of the runtime process over them, and the sandbox's context switches. With
    ``profile``, the profiled sandbox snapshots its profile just before and just
    after them."""
    exchange = Exchange(sb.invoke_api)
    try:
        for _ in range(WARMUP):
            exchange.post(INVOKE_PATH)
        assert sb.proc is not None
        runtime = next(e["pid"] for e in sb.of_kind(Kind.PROCESS_START) if e["role"] == "runtime")
        if profile is not None:
            _snapshot(profile, "start")
        switched = context_switches(sb.proc.pid)
        before = cpu_seconds(sb.proc.pid), cpu_seconds(runtime)
        samples = []
        for _ in range(invokes):
            started = time.perf_counter()
            exchange.post(INVOKE_PATH)
            samples.append((time.perf_counter() - started) * 1000.0)
        after = cpu_seconds(sb.proc.pid), cpu_seconds(runtime)
        now = context_switches(sb.proc.pid)
        if profile is not None:
            _snapshot(profile, "end")
        return Driven(
            samples,
            after[0] - before[0],
            after[1] - before[1],
            (now[0] - switched[0], now[1] - switched[1]),
        )
    finally:
        exchange.close()


def measure(
    sandbox_python: Path, runtime_python: Path, invokes: int, workdir: Path
) -> Dict[str, Any]:
    runtime_cmd = [str(runtime_python), "-m", "awslambdaric", "app.handler"]
    plain_dir, profiled_dir = workdir / "plain", workdir / "profiled"
    plain_dir.mkdir()
    profiled_dir.mkdir()
    with RunningSandbox(sandbox_python, runtime_cmd, plain_dir) as sb:
        samples, cpu_s, runtime_cpu_s, switches = _drive(sb, invokes)
        sb.stop()
        durations = [float(e["duration_ms"]) for e in sb.of_kind(Kind.INVOKE_END)][WARMUP:]
    out = workdir / "sandbox.prof"
    profiled = RunningSandbox(sandbox_python, runtime_cmd, profiled_dir)
    # The same sandbox, started through the profiler instead of `-m lambda_sandbox`.
    profiled.argv = [str(sandbox_python), str(PROFILER), str(out), *profiled.argv[3:]]
    with profiled:
        profiled_samples, profiled_cpu_s, _, _ = _drive(profiled, invokes, profile=out)
        profiled.stop()
    stats = window(_load(Path(f"{out}.start")), _load(Path(f"{out}.end")))
    cpu_ms = cpu_s * 1000 / invokes
    floor = behaviour_floor(sandbox_python, FLOOR_ITERATIONS)
    return {
        "invokes": invokes,
        "latency": latency_stats(samples),
        "duration_ms_p50": round(statistics.median(durations), 4) if durations else None,
        "sandbox_cpu_ms_per_invoke": round(cpu_ms, 4),
        "runtime_cpu_ms_per_invoke": round(runtime_cpu_s * 1000 / invokes, 4),
        "context_switches_per_invoke": {
            "voluntary": round(switches[0] / invokes, 2),
            "involuntary": round(switches[1] / invokes, 2),
        },
        "profiled_latency": latency_stats(profiled_samples),
        "profiled_cpu_ms_per_invoke": round(profiled_cpu_s * 1000 / invokes, 4),
        "parts": scaled_parts(part_seconds(stats), total_seconds(stats), cpu_ms, invokes),
        "behaviour_floor_us": floor,
    }


def behaviour_floor(python: Path, iterations: int) -> Dict[str, float]:
    """``bench.behaviour_floor`` run by ``python`` (the sandbox's interpreter)."""
    done = subprocess.run(
        [str(python), "-m", "bench.behaviour_floor", "--json", "--iterations", str(iterations)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.behaviour_floor failed: {done.stderr.strip()[-500:]}")
    figures: Dict[str, float] = json.loads(done.stdout)
    return figures


def _load(path: Path) -> StatsTable:
    table: StatsTable = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    return table


def run(python_version: str, sandbox_version: str, invokes: int) -> Dict[str, Any]:
    runtime = find_interpreter(python_version)
    sandbox = find_interpreter(sandbox_version)
    for version, found in ((python_version, runtime), (sandbox_version, sandbox)):
        if found is None:
            raise LookupError(where_searched(version))
    assert runtime is not None and sandbox is not None
    if tuple(int(p) for p in sandbox_version.split(".")) >= (3, 12):
        raise LookupError(
            f"--sandbox-python {sandbox_version}: per-thread profiles need CPython 3.11 or older"
        )
    runtime_python, pin = awslambdaric_python(runtime, python_version)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        figures = measure(sandbox.path, runtime_python, invokes, Path(tmp))
    figures.update(
        runtime=f"awslambdaric {pin} on CPython {runtime.full_version}",
        sandbox_python=sandbox.full_version,
    )
    return figures


def table(figures: Mapping[str, Any]) -> List[str]:
    """A plain-text summary. Pure."""
    lines = [
        f"warm invoke p50 {figures['latency']['p50']:.3f} ms, p99 {figures['latency']['p99']:.3f} "
        f"ms; invocation duration (event delivered -> answer read) p50 "
        f"{figures['duration_ms_p50']} ms",
        f"CPU per invoke: runtime {figures['runtime_cpu_ms_per_invoke']:.3f} ms, sandbox "
        f"{figures['sandbox_cpu_ms_per_invoke']:.3f} ms, of which:",
    ]
    switches = figures.get("context_switches_per_invoke")
    if switches:
        lines.append(
            f"context switches per invoke (all the sandbox's threads): "
            f"{switches['voluntary']} voluntary, {switches['involuntary']} involuntary"
        )
    for part, row in sorted(figures["parts"].items(), key=lambda item: -item[1]["share_of_cpu"]):
        lines.append(f"  {row['ms_per_invoke']:.3f} ms  {row['share_of_cpu']:>6.1%}  {part}")
    floor = figures.get("behaviour_floor_us")
    if floor:
        lines.append(
            f"the same Lambda behaviour alone (no HTTP, no threads): {floor['total'] / 1000:.3f} ms"
        )
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--invokes", type=int, default=1000)
    parser.add_argument("--python", default="3.12", choices=load_pins().pythons)
    parser.add_argument("--sandbox-python", default=SANDBOX_PYTHON)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.invokes <= 100_000:
        parser.error("--invokes: 1 to 100000")
    try:
        figures = run(args.python, args.sandbox_python, args.invokes)
    except LookupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(figures, indent=2) if args.json else "\n".join(table(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
