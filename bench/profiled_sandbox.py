"""Run the sandbox with every thread profiled; write the merged profile at exit.

    python bench/profiled_sandbox.py OUT.prof [sandbox arguments ...]

One ``cProfile.Profile`` per thread (``threading.setprofile`` starts one in
each new thread before it runs), timed by the thread's own CPU clock
(``time.thread_time``): a call's time is the CPU its thread spent in it, not
the time it was blocked or waiting for the GIL while other threads ran. Before
CPython 3.12 only: from 3.12
cProfile is built on ``sys.monitoring`` and one profiler sees every thread
(``bench.invoke_profile`` runs the sandbox on an older CPython for that
reason; the sandbox is the same code on every version).
"""

from __future__ import annotations

import cProfile
import pstats
import runpy
import sys
import threading
import time
from types import FrameType
from typing import Any, List, Optional


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

    threading.setprofile(start_thread_profile)
    main_profile = cProfile.Profile(time.thread_time)
    profiles.append(main_profile)
    main_profile.enable()
    try:
        runpy.run_module("lambda_sandbox", run_name="__main__", alter_sys=True)
    finally:
        main_profile.disable()
        threading.setprofile(None)
        merged = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            merged.add(profile)
        merged.dump_stats(out)


if __name__ == "__main__":
    main()
