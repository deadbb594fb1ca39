"""Run the sandbox with every thread profiled; snapshots of the profile on demand.

    python bench/profiled_sandbox.py OUT.prof [sandbox arguments ...]

One ``cProfile.Profile`` per thread (``threading.setprofile`` starts one in
each new thread before it runs), timed by the thread's own CPU clock
(``time.thread_time``): a call's time is the CPU its thread spent in it, not
the time it was blocked or waiting for the GIL while other threads ran.
A line ``start`` or ``end`` written to the FIFO ``OUT.prof.ctl`` writes the
profile so far to ``OUT.prof.start`` or ``OUT.prof.end`` (the difference is
a window: the invokes being measured; a signal cannot ask, as the sandbox
takes any signal it handles as one to stop), and the whole run goes to
``OUT.prof`` at exit; each file is what pstats reads. The thread that
listens starts before profiling does, so its own work is not counted. Before CPython 3.12 only: from 3.12 cProfile is built on
``sys.monitoring`` and one profiler sees every thread (``bench.invoke_profile``
runs the sandbox on an older CPython for that reason; the sandbox is the same
code on every version).
"""

from __future__ import annotations

import cProfile
import marshal
import os
import pstats
import runpy
import sys
import threading
import time
from types import FrameType
from typing import Any, Dict, List, Optional, Tuple

Table = Dict[Tuple[str, int, str], Tuple[Any, ...]]


def merged(profiles: List[cProfile.Profile]) -> Table:
    """Every thread's profile so far, added up per function, without stopping any."""
    out: Table = {}
    for profile in list(profiles):
        profile.snapshot_stats()
        for func, row in profile.stats.items():
            out[func] = pstats.add_func_stats(out[func], row) if func in out else row  # type: ignore[attr-defined]
    return out


def write(table: Table, path: str) -> None:
    with open(path + ".part", "wb") as f:
        marshal.dump(table, f)
    os.replace(path + ".part", path)  # a reader never sees half a file


def main() -> None:
    if sys.version_info >= (3, 12):
        sys.exit("profiled_sandbox: needs CPython 3.11 or older (per-thread profiles)")
    out = sys.argv[1]
    sys.argv = ["lambda_sandbox", *sys.argv[2:]]
    profiles: List[cProfile.Profile] = []

    def start_thread_profile(frame: FrameType, event: str, arg: Optional[Any]) -> None:
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.enable()  # replaces this very hook for the rest of the thread

    control = out + ".ctl"
    os.mkfifo(control, 0o600)

    def listen() -> None:
        while True:
            with open(control) as requests:  # blocks until a writer opens it
                for line in requests:
                    if line.strip() in ("start", "end"):
                        write(merged(profiles), f"{out}.{line.strip()}")

    threading.Thread(target=listen, name="profile-control", daemon=True).start()
    threading.setprofile(start_thread_profile)
    main_profile = cProfile.Profile(time.thread_time)
    profiles.append(main_profile)
    main_profile.enable()
    try:
        runpy.run_module("lambda_sandbox", run_name="__main__", alter_sys=True)
    finally:
        main_profile.disable()
        threading.setprofile(None)
        write(merged(profiles), out)


if __name__ == "__main__":
    main()
