"""How closely the sandbox keeps Lambda's shutdown deadlines.

For each rule with a grace window (500 ms: internal extensions only; 2,000 ms:
an external extension), runs the sandbox N times with a runtime that ignores
SIGTERM (so it lives until the SIGKILL), stops it, and reads from the event
log: the interval from the runtime's SIGTERM to its SIGKILL, and from the
sandbox receiving SIGTERM to the runtime being sent it.

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

from harness.model.pins import load_pins
from harness.paths import TEST_FIXTURES as FIXTURES
from harness.provision.interpreters import find_interpreter, where_searched
from harness.provision.venvs import ensure_venv, venv_python
from harness.sandbox.running import RunningSandbox
from lambda_sandbox.eventlog import Kind, read_event_log

RULES = {
    "internal-only": (500, {"FIXTURE_EXTENSION": "internal"}, False),
    "external": (2000, {"FIXTURE_EXTERNAL_ON_SHUTDOWN": "hang"}, True),
}


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
    return {
        "term_to_kill_ms": (sent["SIGKILL"] - sent["SIGTERM"]) * 1000,
        "deviation_ms": (sent["SIGKILL"] - sent["SIGTERM"]) * 1000 - limit_ms,
        "sandbox_to_runtime_term_ms": (sent["SIGTERM"] - received) * 1000,
    }


def summarise(samples: List[Dict[str, float]], key: str) -> Dict[str, float]:
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
    python = venv_python(
        ensure_venv(interpreter, [f"awslambdaric=={load_pins().awslambdaric_for(python_version)}"])
    )
    report: Dict[str, Any] = {"python": interpreter.full_version, "runs": runs, "rules": {}}
    with tempfile.TemporaryDirectory(prefix="shutdown-fidelity-") as tmp:
        for rule, (limit_ms, _, _) in RULES.items():
            samples = []
            for n in range(runs):
                workdir = Path(tmp) / f"{rule}-{n}"
                workdir.mkdir()
                samples.append(one_shutdown(python, rule, workdir))
            report["rules"][rule] = {
                "limit_ms": limit_ms,
                "term_to_kill_ms": summarise(samples, "term_to_kill_ms"),
                "deviation_ms": summarise(samples, "deviation_ms"),
                "sandbox_to_runtime_term_ms": summarise(samples, "sandbox_to_runtime_term_ms"),
            }
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
