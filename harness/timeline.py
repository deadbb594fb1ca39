"""A cell's event log as a timeline: lanes, spans and marks. Pure: lines in, values out.

The HTML report draws this (``harness.report_html``); nothing here knows
about SVG. Times are milliseconds from the log's first event, on the
sandbox's monotonic clock. Every span and mark keeps the numbers of the log
lines it was made from, so the report can show the raw lines behind it.

The axis compresses the long quiet stretches of a run (an idle timeout, the
wait before the harness stops the sandbox) but never a shutdown window: the
interval from SIGTERM to SIGKILL is the point of the picture and keeps its
true length.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

SANDBOX_LANE = "sandbox"
RUNTIME_LANE = "runtime"


@dataclass(frozen=True)
class Span:
    lane: str
    kind: str  # "init" | "invoke" | "shutdown" | "process"
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


def _lane(event: Dict[str, Any]) -> str:
    if event.get("role") == "extension":
        return str(event.get("name") or "extension")
    return RUNTIME_LANE


class _Builder:
    """Pairs start and end events into spans while walking the log once."""

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

    def feed(self, n: int, event: Dict[str, Any]) -> None:
        mono = float(event["mono"])
        if self.t0 is None:
            self.t0 = mono
        t = round((mono - self.t0) * 1000.0, 3)
        self.last = max(self.last, t)
        kind = str(event["kind"])
        sandbox = SANDBOX_LANE
        if kind == "init.start":
            self.begin((sandbox, "init"), t, n, "init")
        elif kind == "init.end":
            self.finish(
                (sandbox, "init"),
                "init",
                t,
                n,
                f" {event.get('status')} {event.get('duration_ms')} ms",
            )
        elif kind == "invoke.start":
            self.begin((sandbox, "invoke"), t, n, f"invoke {event.get('request_id', '')}")
        elif kind == "invoke.end":
            self.finish(
                (sandbox, "invoke"), "invoke", t, n,
                f": {event.get('status')} {event.get('duration_ms')} ms",
            )  # fmt: skip
        elif kind == "shutdown.start":
            self.limit_ms = float(event.get("limit_ms") or 0)
            label = f"shutdown ({event.get('reason')}, {event.get('rule')}, {self.limit_ms:g} ms)"
            self.begin((sandbox, "shutdown"), t, n, label)
            if self.limit_ms:
                self.marks.append(
                    Mark(
                        sandbox,
                        "deadline",
                        t + self.limit_ms,
                        f"deadline +{self.limit_ms:g} ms",
                        (n,),
                    )
                )
        elif kind == "shutdown.end":
            start = self.open.get((sandbox, "shutdown"), (t, n, ""))[0]
            self.windows.append((start, max(t, start + self.limit_ms)))
            self.finish((sandbox, "shutdown"), "shutdown", t, n, f": {event.get('duration_ms')} ms")
        elif kind == "sandbox.signal":
            self.mark(sandbox, "sandbox-signal", t, f"sandbox got {event.get('signal')}", n)
        elif kind == "process.start":
            lane = _lane(event)
            if lane not in self.lanes:
                self.lanes.append(lane)
            self.begin((lane, "process"), t, n, f"{lane} pid {event.get('pid')}")
        elif kind == "process.exit":
            lane = _lane(event)
            how = (
                f"signal {event['signal']}"
                if event.get("signal")
                else f"code {event.get('returncode')}"
            )
            self.finish((lane, "process"), "process", t, n, f": exit, {how}")
            self.mark(lane, "exit", t, f"{lane} exited ({how})", n)
        elif kind == "signal.sent":
            signal = str(event.get("signal"))
            self.mark(_lane(event), signal.lower(), t, f"{signal} sent to {event.get('name')}", n)
        elif kind == "shutdown.event":
            lane = str(event.get("name"))
            self.mark(lane, "shutdown-event", t, f"SHUTDOWN event ({event.get('reason')})", n)
        elif kind == "extension.register":
            lane = RUNTIME_LANE if event.get("type") == "internal" else str(event.get("name"))
            events = ",".join(event.get("events") or []) or "no events"
            self.mark(lane, "register", t, f"{event.get('name')} registered ({events})", n)
        elif kind == "output":
            line = str(event.get("line", ""))
            is_cleanup = event.get("role") == "runtime" and self.marker in line
            self.mark(_lane(event), "cleanup" if is_cleanup else "output", t, line, n)

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


def build_timeline(lines: Sequence[str], cleanup_marker: str) -> Timeline:
    """The timeline of one event log; lines that are not JSON events are kept but not drawn."""
    builder = _Builder(lines, cleanup_marker)
    for n, line in enumerate(lines):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and "mono" in event and "kind" in event:
            builder.feed(n, event)
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
