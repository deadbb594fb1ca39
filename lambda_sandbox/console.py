"""The sandbox's stdout: what Lambda would send to CloudWatch Logs.

``Console`` writes lines from many threads; each line whole, under a lock,
flushed at once. The functions below format the lines the platform itself
writes (START, END, REPORT, INIT_REPORT, a timeout, an extension that could
not start), exactly as Lambda spells them; they are pure.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import IO, Optional


class Console:
    def __init__(self, stream: Optional[IO[str]] = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        stream = self._stream or sys.stdout
        with self._lock:
            try:
                stream.write(text + "\n")
                stream.flush()
            except (OSError, ValueError):
                pass  # a closed stdout must not take the sandbox down


def iso_timestamp(epoch_s: float) -> str:
    """``2024-01-02T03:04:05.678Z``: UTC, milliseconds, as in Lambda's timeout message."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s))
    return whole + f".{int(epoch_s * 1000) % 1000:03d}Z"


def start_line(request_id: str, function_version: str) -> str:
    return f"START RequestId: {request_id} Version: {function_version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def billed_duration_ms(duration_ms: float) -> int:
    # Lambda bills by the millisecond, rounded up.
    return math.ceil(duration_ms)


def report_line(
    request_id: str,
    duration_ms: float,
    memory_size_mb: int,
    max_memory_used_mb: int,
    init_duration_ms: Optional[float] = None,
    status: str = "success",
) -> str:
    """The REPORT line that closes an invocation.

    ``init_duration_ms`` is given only for the first invocation after a cold
    start; ``status`` is shown only when the invocation did not succeed.
    """
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed_duration_ms(duration_ms)} ms\t"
        f"Memory Size: {memory_size_mb} MB\tMax Memory Used: {max_memory_used_mb} MB"
    )
    if init_duration_ms is not None:
        line += f"\tInit Duration: {init_duration_ms:.2f} ms"
    if status != "success":
        line += f"\tStatus: {status}"
    return line


def timed_out_message(timestamp: str, request_id: str, timeout_s: float) -> str:
    """The console line for a timed-out invocation; also the invoker's ``errorMessage``."""
    return f"{timestamp} {request_id} Task timed out after {timeout_s:.2f} seconds"


def init_report_line(init_duration_ms: float, status: str, error_type: str) -> str:
    """The INIT_REPORT line of a failed init (a successful init reports in REPORT)."""
    return (
        f"INIT_REPORT Init Duration: {init_duration_ms:.2f} ms\tPhase: init\t"
        f"Status: {status}\tError Type: {error_type}"
    )


def extension_launch_error_line(name: str, error: str) -> str:
    return f"EXTENSION\tName: {name}\tState: LaunchError\t{error}"
