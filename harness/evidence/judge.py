"""Read a sandbox event log into an Observation. Pure: lines in, values out.

The log is read by the contract's one reader (``lambda_sandbox.eventlog``);
each kind the judge cares about has one handler in ``HANDLERS``, and every
other kind is named in ``IGNORED`` (a test checks that the two cover every
kind, so a new kind forces a decision here).

The observation describes the *first* shutdown phase of the log: the one the
cell's trigger caused (a SIGTERM to the sandbox, or idle reaping). Anything
after it (the sandbox's own exit, a second, empty shutdown) does not change
what happened to the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Tuple

from lambda_sandbox.eventlog import AMQP_KINDS, Event, Kind, parse_events

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
    shutdown_runtime_limit_ms: Optional[int] = None  # the runtime's part of the window
    shutdown_event_ms: Tuple[Optional[float], ...] = ()  # when each of shutdown_events went


def _ms(later: Optional[float], earlier: Optional[float]) -> Optional[float]:
    if later is None or earlier is None:
        return None
    return round((later - earlier) * 1000.0, 1)


class _Reading:
    """What the walk over the log has gathered so far."""

    def __init__(self, cleanup_marker: str) -> None:
        self.marker = cleanup_marker
        self.start: Optional[Event] = None
        self.end_seen = False
        self.sandbox_signal_mono: Optional[float] = None
        self.sandbox_exit: Optional[int] = None
        self.init_status: Optional[str] = None
        self.invokes: List[str] = []
        self.registrations: List[Tuple[str, str, Tuple[str, ...]]] = []
        self.refusals: List[Tuple[str, str]] = []
        self.signals: List[SignalSent] = []
        self.shutdown_events: List[str] = []
        self.shutdown_event_ms: List[Optional[float]] = []
        self.exits: List[ProcessExit] = []
        self.sigterm_mono: Optional[float] = None
        self.cleanup_mono: Optional[float] = None
        self.runtime_exit_mono: Optional[float] = None
        self.runtime_pid: Optional[int] = None
        self.cleanup_seen = False

    @property
    def in_shutdown(self) -> bool:
        return self.start is not None and not self.end_seen

    def since_start(self, event: Event) -> Optional[float]:
        return _ms(event.mono, self.start.mono) if self.start is not None else None

    # One handler per kind, registered in HANDLERS below.

    def sandbox_signal(self, e: Event) -> None:
        if self.sandbox_signal_mono is None:
            self.sandbox_signal_mono = e.mono

    def sandbox_exit_(self, e: Event) -> None:
        self.sandbox_exit = e.get("code")

    def init_end(self, e: Event) -> None:
        if self.init_status is None:
            self.init_status = e.get("status")

    def invoke_end(self, e: Event) -> None:
        self.invokes.append(str(e.get("status")))

    def extension_register(self, e: Event) -> None:
        self.registrations.append(
            (str(e.get("name")), str(e.get("type")), tuple(e.get("events") or ()))
        )

    def extension_refused(self, e: Event) -> None:
        self.refusals.append((str(e.get("name")), str(e.get("error_type"))))

    def process_start(self, e: Event) -> None:
        if e.get("role") == "runtime" and self.runtime_pid is None:
            self.runtime_pid = e.get("pid")

    def shutdown_start(self, e: Event) -> None:
        if self.start is None:
            self.start = e

    def shutdown_end(self, e: Event) -> None:
        if self.start is not None:
            self.end_seen = True

    def shutdown_event(self, e: Event) -> None:
        if self.in_shutdown:
            self.shutdown_events.append(str(e.get("name")))
            self.shutdown_event_ms.append(self.since_start(e))

    def signal_sent(self, e: Event) -> None:
        if not self.in_shutdown:
            return
        sent = SignalSent(
            signal=str(e.get("signal")),
            role=str(e.get("role")),
            name=str(e.get("name")),
            ms_after_shutdown_start=self.since_start(e),
        )
        self.signals.append(sent)
        if sent.role == "runtime" and sent.signal == "SIGTERM" and self.sigterm_mono is None:
            self.sigterm_mono = e.mono

    def process_exit(self, e: Event) -> None:
        exit_ = ProcessExit(
            role=str(e.get("role")),
            name=str(e.get("name")),
            pid=int(e.get("pid") or 0),
            returncode=e.get("returncode"),
            signal=e.get("signal"),
            ms_after_shutdown_start=self.since_start(e),
        )
        self.exits.append(exit_)
        if (
            exit_.role == "runtime"
            and self.runtime_exit_mono is None
            and exit_.pid == self.runtime_pid
        ):
            self.runtime_exit_mono = e.mono

    def output(self, e: Event) -> None:
        if (
            not self.cleanup_seen
            and e.get("role") == "runtime"
            and self.marker in str(e.get("line", ""))
        ):
            self.cleanup_seen = True
            self.cleanup_mono = e.mono


# A kind seen before its shutdown.start / after its shutdown.end is filtered
# by the handler itself (in_shutdown): the kinds differ in whether they count
# outside the shutdown phase.
HANDLERS: Dict[str, Callable[[_Reading, Event], None]] = {
    Kind.SANDBOX_SIGNAL: _Reading.sandbox_signal,
    Kind.SANDBOX_EXIT: _Reading.sandbox_exit_,
    Kind.INIT_END: _Reading.init_end,
    Kind.INVOKE_END: _Reading.invoke_end,
    Kind.EXTENSION_REGISTER: _Reading.extension_register,
    Kind.EXTENSION_REFUSED: _Reading.extension_refused,
    Kind.PROCESS_START: _Reading.process_start,
    Kind.SHUTDOWN_START: _Reading.shutdown_start,
    Kind.SHUTDOWN_END: _Reading.shutdown_end,
    Kind.SHUTDOWN_EVENT: _Reading.shutdown_event,
    Kind.SIGNAL_SENT: _Reading.signal_sent,
    Kind.PROCESS_EXIT: _Reading.process_exit,
    Kind.OUTPUT: _Reading.output,
}

# Kinds that say nothing about whether the cleanup ran or how the runtime was
# signalled (readiness, phases, invocations' starts, the AMQP consumer).
IGNORED: FrozenSet[str] = AMQP_KINDS | frozenset(
    {
        Kind.SANDBOX_START,
        Kind.SANDBOX_READY,
        Kind.ENVIRONMENT_CREATED,
        Kind.ENVIRONMENT_FREEZE,
        Kind.ENVIRONMENT_THAW,
        Kind.PHASE,
        Kind.INIT_START,
        Kind.INVOKE_START,
        Kind.INVOKE_DROPPED,
        Kind.INVOKE_SPOOLED,
        Kind.INVOKE_REPLAYED,
        Kind.TELEMETRY_SUBSCRIBE,
        Kind.TELEMETRY_DELIVERY,
        Kind.TELEMETRY_DROPPED,
    }
)


def judge(lines: Iterable[str], cleanup_marker: str = DEFAULT_MARKER) -> Observation:
    reading = parse_events(lines)
    r = _Reading(cleanup_marker)
    for event in reading.events:
        handler = HANDLERS.get(event.kind)
        if handler is not None:
            handler(r, event)
    return _observation(r, list(reading.problems))


def _observation(r: _Reading, problems: List[str]) -> Observation:
    runtime_exits = [e for e in r.exits if e.role == "runtime" and e.pid == r.runtime_pid]
    killed = bool(runtime_exits) and runtime_exits[0].signal == "SIGKILL"
    runtime_signals = [s for s in r.signals if s.role == "runtime"]
    start = r.start
    if start is None:
        problems.append("the event log has no shutdown.start")
    elif not r.end_seen:
        problems.append("the event log has no shutdown.end after shutdown.start")
    if r.runtime_pid is None:
        problems.append("the event log has no runtime process.start")
    elif not runtime_exits:
        problems.append("the event log has no process.exit for the runtime")

    return Observation(
        cleanup_seen=r.cleanup_seen,
        sigterm_sent=any(s.signal == "SIGTERM" for s in runtime_signals),
        sigkill_sent=any(s.signal == "SIGKILL" for s in runtime_signals),
        killed=killed,
        ms_sigterm_to_cleanup=_ms(r.cleanup_mono, r.sigterm_mono),
        ms_sigterm_to_exit=_ms(r.runtime_exit_mono, r.sigterm_mono),
        shutdown_seen=start is not None,
        shutdown_reason=None if start is None else start.get("reason"),
        shutdown_rule=None if start is None else start.get("rule"),
        shutdown_limit_ms=None if start is None else start.get("limit_ms"),
        shutdown_ended=r.end_seen,
        signals=tuple(r.signals),
        shutdown_events=tuple(r.shutdown_events),
        exits=tuple(r.exits),
        registrations=tuple(r.registrations),
        refusals=tuple(r.refusals),
        init_status=r.init_status,
        invoke_statuses=tuple(r.invokes),
        sandbox_signal_before_shutdown=(
            r.sandbox_signal_mono is not None
            and start is not None
            and r.sandbox_signal_mono <= start.mono
        ),
        sandbox_exit_code=r.sandbox_exit,
        problems=tuple(problems),
        shutdown_runtime_limit_ms=None if start is None else start.get("runtime_limit_ms"),
        shutdown_event_ms=tuple(r.shutdown_event_ms),
    )
