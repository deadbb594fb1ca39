"""Compare what a cell declares with what its event log shows. Pure.

Two questions decide a cell: did the cleanup line appear exactly when the
scenario said it would, and did the sandbox signal the runtime the way
Lambda's shutdown rule for the cell's extensions says (FACTS.md, "Shutdown
phase")? A cell that cannot answer them (no shutdown, failed init, a
harness-side problem) fails with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from harness.evidence.judge import Observation
from harness.model.cells import Cell

# The sandbox acts on timers and logs with time.monotonic(); a signal logged a
# little before its deadline is a bug, one logged late is a loaded machine.
EARLY_SLACK_MS = 25.0
LATE_SLACK_MS = 300.0


@dataclass(frozen=True)
class Verdict:
    status: str  # "pass" | "fail" | "skipped"
    reasons: Tuple[str, ...]  # why it failed or was skipped; empty on pass

    @property
    def passed(self) -> bool:
        return self.status == "pass"


def skipped(reason: str) -> Verdict:
    return Verdict(status="skipped", reasons=(reason,))


def _cleanup(cell: Cell, seen: Observation) -> List[str]:
    want = cell.expectation
    if seen.cleanup_seen == want.cleanup:
        return []
    if want.cleanup:
        return [
            f"expected the cleanup line {cell.cleanup_marker!r} but the runtime never printed it "
            f"(declared: {want.reason} [{want.source}])"
        ]
    return [
        f"expected no cleanup line but the runtime printed {cell.cleanup_marker!r} "
        f"(declared: {want.reason} [{want.source}])"
    ]


def _lifecycle(cell: Cell, seen: Observation) -> List[str]:
    reasons = [f"event log: {p}" for p in seen.problems]
    if seen.init_status != "ok":
        reasons.append(f"init ended with status {seen.init_status!r}, expected 'ok'")
    if list(seen.invoke_statuses) != ["success"] * cell.invocations:
        reasons.append(
            f"expected {cell.invocations} successful invocation(s), "
            f"got statuses {list(seen.invoke_statuses)}"
        )
    if seen.shutdown_seen and seen.shutdown_reason != "spindown":
        reasons.append(f"shutdown reason {seen.shutdown_reason!r}, expected 'spindown'")
    if seen.shutdown_seen and cell.trigger == "stop" and not seen.sandbox_signal_before_shutdown:
        reasons.append("trigger 'stop': the shutdown began before the sandbox got SIGTERM")
    if seen.shutdown_seen and cell.trigger == "idle" and seen.sandbox_signal_before_shutdown:
        reasons.append("trigger 'idle': the sandbox got SIGTERM before idle reaping began")
    return reasons


def _runtime_exit_ms(seen: Observation) -> Optional[float]:
    exits = [e for e in seen.exits if e.role == "runtime"]
    return exits[0].ms_after_shutdown_start if exits else None


def _signals(cell: Cell, seen: Observation) -> List[str]:
    if not seen.shutdown_seen:
        return []
    rule, limit = cell.shutdown_rule
    reasons = []
    if (seen.shutdown_rule, seen.shutdown_limit_ms) != (rule, limit):
        reasons.append(
            f"extension {cell.extension!r}: expected shutdown rule {rule!r} with limit "
            f"{limit} ms, the sandbox used {seen.shutdown_rule!r} / {seen.shutdown_limit_ms} ms"
        )
    runtime = [s for s in seen.signals if s.role == "runtime"]
    terms = [s for s in runtime if s.signal == "SIGTERM"]
    kills = [s for s in runtime if s.signal == "SIGKILL"]
    exit_ms = _runtime_exit_ms(seen)

    if cell.extension == "none":
        if terms:
            reasons.append("no extension registered, yet the runtime got SIGTERM")
        if not kills:
            reasons.append("no extension registered: expected SIGKILL to the runtime at once")
        elif (kills[0].ms_after_shutdown_start or 0.0) > LATE_SLACK_MS:
            reasons.append(
                f"no extension registered: SIGKILL came {kills[0].ms_after_shutdown_start} ms "
                "into the shutdown, expected at once"
            )
        if not seen.killed:
            reasons.append("no extension registered: expected the runtime to die by SIGKILL")
        return reasons

    if not terms:
        reasons.append(f"extension {cell.extension!r}: expected SIGTERM to the runtime")
    elif (terms[0].ms_after_shutdown_start or 0.0) > LATE_SLACK_MS:
        reasons.append(
            f"SIGTERM came {terms[0].ms_after_shutdown_start} ms into the shutdown, "
            "expected at its start"
        )
    for kill in (s for s in seen.signals if s.signal == "SIGKILL"):
        if (kill.ms_after_shutdown_start or 0.0) < limit - EARLY_SLACK_MS:
            reasons.append(
                f"SIGKILL to {kill.name} at {kill.ms_after_shutdown_start} ms, "
                f"before the {limit} ms limit"
            )
    if kills and exit_ms is not None and exit_ms < (kills[0].ms_after_shutdown_start or 0.0):
        reasons.append(
            f"the runtime exited at {exit_ms} ms, yet got SIGKILL afterwards "
            f"at {kills[0].ms_after_shutdown_start} ms"
        )
    if not kills and (exit_ms is None or exit_ms > limit + LATE_SLACK_MS):
        reasons.append(
            f"the runtime was alive past the {limit} ms limit (exit at {exit_ms} ms) "
            "without SIGKILL"
        )

    if cell.extension == "internal" and seen.shutdown_events:
        reasons.append(
            f"internal extension only, yet SHUTDOWN events went to {list(seen.shutdown_events)}"
        )
    if cell.extension == "external":
        subscribed = [
            name
            for name, kind, events in seen.registrations
            if kind == "external" and "SHUTDOWN" in events
        ]
        if not subscribed:
            reasons.append("extension 'external': no external extension subscribed to SHUTDOWN")
        missing = [name for name in subscribed if name not in seen.shutdown_events]
        if missing:
            reasons.append(f"extension 'external': no SHUTDOWN event delivered to {missing}")
    return reasons


def decide(
    cell: Cell,
    seen: Observation,
    run_problem: Optional[str] = None,
    probe_reasons: Sequence[str] = (),
) -> Verdict:
    """pass when the cell ran, its cleanup matched the declaration and the signals the rule
    (and every probe of the cell saw what the declaration implies: ``probe_reasons``
    are the probes' own judgements, see harness/probes/)."""
    reasons: List[str] = []
    if run_problem:
        reasons.append(run_problem)
    reasons += _lifecycle(cell, seen)
    reasons += _cleanup(cell, seen)
    reasons += _signals(cell, seen)
    reasons += list(probe_reasons)
    return Verdict(status="fail" if reasons else "pass", reasons=tuple(reasons))
