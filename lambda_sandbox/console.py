"""The sandbox's stdout: what Lambda would send to CloudWatch Logs.

``Console`` writes lines from many threads; each line whole, under a lock,
flushed at once. The functions below format the lines the platform itself
writes (INIT_START, EXTENSION, START, END, REPORT, INIT_REPORT, a timeout, an
extension that could not start), exactly as Lambda spells them; they are pure.
"""

from __future__ import annotations

import hashlib
import math
import sys
import threading
import time
from typing import IO, Optional, Sequence

from lambda_sandbox import __version__

# What INIT_START names as the runtime version. Lambda names its managed
# runtime's build (``python:3.12.v41``); here the runtime is whatever command
# the sandbox was given, so the version named is the sandbox's own.
RUNTIME_VERSION = "lambda-sandbox:" + __version__


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


def runtime_version_arn(region: str, runtime_version: str) -> str:
    """``arn:aws:lambda:REGION::runtime:<64 hex digits>``, Lambda's shape; the digits
    are the SHA-256 of the version, so one version has one ARN."""
    digest = hashlib.sha256(runtime_version.encode("utf-8")).hexdigest()
    return f"arn:aws:lambda:{region}::runtime:{digest}"


def init_start_line(runtime_version: str, runtime_version_arn: str) -> str:
    """The first line of every init. Lambda's docs ("Identifying Lambda runtime version
    changes") show ``INIT_START Runtime Version: python:3.13.v14    Runtime Version ARN:
    arn:aws:lambda:eu-south-1::runtime:7b62...``; CloudWatch logs quoted in public
    repositories show a tab between the two fields (``python:3.9.v18\tRuntime Version ARN``).
    """
    return (
        f"INIT_START Runtime Version: {runtime_version}\tRuntime Version ARN: {runtime_version_arn}"
    )


def extension_ready_line(name: str, events: Sequence[str]) -> str:
    """One line per extension ready at the end of init (it registered and called next).

    As CloudWatch shows it (logs quoted in public repositories and issues):
    ``EXTENSION\tName: AppConfigAgent\tState: Ready\tEvents: [INVOKE, SHUTDOWN]``,
    ``EXTENSION\tName: lambda-adapter\tState: Ready\tEvents: []``; the events in the
    order the extension registered them (``[SHUTDOWN, INVOKE]`` is seen too). Lambda
    writes it after a failed init as well, before INIT_REPORT.
    """
    return "EXTENSION\tName: {}\tState: Ready\tEvents: [{}]".format(name, ", ".join(events))


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
