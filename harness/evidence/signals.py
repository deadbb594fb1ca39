"""Did the sandbox shut the environment down the way Lambda's rule says? Pure.

FACTS.md, "Shutdown phase": with no extension the runtime is SIGKILLed at
once. Otherwise the runtime goes first: SIGTERM at the start, SIGKILL at the
end of its window (300 ms with an external extension, the whole 500 ms with
internal ones only; 30 % of 2,000 ms under the emulator's model) unless it has
exited; only then do the external extensions subscribed to SHUTDOWN get the
event (the others are SIGKILLed), and whatever lives at the phase's limit is
SIGKILLed. A runtime that crashed (trigger ``crash``) is already gone, so the
extensions' turn comes at once.
"""

from __future__ import annotations

from typing import List, Optional

from harness.evidence.judge import Observation
from harness.model.cells import Cell

# The sandbox acts on timers and logs with time.monotonic(); a signal logged a
# little before its deadline is a bug, one logged late is a loaded machine.
EARLY_SLACK_MS = 25.0
LATE_SLACK_MS = 300.0


def _runtime_exit_ms(seen: Observation) -> Optional[float]:
    exits = [e for e in seen.exits if e.role == "runtime"]
    return exits[0].ms_after_shutdown_start if exits else None


def check_signals(cell: Cell, seen: Observation) -> List[str]:
    """What is wrong with the shutdown's signals and events; empty when nothing is."""
    if not seen.shutdown_seen:
        return []
    want = cell.shutdown_rule
    reasons = []
    used = (seen.shutdown_rule, seen.shutdown_limit_ms, seen.shutdown_runtime_limit_ms)
    if used != (want.rule, want.limit_ms, want.runtime_limit_ms):
        reasons.append(
            f"extension {cell.effective_extension!r} ({cell.shutdown_model} model): expected shutdown rule "
            f"{want.rule!r}, limit {want.limit_ms} ms, runtime's part {want.runtime_limit_ms} ms; "
            f"the sandbox used {used[0]!r} / {used[1]} ms / {used[2]} ms"
        )
    if cell.trigger == "crash":
        return reasons + _after_a_crash(cell, seen)
    if cell.effective_extension == "none":
        return reasons + _no_extension(seen)
    return reasons + _runtime_first(cell, seen) + _extensions_after(cell, seen)


def _no_extension(seen: Observation) -> List[str]:
    reasons = []
    runtime = [s for s in seen.signals if s.role == "runtime"]
    kills = [s for s in runtime if s.signal == "SIGKILL"]
    if any(s.signal == "SIGTERM" for s in runtime):
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


def _after_a_crash(cell: Cell, seen: Observation) -> List[str]:
    reasons = []
    if seen.shutdown_reason != "failure":
        reasons.append("a crashed runtime: expected shutdown reason 'failure'")
    if any(s.role == "runtime" for s in seen.signals):
        reasons.append("the runtime had crashed before the shutdown, yet it was signalled")
    exit_ms = _runtime_exit_ms(seen)
    if exit_ms is not None and exit_ms > 0:
        reasons.append(f"the runtime exited {exit_ms} ms into the shutdown, expected before it")
    if cell.effective_extension == "external":
        reasons += _extensions_after(cell, seen, runtime_gone_ms=0.0)
    return reasons


def _runtime_first(cell: Cell, seen: Observation) -> List[str]:
    want = cell.shutdown_rule
    reasons = []
    runtime = [s for s in seen.signals if s.role == "runtime"]
    terms = [s for s in runtime if s.signal == "SIGTERM"]
    kills = [s for s in runtime if s.signal == "SIGKILL"]
    exit_ms = _runtime_exit_ms(seen)
    if not terms:
        reasons.append(f"extension {cell.effective_extension!r}: expected SIGTERM to the runtime")
    elif (terms[0].ms_after_shutdown_start or 0.0) > LATE_SLACK_MS:
        reasons.append(
            f"SIGTERM came {terms[0].ms_after_shutdown_start} ms into the shutdown, "
            "expected at its start"
        )
    if kills and (kills[0].ms_after_shutdown_start or 0.0) < want.runtime_limit_ms - EARLY_SLACK_MS:
        reasons.append(
            f"SIGKILL to the runtime at {kills[0].ms_after_shutdown_start} ms, before the end "
            f"of its {want.runtime_limit_ms} ms window"
        )
    if kills and (kills[0].ms_after_shutdown_start or 0.0) > want.runtime_limit_ms + LATE_SLACK_MS:
        reasons.append(
            f"SIGKILL to the runtime at {kills[0].ms_after_shutdown_start} ms, long after the end "
            f"of its {want.runtime_limit_ms} ms window"
        )
    if kills and exit_ms is not None and exit_ms < (kills[0].ms_after_shutdown_start or 0.0):
        reasons.append(
            f"the runtime exited at {exit_ms} ms, yet got SIGKILL afterwards "
            f"at {kills[0].ms_after_shutdown_start} ms"
        )
    if not kills and (exit_ms is None or exit_ms > want.runtime_limit_ms + LATE_SLACK_MS):
        reasons.append(
            f"the runtime was alive past its {want.runtime_limit_ms} ms window "
            f"(exit at {exit_ms} ms) without SIGKILL"
        )
    return reasons


def _extensions_after(
    cell: Cell, seen: Observation, runtime_gone_ms: Optional[float] = None
) -> List[str]:
    want = cell.shutdown_rule
    reasons = []
    if runtime_gone_ms is None:
        runtime_gone_ms = _runtime_exit_ms(seen)
    subscribed = [
        name
        for name, kind, events in seen.registrations
        if kind == "external" and "SHUTDOWN" in events
    ]
    for name, at in zip(seen.shutdown_events, seen.shutdown_event_ms):
        if runtime_gone_ms is not None and at is not None and at < runtime_gone_ms - EARLY_SLACK_MS:
            reasons.append(
                f"SHUTDOWN went to {name} at {at} ms, before the runtime was gone "
                f"({runtime_gone_ms} ms): the runtime is shut down first"
            )
    for kill in (s for s in seen.signals if s.signal == "SIGKILL" and s.role != "runtime"):
        at = kill.ms_after_shutdown_start or 0.0
        if kill.name in subscribed and at < want.limit_ms - EARLY_SLACK_MS:
            reasons.append(
                f"SIGKILL to {kill.name} at {at} ms, before the {want.limit_ms} ms limit"
            )
    if cell.effective_extension == "internal" and seen.shutdown_events:
        reasons.append(
            f"internal extension only, yet SHUTDOWN events went to {list(seen.shutdown_events)}"
        )
    if cell.effective_extension == "external":
        if not subscribed:
            reasons.append("extension 'external': no external extension subscribed to SHUTDOWN")
        missing = [name for name in subscribed if name not in seen.shutdown_events]
        if missing:
            reasons.append(f"extension 'external': no SHUTDOWN event delivered to {missing}")
    return reasons
