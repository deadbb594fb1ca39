"""The least CPU a warm invoke's Lambda behaviour costs: the sandbox's own code for
each piece of it, called in a loop, with no HTTP, no threads and no runtime.

A warm invoke through the sandbox does, besides its three HTTP exchanges:

- the lifecycle machine: the invocation requested, the runtime's response,
  the runtime back at next;
- seven event-log lines (``environment.thaw``, two ``phase``, ``invoke.start``,
  ``output``, ``invoke.end``, ``environment.freeze``), and the same sealed
  (``LAMBDA_SANDBOX_EVIDENCE_KEY``: an HMAC per line);
- four console lines (START, the function's line, END, REPORT);
- freeze and thaw (SIGSTOP and SIGCONT to the runtime's process group);
- REPORT's Max Memory Used (``/proc/<pid>/status``);
- the invocation itself (request id, trace id, the events it is waited on by).

Each is timed here on the process's CPU clock, alone, over ``--iterations``
rounds; the sum is what no design of the sandbox can go below while it
keeps every behaviour, on this interpreter and machine. Standard library
and ``lambda_sandbox`` only, so that it runs under the sandbox's own
interpreter (``bench.invoke_profile`` runs it there).

    python -m bench.behaviour_floor [--iterations 20000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence

from lambda_sandbox import lifecycle as lc
from lambda_sandbox.console import Console, end_line, report_line, start_line
from lambda_sandbox.eventlog import EventLog, Kind, new_key
from lambda_sandbox.invocations import Invocation, new_request_id, new_trace_id
from lambda_sandbox.procfs import StatusFile

# The parts, in the order they are reported; SEALED is the one alternative.
LIFECYCLE = "the lifecycle machine (requested, responded, next)"
EVENT_LOG = "event-log lines (7)"
SEALED = "event-log lines (7), sealed"
CONSOLE = "console lines (START, output, END, REPORT)"
SIGNALS = "freeze and thaw (SIGSTOP, SIGCONT)"
MEMORY = "REPORT's Max Memory Used (/proc)"
INVOCATION = "the invocation (request id, trace id, events)"
PARTS = (LIFECYCLE, EVENT_LOG, CONSOLE, SIGNALS, MEMORY, INVOCATION)


def cpu_us_per_round(work: Callable[[int], object], rounds: int) -> float:
    """The process's CPU time per call of ``work``, in microseconds."""
    began = time.process_time()
    for n in range(rounds):
        work(n)
    return (time.process_time() - began) * 1e6 / rounds


def warm_machine() -> lc.Lifecycle:
    """A lifecycle with no extensions, past its first invocation and READY."""
    machine = lc.Lifecycle(
        lc.Limits(init_timeout_ms=10_000, invoke_timeout_ms=3_000, idle_timeout_ms=None)
    )
    for event in (
        lc.InvokeRequested("r0"),
        lc.ExtensionsSpawned(()),
        lc.ProcessStarted(lc.RUNTIME),
        lc.RuntimeNext(),
        lc.RuntimeResponded("r0"),
        lc.RuntimeNext(),
    ):
        machine.handle(event, 0)
    if machine.phase is not lc.Phase.READY:
        raise RuntimeError(f"the lifecycle did not reach READY: {machine.phase.value}")
    return machine


def _invoke_lines(log: EventLog, request_id: str) -> None:
    """The seven lines one warm invoke writes, with their fields."""
    log.write(Kind.ENVIRONMENT_THAW, env=0, names=["runtime"])
    log.write(Kind.PHASE, env=0, **{"from": "ready", "to": "invoke", "reason": "invocation " + request_id})  # fmt: skip
    log.write(Kind.INVOKE_START, env=0, request_id=request_id)
    log.write(
        Kind.OUTPUT, env=0, role="runtime", name="runtime", pid=1, stream="stdout",
        line="[fixture] invoked " + request_id,
    )  # fmt: skip
    log.write(Kind.INVOKE_END, env=0, request_id=request_id, status="success", duration_ms=0.5)
    log.write(Kind.PHASE, env=0, **{"from": "invoke", "to": "ready", "reason": "invocation complete"})  # fmt: skip
    log.write(Kind.ENVIRONMENT_FREEZE, env=0, names=["runtime"])


def measure(rounds: int) -> Dict[str, float]:
    """Microseconds of CPU per warm invoke, per part, and their sum (``total``,
    with the unsealed event log)."""
    figures: Dict[str, float] = {}
    request_id = new_request_id()
    machine = warm_machine()

    def lifecycle(n: int) -> None:
        rid = f"r{n + 1}"
        machine.handle(lc.InvokeRequested(rid), 0)
        machine.handle(lc.RuntimeResponded(rid), 0)
        machine.handle(lc.RuntimeNext(), 0)

    figures[LIFECYCLE] = cpu_us_per_round(lifecycle, rounds)
    with tempfile.TemporaryDirectory(prefix="behaviour-floor-") as tmp:
        plain = EventLog(os.path.join(tmp, "events.jsonl"))
        sealed = EventLog(os.path.join(tmp, "sealed.jsonl"), new_key())
        try:
            figures[EVENT_LOG] = cpu_us_per_round(
                lambda n: _invoke_lines(plain, request_id), rounds
            )
            figures[SEALED] = cpu_us_per_round(lambda n: _invoke_lines(sealed, request_id), rounds)
        finally:
            plain.close()
            sealed.close()
        with open(os.path.join(tmp, "console"), "w") as stream:
            console = Console(stream)

            def lines(n: int) -> None:
                console.line(start_line(request_id, "$LATEST"))
                console.line("[fixture] invoked " + request_id)
                console.line(end_line(request_id))
                console.line(report_line(request_id, 0.5, 128, 40, None, "success"))

            figures[CONSOLE] = cpu_us_per_round(lines, rounds)
    # A process group of its own to freeze and thaw, as the runtime's.
    sleeper = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:

        def freeze_thaw(n: int) -> None:
            os.killpg(sleeper.pid, signal.SIGSTOP)
            os.killpg(sleeper.pid, signal.SIGCONT)

        figures[SIGNALS] = cpu_us_per_round(freeze_thaw, rounds)
        status = StatusFile(sleeper.pid)
        try:
            figures[MEMORY] = cpu_us_per_round(lambda n: status.read_max_memory_used_mb(), rounds)
        finally:
            status.close()
    finally:
        sleeper.kill()
        sleeper.wait()
    figures[INVOCATION] = cpu_us_per_round(
        lambda n: Invocation(request_id=new_request_id(), payload=b"{}", trace_id=new_trace_id()),
        rounds,
    )
    rounded = {part: round(us, 2) for part, us in figures.items()}
    rounded["total"] = round(sum(figures[part] for part in PARTS), 2)
    return rounded


def table(figures: Dict[str, float]) -> List[str]:
    """The figures as printed. Pure."""
    lines = [f"{figures[part]:8.2f} us  {part}" for part in (*PARTS, SEALED) if part in figures]
    lines.append(f"{figures['total']:8.2f} us  all of it (the event log unsealed)")
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.iterations <= 1_000_000:
        parser.error("--iterations: 1 to 1000000")
    figures = measure(args.iterations)
    print(json.dumps(figures) if args.json else "\n".join(table(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
