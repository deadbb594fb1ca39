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
from harness.evidence.signals import check_signals
from harness.model.cells import LAST_INVOKE_STATUS, SHUTDOWN_REASONS, Cell


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
    statuses = ["success"] * (cell.invocations - 1) + [LAST_INVOKE_STATUS[cell.trigger]]
    if list(seen.invoke_statuses) != statuses:
        reasons.append(
            f"trigger {cell.trigger!r}: expected invocation statuses {statuses}, "
            f"got {list(seen.invoke_statuses)}"
        )
    reason = SHUTDOWN_REASONS[cell.trigger]
    if seen.shutdown_seen and seen.shutdown_reason != reason:
        reasons.append(f"shutdown reason {seen.shutdown_reason!r}, expected {reason!r}")
    if seen.shutdown_seen and cell.trigger == "stop" and not seen.sandbox_signal_before_shutdown:
        reasons.append("trigger 'stop': the shutdown began before the sandbox got SIGTERM")
    if seen.shutdown_seen and cell.trigger != "stop" and seen.sandbox_signal_before_shutdown:
        reasons.append(
            f"trigger {cell.trigger!r}: the sandbox got SIGTERM before the environment's own "
            "shutdown began"
        )
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
    reasons += check_signals(cell, seen)
    reasons += list(probe_reasons)
    return Verdict(status="fail" if reasons else "pass", reasons=tuple(reasons))
