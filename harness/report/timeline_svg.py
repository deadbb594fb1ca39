"""One cell's timeline as inline SVG. Pure: a Timeline in, markup out.

A lane per process (the sandbox, the runtime, each external extension);
init, invocations and the shutdown as bars on the sandbox's lane; signals,
SHUTDOWN events, the cleanup line, registrations and exits as marks. Every
bar and mark carries an SVG ``<title>`` with its raw log lines (shown on
hover) and links to its line in the page's raw log (``#<cell>-L<n>``).
"""

from __future__ import annotations

import html
from typing import List, Sequence

from harness.evidence.timeline import SANDBOX_LANE, Axis, Mark, Span, Timeline, make_axis

LABEL_W = 170
PLOT_W = 860
LANE_H = 22
TOP = 30
SVG_W = LABEL_W + PLOT_W + 84  # room for the '+N ms' beside the last mark

MARK_COLOURS = {
    "sigterm": "#e6700a",
    "sigkill": "#c0161d",
    "cleanup": "#12813a",
    "shutdown-event": "#7b3fb5",
    "exit": "#222222",
    "register": "#2a6fb0",
    "output": "#8a8a8a",
    "sandbox-signal": "#e6700a",
}
SPAN_COLOURS = {
    "init": "#9cc3e4",
    "invoke": "#2f7fc1",
    "shutdown": "#e05050",
    "process": "#c9c9c9",
    "frozen": "#9ec5e8",  # the environment idles frozen (SIGSTOP)
}


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _line_link(s: str, n: int) -> str:
    return f"#{s}-L{n + 1}"


def _title(label: str, lines: Sequence[int], raw: Sequence[str]) -> str:
    shown = [raw[n][:600] for n in lines if 0 <= n < len(raw)]
    return "<title>" + _e("\n".join([label, *shown])) + "</title>"


def _shape(kind: str, x: float, y: float) -> str:
    colour = MARK_COLOURS.get(kind, "#555")
    if kind in ("sigterm", "sandbox-signal"):
        fill = colour if kind == "sigterm" else "#fff"
        return (
            f'<path d="M{x - 6:.1f},{y - 8:.1f}L{x + 6:.1f},{y - 8:.1f}L{x:.1f},{y + 3:.1f}Z" '
            f'fill="{fill}" stroke="{colour}" stroke-width="1.5"/>'
        )
    if kind == "sigkill":
        return (
            f'<path d="M{x - 6:.1f},{y - 7:.1f}L{x + 6:.1f},{y + 5:.1f}M{x + 6:.1f},{y - 7:.1f}'
            f'L{x - 6:.1f},{y + 5:.1f}" stroke="{colour}" stroke-width="3"/>'
        )
    if kind == "cleanup":
        return (
            f'<path d="M{x:.1f},{y - 9:.1f}L{x + 7:.1f},{y - 1:.1f}L{x:.1f},{y + 7:.1f}'
            f'L{x - 7:.1f},{y - 1:.1f}Z" fill="{colour}" stroke="#fff"/>'
        )
    if kind == "shutdown-event":
        return f'<circle cx="{x:.1f}" cy="{y - 1:.1f}" r="6" fill="{colour}" stroke="#fff"/>'
    if kind == "exit":
        return f'<rect x="{x - 1.5:.1f}" y="{y - 9:.1f}" width="3" height="16" fill="{colour}"/>'
    if kind == "register":
        return f'<rect x="{x - 4:.1f}" y="{y - 5:.1f}" width="8" height="8" fill="{colour}"/>'
    return f'<circle cx="{x:.1f}" cy="{y + 4:.1f}" r="2.5" fill="{colour}"/>'


def _lane_y(lanes: Sequence[str], lane: str) -> float:
    index = lanes.index(lane) if lane in lanes else 0
    return TOP + index * LANE_H + LANE_H / 2 + 2


def _span(span: Span, axis: Axis, lanes: Sequence[str], s: str, raw: Sequence[str]) -> str:
    x1 = LABEL_W + axis.x(span.start_ms)
    x2 = max(x1 + 2, LABEL_W + axis.x(span.end_ms))
    y = _lane_y(lanes, span.lane)
    h = 6 if span.kind == "process" else 12
    colour = SPAN_COLOURS.get(span.kind, "#999")
    opacity = ' fill-opacity="0.55"' if span.kind == "shutdown" else ""
    return (
        f'<a href="{_line_link(s, span.lines[0])}"><g class="s-{span.kind}">'
        f"{_title(span.label, span.lines, raw)}"
        f'<rect x="{x1:.1f}" y="{y - h / 2:.1f}" width="{x2 - x1:.1f}" height="{h}" '
        f'fill="{colour}"{opacity}/></g></a>'
    )


def _mark(mark: Mark, axis: Axis, lanes: Sequence[str], s: str, raw: Sequence[str]) -> str:
    x = LABEL_W + axis.x(mark.t_ms)
    if mark.kind == "deadline":
        bottom = TOP + len(lanes) * LANE_H
        return (
            f'<g class="m-deadline">{_title(mark.label, mark.lines, raw)}'
            f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#c0161d" '
            f'stroke-dasharray="4 3"/></g>'
        )
    return (
        f'<a href="{_line_link(s, mark.lines[0])}"><g class="m-{mark.kind}">'
        f"{_title(mark.label, mark.lines, raw)}{_shape(mark.kind, x, _lane_y(lanes, mark.lane))}"
        "</g></a>"
    )


def _ruler(timeline: Timeline, axis: Axis) -> List[str]:
    """Ticks every 100 ms (500 ms rule) or 500 ms (2,000 ms rule) from the first shutdown."""
    shutdowns = [sp for sp in timeline.spans if sp.kind == "shutdown"]
    deadlines = [m for m in timeline.marks if m.kind == "deadline"]
    if not shutdowns:
        return []
    start = shutdowns[0].start_ms
    limit = deadlines[0].t_ms - start if deadlines else 0.0
    step = 100.0 if limit <= 500 else 500.0
    out: List[str] = []
    tick = 0.0
    end = max(shutdowns[0].end_ms, start + limit)
    while start + tick <= end + 0.5 and len(out) < 60:
        x = LABEL_W + axis.x(start + tick)
        out.append(
            f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{TOP - 1}" stroke="#555"/>'
            f'<text x="{x:.1f}" y="{TOP - 9}" text-anchor="middle" fill="#444">+{tick:.0f}</text>'
        )
        tick += step
    return out


def _annotations(timeline: Timeline, axis: Axis, lanes: Sequence[str]) -> List[str]:
    """'+N ms' next to the cleanup line and the runtime's SIGKILL, from the runtime's SIGTERM."""
    term = next((m for m in timeline.marks if m.kind == "sigterm" and m.lane == "runtime"), None)
    origin = term.t_ms if term else None
    if origin is None:
        shutdowns = [sp for sp in timeline.spans if sp.kind == "shutdown"]
        origin = shutdowns[0].start_ms if shutdowns else None
    if origin is None:
        return []
    out = []
    for m in timeline.marks:
        if m.lane == "runtime" and m.kind in ("cleanup", "sigkill") and m.t_ms >= origin:
            x = LABEL_W + axis.x(m.t_ms) + 9
            y = _lane_y(lanes, m.lane) + 4
            out.append(
                f'<text x="{x:.1f}" y="{y:.1f}" fill="{MARK_COLOURS[m.kind]}" '
                f'font-weight="bold">+{m.t_ms - origin:.0f} ms</text>'
            )
            if m.kind == "cleanup":
                break
    return out


def render_timeline_svg(timeline: Timeline, s: str) -> str:
    """One cell's timeline as inline SVG: a lane per process, shutdown windows shaded."""
    lanes = timeline.lanes
    height = TOP + len(lanes) * LANE_H + 8
    axis = make_axis(timeline, PLOT_W)
    raw = timeline.lines
    out = [
        f'<svg class="tl" width="{SVG_W}" height="{height}" viewBox="0 0 {SVG_W} {height}" '
        f'role="img" aria-label="timeline">'
    ]
    for i, lane in enumerate(lanes):
        y = TOP + i * LANE_H
        fill = "#f6f7f9" if i % 2 == 0 else "#ffffff"
        out.append(
            f'<rect x="0" y="{y}" width="{SVG_W}" height="{LANE_H}" fill="{fill}"/>'
            f'<text x="4" y="{y + LANE_H / 2 + 4:.1f}" fill="#333">{_e(lane[:26])}</text>'
        )
    bottom = TOP + len(lanes) * LANE_H
    for start, end in timeline.windows:
        x1, x2 = LABEL_W + axis.x(start), LABEL_W + axis.x(end)
        out.append(
            f'<rect x="{x1:.1f}" y="{TOP}" width="{max(1.0, x2 - x1):.1f}" '
            f'height="{bottom - TOP}" fill="#fde2e2" fill-opacity="0.7"/>'
        )
    for x1, x2, real_ms in axis.breaks:
        mid = LABEL_W + (x1 + x2) / 2
        out.append(
            f'<g class="gap"><title>{real_ms:,.0f} ms without events, drawn short</title>'
            f'<rect x="{LABEL_W + x1 + 2:.1f}" y="{TOP}" width="{max(1.0, x2 - x1 - 4):.1f}" '
            f'height="{bottom - TOP}" fill="#eeeeee" fill-opacity="0.6" stroke="#aaa" '
            f'stroke-dasharray="2 2"/><text x="{mid:.1f}" y="{TOP - 9}" text-anchor="middle" '
            f'fill="#777">≈{real_ms / 1000:.1f}s</text></g>'
        )
    out.extend(_ruler(timeline, axis))
    out.extend(_span(sp, axis, lanes, s, raw) for sp in timeline.spans if sp.lane != SANDBOX_LANE)
    out.extend(_span(sp, axis, lanes, s, raw) for sp in timeline.spans if sp.lane == SANDBOX_LANE)
    order = {"output": 0, "register": 1, "exit": 2}
    for m in sorted(timeline.marks, key=lambda m: order.get(m.kind, 3)):
        out.append(_mark(m, axis, lanes, s, raw))
    out.extend(_annotations(timeline, axis, lanes))
    out.append(
        f'<text x="4" y="{TOP - 9}" fill="#555">{timeline.end_ms / 1000:.2f} s; ms from '
        "shutdown</text></svg>"
    )
    return "".join(out)
