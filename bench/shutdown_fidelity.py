"""How closely the sandbox keeps Lambda's shutdown deadlines and order.

For each rule with a grace window (internal extensions only: the runtime has
the whole 500 ms; an external extension: the runtime has 300 ms of 2,000),
runs the sandbox N times with a runtime that ignores SIGTERM (so it lives
until its SIGKILL) and, for the external rule, an extension that ignores its
SHUTDOWN event (so it lives until the 2,000 ms SIGKILL), stops it, and reads
from the event log: the runtime's SIGTERM to its SIGKILL (against its
window), the sandbox receiving SIGTERM to the runtime being sent it, and with
the external extension the whole timeline from shutdown.start: runtime
SIGTERM, runtime SIGKILL, runtime exit, SHUTDOWN delivery, extension SIGKILL,
extension exit.

    python -m bench.shutdown_fidelity [--runs 20] [--python 3.12] [--json PATH]

``python -m bench`` runs it too, with the other benchmarks (results/bench.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

from bench.common import awslambdaric_python
from harness.model.pins import load_pins
from harness.paths import TEST_FIXTURES as FIXTURES
from harness.provision.interpreters import find_interpreter, where_searched
from harness.sandbox.running import RunningSandbox
from lambda_sandbox.eventlog import Event, Kind, Reading, read_event_log

# rule -> (the runtime's window in ms, the fixture's settings, with an external extension)
RULES = {
    "internal-only": (500, {"FIXTURE_EXTENSION": "internal"}, False),
    "external": (300, {"FIXTURE_EXTERNAL_ON_SHUTDOWN": "hang"}, True),
}
# The external rule's timeline: each point, in ms from shutdown.start.
TIMELINE = (
    "runtime_sigterm",
    "runtime_sigkill",
    "runtime_exit",
    "shutdown_event",
    "extension_sigkill",
    "extension_exit",
)


def timeline(log: Reading) -> Dict[str, float]:
    """The external rule's points in ms from shutdown.start, from one event log. Pure."""
    start = log.of_kind(Kind.SHUTDOWN_START)[0].mono
    points: Dict[str, float] = {}

    def first(name: str, event: Event) -> None:
        points.setdefault(name, round((event.mono - start) * 1000, 3))

    for e in log.events:
        if e.mono < start:
            continue
        who = "runtime" if e.get("role") == "runtime" else "extension"
        if e.kind == Kind.SIGNAL_SENT:
            first(f"{who}_{str(e['signal']).lower()}", e)
        elif e.kind == Kind.PROCESS_EXIT:
            first(f"{who}_exit", e)
        elif e.kind == Kind.SHUTDOWN_EVENT:
            first("shutdown_event", e)
    return points


def one_shutdown(python: Path, rule: str, workdir: Path) -> Dict[str, float]:
    limit_ms, env, external = RULES[rule]
    env = {**env, "FIXTURE_ON_SIGTERM": "ignore"}
    with RunningSandbox(
        python,
        [str(python), "-m", "awslambdaric", "app.handler"],
        workdir,
        env=env,
        extensions_dir=FIXTURES / "extensions" if external else None,
    ) as sandbox:
        reply = sandbox.invoke({})
        if reply.status != 200:
            raise RuntimeError(f"invoke failed: {reply.status} {reply.body[:200]!r}")
        sandbox.wait_for(lambda e: e["kind"] == Kind.INVOKE_END, timeout=10)
        sandbox.stop()
        log = read_event_log(str(sandbox.event_log))
    received = next(e.mono for e in log.of_kind(Kind.SANDBOX_SIGNAL))
    sent = {e["signal"]: e.mono for e in log.of_kind(Kind.SIGNAL_SENT) if e["name"] == "runtime"}
    if set(sent) != {"SIGTERM", "SIGKILL"}:
        raise RuntimeError(f"expected SIGTERM then SIGKILL to the runtime, saw {sorted(sent)}")
    sample = {
        "term_to_kill_ms": (sent["SIGKILL"] - sent["SIGTERM"]) * 1000,
        "deviation_ms": (sent["SIGKILL"] - sent["SIGTERM"]) * 1000 - limit_ms,
        "sandbox_to_runtime_term_ms": (sent["SIGTERM"] - received) * 1000,
    }
    if external:
        points = timeline(log)
        missing = [p for p in TIMELINE if p not in points]
        if missing:
            raise RuntimeError(f"the external shutdown's log lacks {missing}")
        sample.update({f"at_{p}_ms": points[p] for p in TIMELINE})
    return sample


def summarise(samples: List[Dict[str, float]], key: str) -> Dict[str, float]:
    """Median, worst (farthest from zero), min and max of one figure over the samples."""
    values = [s[key] for s in samples]
    worst: float = max(values, key=lambda v: abs(v))
    return {
        "median": round(statistics.median(values), 3),
        "worst": round(worst, 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def run(python_version: str, runs: int) -> Dict[str, Any]:
    """``runs`` shutdowns per rule under CPython ``python_version``; LookupError without it."""
    interpreter = find_interpreter(python_version)
    if interpreter is None:
        raise LookupError(where_searched(python_version))
    python, _ = awslambdaric_python(interpreter, python_version)
    report: Dict[str, Any] = {"python": interpreter.full_version, "runs": runs, "rules": {}}
    with tempfile.TemporaryDirectory(prefix="shutdown-fidelity-") as tmp:
        for rule, (limit_ms, _, _) in RULES.items():
            samples = []
            for n in range(runs):
                workdir = Path(tmp) / f"{rule}-{n}"
                workdir.mkdir()
                samples.append(one_shutdown(python, rule, workdir))
            figures = {
                "limit_ms": limit_ms,
                "term_to_kill_ms": summarise(samples, "term_to_kill_ms"),
                "deviation_ms": summarise(samples, "deviation_ms"),
                "sandbox_to_runtime_term_ms": summarise(samples, "sandbox_to_runtime_term_ms"),
            }
            if RULES[rule][2]:
                figures["timeline_ms"] = {p: summarise(samples, f"at_{p}_ms") for p in TIMELINE}
            report["rules"][rule] = figures
    return report


def table(report: Dict[str, Any]) -> List[str]:
    lines = [
        f"shutdown fidelity: CPython {report['python']}, {report['runs']} shutdowns per rule",
        f"{'rule':<15}{'limit':>7}{'median':>10}{'worst dev':>11}{'range':>20}"
        f"{'SIGTERM relay':>16}",
    ]
    for rule, figures in report["rules"].items():
        kill = figures["term_to_kill_ms"]
        relay = figures["sandbox_to_runtime_term_ms"]
        lines.append(
            f"{rule:<15}{figures['limit_ms']:>7}{kill['median']:>10.1f}"
            f"{figures['deviation_ms']['worst']:>+11.1f}"
            f"{kill['min']:>10.1f}-{kill['max']:<9.1f}{relay['median']:>10.2f} ms med"
        )
        for point, spread in (figures.get("timeline_ms") or {}).items():
            lines.append(
                f"  {rule} {point:<18} median {spread['median']:>8.1f} ms  "
                f"range {spread['min']:.1f}-{spread['max']:.1f}"
            )
    return lines


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--python", default="3.12", choices=load_pins().pythons)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        report = run(args.python, args.runs)
    except LookupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("\n".join(table(report)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
