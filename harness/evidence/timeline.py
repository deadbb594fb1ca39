"""A cell's event log as a timeline: lanes, spans and marks. Pure: lines in, values out.

The HTML report draws this (``harness.report.html``); nothing here knows
about SVG. Times are milliseconds from the log's first event, on the
sandbox's monotonic clock. Every span and mark keeps the numbers of the log
lines it was made from, so the report can show the raw lines behind it.

The axis compresses the long quiet stretches of a run (an idle timeout, the
wait before the harness stops the sandbox) but never a shutdown window: the
interval from SIGTERM to SIGKILL is the point of the picture and keeps its
true length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

from lambda_sandbox.eventlog import AMQP_KINDS, Event, Kind, parse_events

SANDBOX_LANE = "sandbox"
RUNTIME_LANE = "runtime"


@dataclass(frozen=True)
class Span:
    lane: str
    kind: str  # "init" | "invoke" | "shutdown" | "process" | "frozen"
    start_ms: float
    end_ms: float
    label: str
    lines: Tuple[int, ...]  # 0-based numbers of the log lines behind it


@dataclass(frozen=True)
class Mark:
    lane: str
    # "sigterm" | "sigkill" | "shutdown-event" | "cleanup" | "exit" | "register"
    # | "output" | "sandbox-signal" | "deadline"
    kind: str
    t_ms: float
    label: str
    lines: Tuple[int, ...]


@dataclass(frozen=True)
class Timeline:
    lanes: Tuple[str, ...]
    spans: Tuple[Span, ...]
    marks: Tuple[Mark, ...]
    windows: Tuple[Tuple[float, float], ...]  # shutdown start .. max(end, deadline)
    end_ms: float
    lines: Tuple[str, ...]  # the raw log, as read


def _lane(event: Event) -> str:
    if event.get("role") == "extension":
        return str(event.get("name") or "extension")
    return RUNTIME_LANE


class _Builder:
    """Pairs start and end events into spans while walking the log once.

    One method per kind, registered in ``HANDLERS``; kinds that draw nothing
    are named in ``IGNORED`` (a test checks the two cover every kind).
    """

    def __init__(self, lines: Sequence[str], cleanup_marker: str) -> None:
        self.lines = tuple(lines)
        self.marker = cleanup_marker
        self.lanes: List[str] = [SANDBOX_LANE, RUNTIME_LANE]
        self.spans: List[Span] = []
        self.marks: List[Mark] = []
        self.windows: List[Tuple[float, float]] = []
        self.open: Dict[Tuple[str, str], Tuple[float, int, str]] = {}
        self.t0: Optional[float] = None
        self.last = 0.0
        self.limit_ms = 0.0

    def begin(self, key: Tuple[str, str], t: float, n: int, label: str) -> None:
        self.open[key] = (t, n, label)

    def finish(self, key: Tuple[str, str], kind: str, t: float, n: int, suffix: str = "") -> None:
        if key not in self.open:
            return
        start, first, label = self.open.pop(key)
        self.spans.append(Span(key[0], kind, start, t, label + suffix, (first, n)))

    def mark(self, lane: str, kind: str, t: float, label: str, n: int) -> None:
        if lane not in self.lanes:
            self.lanes.append(lane)
        self.marks.append(Mark(lane, kind, t, label, (n,)))

    def feed(self, event: Event) -> None:
        if self.t0 is None:
            self.t0 = event.mono
        t = round((event.mono - self.t0) * 1000.0, 3)
        self.last = max(self.last, t)
        handler = HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, event, t)

    # One handler per kind, registered in HANDLERS below.

    def init_start(self, e: Event, t: float) -> None:
        self.begin((SANDBOX_LANE, "init"), t, e.n, "init")

    def init_end(self, e: Event, t: float) -> None:
        suffix = f" {e.get('status')} {e.get('duration_ms')} ms"
        self.finish((SANDBOX_LANE, "init"), "init", t, e.n, suffix)

    def invoke_start(self, e: Event, t: float) -> None:
        self.begin((SANDBOX_LANE, "invoke"), t, e.n, f"invoke {e.get('request_id', '')}")

    def invoke_end(self, e: Event, t: float) -> None:
        suffix = f": {e.get('status')} {e.get('duration_ms')} ms"
        self.finish((SANDBOX_LANE, "invoke"), "invoke", t, e.n, suffix)

    def shutdown_start(self, e: Event, t: float) -> None:
        self.limit_ms = float(e.get("limit_ms") or 0)
        label = f"shutdown ({e.get('reason')}, {e.get('rule')}, {self.limit_ms:g} ms)"
        self.begin((SANDBOX_LANE, "shutdown"), t, e.n, label)
        if self.limit_ms:
            self.marks.append(
                Mark(
                    SANDBOX_LANE,
                    "deadline",
                    t + self.limit_ms,
                    f"deadline +{self.limit_ms:g} ms",
                    (e.n,),
                )
            )

    def shutdown_end(self, e: Event, t: float) -> None:
        start = self.open.get((SANDBOX_LANE, "shutdown"), (t, e.n, ""))[0]
        self.windows.append((start, max(t, start + self.limit_ms)))
        suffix = f": {e.get('duration_ms')} ms"
        self.finish((SANDBOX_LANE, "shutdown"), "shutdown", t, e.n, suffix)

    def environment_freeze(self, e: Event, t: float) -> None:
        self.begin((SANDBOX_LANE, "frozen"), t, e.n, "frozen")

    def environment_thaw(self, e: Event, t: float) -> None:
        self.finish((SANDBOX_LANE, "frozen"), "frozen", t, e.n, " (thawed)")

    def sandbox_signal(self, e: Event, t: float) -> None:
        self.mark(SANDBOX_LANE, "sandbox-signal", t, f"sandbox got {e.get('signal')}", e.n)

    def process_start(self, e: Event, t: float) -> None:
        lane = _lane(e)
        if lane not in self.lanes:
            self.lanes.append(lane)
        self.begin((lane, "process"), t, e.n, f"{lane} pid {e.get('pid')}")

    def process_exit(self, e: Event, t: float) -> None:
        lane = _lane(e)
        how = f"signal {e['signal']}" if e.get("signal") else f"code {e.get('returncode')}"
        self.finish((lane, "process"), "process", t, e.n, f": exit, {how}")
        self.mark(lane, "exit", t, f"{lane} exited ({how})", e.n)

    def signal_sent(self, e: Event, t: float) -> None:
        signal = str(e.get("signal"))
        self.mark(_lane(e), signal.lower(), t, f"{signal} sent to {e.get('name')}", e.n)

    def shutdown_event(self, e: Event, t: float) -> None:
        label = f"SHUTDOWN event ({e.get('reason')})"
        self.mark(str(e.get("name")), "shutdown-event", t, label, e.n)

    def extension_register(self, e: Event, t: float) -> None:
        lane = RUNTIME_LANE if e.get("type") == "internal" else str(e.get("name"))
        events = ",".join(e.get("events") or []) or "no events"
        self.mark(lane, "register", t, f"{e.get('name')} registered ({events})", e.n)

    def output(self, e: Event, t: float) -> None:
        line = str(e.get("line", ""))
        is_cleanup = e.get("role") == "runtime" and self.marker in line
        self.mark(_lane(e), "cleanup" if is_cleanup else "output", t, line, e.n)

    def build(self) -> Timeline:
        # Whatever is still open at the end (a log cut short) ends with the log.
        for (lane, kind), (start, first, label) in list(self.open.items()):
            self.spans.append(Span(lane, kind, start, self.last, label + " (no end)", (first,)))
            if kind == "shutdown":
                self.windows.append((start, max(self.last, start + self.limit_ms)))
        end = max([self.last, *(m.t_ms for m in self.marks)])
        return Timeline(
            lanes=tuple(self.lanes),
            spans=tuple(self.spans),
            marks=tuple(self.marks),
            windows=tuple(self.windows),
            end_ms=end,
            lines=self.lines,
        )


HANDLERS: Dict[str, Callable[[_Builder, Event, float], None]] = {
    Kind.INIT_START: _Builder.init_start,
    Kind.INIT_END: _Builder.init_end,
    Kind.INVOKE_START: _Builder.invoke_start,
    Kind.INVOKE_END: _Builder.invoke_end,
    Kind.SHUTDOWN_START: _Builder.shutdown_start,
    Kind.SHUTDOWN_END: _Builder.shutdown_end,
    Kind.SANDBOX_SIGNAL: _Builder.sandbox_signal,
    Kind.ENVIRONMENT_FREEZE: _Builder.environment_freeze,
    Kind.ENVIRONMENT_THAW: _Builder.environment_thaw,
    Kind.PROCESS_START: _Builder.process_start,
    Kind.PROCESS_EXIT: _Builder.process_exit,
    Kind.SIGNAL_SENT: _Builder.signal_sent,
    Kind.SHUTDOWN_EVENT: _Builder.shutdown_event,
    Kind.EXTENSION_REGISTER: _Builder.extension_register,
    Kind.OUTPUT: _Builder.output,
}

# Kinds with nothing to draw on a cell's timeline.
IGNORED: FrozenSet[str] = AMQP_KINDS | frozenset(
    {
        Kind.SANDBOX_START,
        Kind.SANDBOX_READY,
        Kind.SANDBOX_EXIT,
        Kind.ENVIRONMENT_CREATED,
        Kind.PHASE,
        Kind.EXTENSION_REFUSED,
        Kind.INVOKE_DROPPED,
        Kind.INVOKE_SPOOLED,
        Kind.INVOKE_REPLAYED,
        Kind.TELEMETRY_SUBSCRIBE,
        Kind.TELEMETRY_DELIVERY,
        Kind.TELEMETRY_DROPPED,
    }
)


def build_timeline(lines: Sequence[str], cleanup_marker: str) -> Timeline:
    """The timeline of one event log; lines that are not JSON events are kept but not drawn."""
    builder = _Builder(lines, cleanup_marker)
    for event in parse_events(lines).events:
        builder.feed(event)
    return builder.build()


@dataclass(frozen=True)
class Axis:
    """A piecewise-linear map from log time (ms) to x, with quiet gaps squeezed.

    ``knots`` are (t_ms, x) pairs in increasing order; ``breaks`` are the
    squeezed gaps as (x_start, x_end, real length in ms).
    """

    knots: Tuple[Tuple[float, float], ...]
    breaks: Tuple[Tuple[float, float, float], ...]

    def x(self, t_ms: float) -> float:
        knots = self.knots
        if t_ms <= knots[0][0]:
            return knots[0][1]
        for (t1, x1), (t2, x2) in zip(knots, knots[1:]):
            if t_ms <= t2:
                return x1 if t2 == t1 else x1 + (x2 - x1) * (t_ms - t1) / (t2 - t1)
        return knots[-1][1]


def _protected(t1: float, t2: float, windows: Sequence[Tuple[float, float]]) -> bool:
    return any(t1 < end and t2 > start for start, end in windows)


def make_axis(
    timeline: Timeline,
    width: float,
    gap_ms: float = 150.0,
    squeezed_ms: float = 40.0,
    min_outside_share: float = 0.3,
) -> Axis:
    """Fit the timeline into ``width``.

    Gaps over ``gap_ms`` outside a shutdown window count as ``squeezed_ms``;
    the stretches outside the windows (init, invocations) are then widened,
    if need be, to ``min_outside_share`` of the width so that they stay
    readable next to a 2,000 ms shutdown. Inside a window time is linear.
    """
    times = {0.0, timeline.end_ms}
    times.update(m.t_ms for m in timeline.marks)
    for span in timeline.spans:
        times.update((span.start_ms, span.end_ms))
    for start, end in timeline.windows:
        times.update((start, end))
    ordered = sorted(times)
    steps: List[Tuple[float, bool]] = []  # (virtual length, inside a window)
    squeezed: List[int] = []
    for i, (t1, t2) in enumerate(zip(ordered, ordered[1:])):
        inside = _protected(t1, t2, timeline.windows)
        if t2 - t1 > gap_ms and not inside:
            steps.append((squeezed_ms, False))
            squeezed.append(i)
        else:
            steps.append((t2 - t1, inside))
    inside_total = sum(length for length, inside in steps if inside)
    outside_total = sum(length for length, inside in steps if not inside)
    stretch = 1.0
    if inside_total > 0 and 0 < outside_total < min_outside_share * (inside_total + outside_total):
        stretch = min_outside_share * inside_total / ((1 - min_outside_share) * outside_total)
    virtual = [0.0]
    for length, inside in steps:
        virtual.append(virtual[-1] + (length if inside else length * stretch))
    scale = width / virtual[-1] if virtual[-1] > 0 else 0.0
    knots = tuple((t, round(v * scale, 2)) for t, v in zip(ordered, virtual))
    breaks = tuple(
        (knots[i][1], knots[i + 1][1], round(ordered[i + 1] - ordered[i], 1)) for i in squeezed
    )
    return Axis(knots=knots, breaks=breaks)
