"""Read a sandbox event log (schema: the README, "The event log") into an Observation. Pure: lines in, values out.

The observation describes the *first* shutdown phase of the log: the one the
cell's trigger caused (a SIGTERM to the sandbox, or idle reaping). Anything
after it (the sandbox's own exit, a second, empty shutdown) does not change
what happened to the runtime.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple

SCHEMA_VERSION = 1
DEFAULT_MARKER = "[runtime] SIGTERM received: cleaning up"


@dataclass(frozen=True)
class SignalSent:
    signal: str  # "SIGTERM" | "SIGKILL"
    role: str  # "runtime" | "extension"
    name: str
    ms_after_shutdown_start: Optional[float]


@dataclass(frozen=True)
class ProcessExit:
    role: str
    name: str
    pid: int
    returncode: Optional[int]
    signal: Optional[str]
    ms_after_shutdown_start: Optional[float]


@dataclass(frozen=True)
class Observation:
    cleanup_seen: bool
    sigterm_sent: bool  # the runtime got SIGTERM in the shutdown phase
    sigkill_sent: bool  # the runtime got SIGKILL in the shutdown phase
    killed: bool  # the runtime exited by SIGKILL
    ms_sigterm_to_cleanup: Optional[float]
    ms_sigterm_to_exit: Optional[float]
    shutdown_seen: bool
    shutdown_reason: Optional[str]
    shutdown_rule: Optional[str]
    shutdown_limit_ms: Optional[int]
    shutdown_ended: bool
    signals: Tuple[SignalSent, ...]
    shutdown_events: Tuple[str, ...]  # extensions that got a SHUTDOWN event
    exits: Tuple[ProcessExit, ...]
    registrations: Tuple[Tuple[str, str, Tuple[str, ...]], ...]  # (name, type, events)
    refusals: Tuple[Tuple[str, str], ...]  # (name, error_type)
    init_status: Optional[str]
    invoke_statuses: Tuple[str, ...]
    sandbox_signal_before_shutdown: bool  # a SIGTERM/SIGINT reached the sandbox first
    sandbox_exit_code: Optional[int]
    problems: Tuple[str, ...] = field(default=())


def _parse(lines: Iterable[str]) -> Tuple[List[Dict[str, Any]], List[str]]:
    events: List[Dict[str, Any]] = []
    problems: List[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            # A line cut short by a kill is the only expected cause; say so.
            problems.append(f"event log line {number} is not JSON: {line[:80]!r}")
            continue
        if not isinstance(event, dict) or "kind" not in event or "mono" not in event:
            problems.append(f"event log line {number} lacks 'kind' or 'mono'")
            continue
        if event.get("v") != SCHEMA_VERSION:
            problems.append(f"event log line {number} has schema version {event.get('v')!r}")
        events.append(event)
    return events, problems


def _ms(later: Optional[float], earlier: Optional[float]) -> Optional[float]:
    if later is None or earlier is None:
        return None
    return round((later - earlier) * 1000.0, 1)


def judge(lines: Iterable[str], cleanup_marker: str = DEFAULT_MARKER) -> Observation:
    events, problems = _parse(lines)

    start: Optional[Dict[str, Any]] = None
    end_seen = False
    sandbox_signal_mono: Optional[float] = None
    sandbox_exit: Optional[int] = None
    init_status: Optional[str] = None
    invokes: List[str] = []
    registrations: List[Tuple[str, str, Tuple[str, ...]]] = []
    refusals: List[Tuple[str, str]] = []
    signals: List[SignalSent] = []
    shutdown_events: List[str] = []
    exits: List[ProcessExit] = []
    sigterm_mono: Optional[float] = None
    cleanup_mono: Optional[float] = None
    runtime_exit_mono: Optional[float] = None
    runtime_pid: Optional[int] = None
    cleanup_seen = False

    for event in events:
        kind = event["kind"]
        mono = float(event["mono"])
        in_shutdown = start is not None and not end_seen
        since = _ms(mono, float(start["mono"])) if start is not None else None
        if kind == "sandbox.signal" and sandbox_signal_mono is None:
            sandbox_signal_mono = mono
        elif kind == "sandbox.exit":
            sandbox_exit = event.get("code")
        elif kind == "init.end" and init_status is None:
            init_status = event.get("status")
        elif kind == "invoke.end":
            invokes.append(str(event.get("status")))
        elif kind == "extension.register":
            registrations.append(
                (str(event.get("name")), str(event.get("type")), tuple(event.get("events") or ()))
            )
        elif kind == "extension.refused":
            refusals.append((str(event.get("name")), str(event.get("error_type"))))
        elif kind == "process.start" and event.get("role") == "runtime" and runtime_pid is None:
            runtime_pid = event.get("pid")
        elif kind == "shutdown.start" and start is None:
            start = event
        elif kind == "shutdown.end" and start is not None and not end_seen:
            end_seen = True
        elif kind == "shutdown.event" and in_shutdown:
            shutdown_events.append(str(event.get("name")))
        elif kind == "signal.sent" and in_shutdown:
            sent = SignalSent(
                signal=str(event.get("signal")),
                role=str(event.get("role")),
                name=str(event.get("name")),
                ms_after_shutdown_start=since,
            )
            signals.append(sent)
            if sent.role == "runtime" and sent.signal == "SIGTERM" and sigterm_mono is None:
                sigterm_mono = mono
        elif kind == "process.exit":
            exit_ = ProcessExit(
                role=str(event.get("role")),
                name=str(event.get("name")),
                pid=int(event.get("pid") or 0),
                returncode=event.get("returncode"),
                signal=event.get("signal"),
                ms_after_shutdown_start=since,
            )
            exits.append(exit_)
            if exit_.role == "runtime" and runtime_exit_mono is None and exit_.pid == runtime_pid:
                runtime_exit_mono = mono
        elif (
            kind == "output"
            and event.get("role") == "runtime"
            and cleanup_marker in str(event.get("line", ""))
            and not cleanup_seen
        ):
            cleanup_seen = True
            cleanup_mono = mono

    runtime_exits = [e for e in exits if e.role == "runtime" and e.pid == runtime_pid]
    killed = bool(runtime_exits) and runtime_exits[0].signal == "SIGKILL"
    runtime_signals = [s for s in signals if s.role == "runtime"]
    if start is None:
        problems.append("the event log has no shutdown.start")
    elif not end_seen:
        problems.append("the event log has no shutdown.end after shutdown.start")
    if runtime_pid is None:
        problems.append("the event log has no runtime process.start")
    elif not runtime_exits:
        problems.append("the event log has no process.exit for the runtime")

    return Observation(
        cleanup_seen=cleanup_seen,
        sigterm_sent=any(s.signal == "SIGTERM" for s in runtime_signals),
        sigkill_sent=any(s.signal == "SIGKILL" for s in runtime_signals),
        killed=killed,
        ms_sigterm_to_cleanup=_ms(cleanup_mono, sigterm_mono),
        ms_sigterm_to_exit=_ms(runtime_exit_mono, sigterm_mono),
        shutdown_seen=start is not None,
        shutdown_reason=None if start is None else start.get("reason"),
        shutdown_rule=None if start is None else start.get("rule"),
        shutdown_limit_ms=None if start is None else start.get("limit_ms"),
        shutdown_ended=end_seen,
        signals=tuple(signals),
        shutdown_events=tuple(shutdown_events),
        exits=tuple(exits),
        registrations=tuple(registrations),
        refusals=tuple(refusals),
        init_status=init_status,
        invoke_statuses=tuple(invokes),
        sandbox_signal_before_shutdown=(
            sandbox_signal_mono is not None
            and start is not None
            and sandbox_signal_mono <= float(start["mono"])
        ),
        sandbox_exit_code=sandbox_exit,
        problems=tuple(problems),
    )
