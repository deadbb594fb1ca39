"""What every benchmark shares: the machine it ran on, percentiles, interpreter start time,
CPU time of a process and of the whole machine."""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from harness.model.pins import load_pins
from harness.provision.interpreters import Interpreter
from harness.provision.venvs import ensure_venv, venv_python


def awslambdaric_python(interpreter: Interpreter, python_version: str) -> Tuple[Path, str]:
    """The venv interpreter for ``interpreter`` with the awslambdaric pinned for
    ``python_version`` (built on first use), and that pin."""
    pin = str(load_pins().awslambdaric_for(python_version))
    return venv_python(ensure_venv(interpreter, [f"awslambdaric=={pin}"])), pin


def machine() -> Dict[str, object]:
    """The machine, for the line every figure is printed with."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        memory_gb = round(pages * size / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gb": memory_gb,
        "host_python": f"CPython {platform.python_version()}",
    }


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): a value that was actually measured."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def latency_stats(values_ms: Sequence[float]) -> Dict[str, float]:
    """n, p50, p99, mean, min, max of a sample in milliseconds, rounded to the microsecond."""
    return {
        "n": len(values_ms),
        "p50": round(percentile(values_ms, 50), 3),
        "p99": round(percentile(values_ms, 99), 3),
        "mean": round(statistics.fmean(values_ms), 3),
        "min": round(min(values_ms), 3),
        "max": round(max(values_ms), 3),
    }


def spread(values: Sequence[float], digits: int = 3) -> Dict[str, float]:
    """median, min, max (the shape small samples are reported in)."""
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def time_command_ms(argv: Sequence[str], runs: int, timeout_s: float = 60.0) -> List[float]:
    """Wall milliseconds of ``runs`` sequential runs of ``argv`` (which must succeed)."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            list(argv),
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout_s,
        )
        samples.append((time.perf_counter() - started) * 1000.0)
    return samples


def cpu_seconds(pid: int) -> float:
    """The process's user + system time so far (all its threads; not its children's)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_cpu_line(line: str) -> Tuple[int, int]:
    """(all ticks, idle ticks) from /proc/stat's first line (``cpu  user nice system
    idle iowait ...``): idle counts idle and iowait. Pure."""
    name, *values = line.split()
    if name != "cpu" or len(values) < 4:
        raise ValueError(f"not /proc/stat's cpu line: {line!r}")
    ticks = [int(v) for v in values]
    return sum(ticks), ticks[3] + (ticks[4] if len(ticks) > 4 else 0)


def machine_ticks() -> Tuple[int, int]:
    """(all ticks, idle ticks) of every CPU together, so far."""
    with open("/proc/stat") as stat:
        return parse_cpu_line(stat.readline())


def busy_fraction(before: Tuple[int, int], after: Tuple[int, int]) -> float:
    """The share of all the machine's CPU time that was busy between two
    ``machine_ticks`` readings. Pure."""
    total = after[0] - before[0]
    if total <= 0:
        return 0.0
    return round(1.0 - (after[1] - before[1]) / total, 3)
