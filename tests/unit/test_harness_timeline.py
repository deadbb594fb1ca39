"""The timeline model drawn by report.html: lanes, spans, marks and the squeezed axis."""

from __future__ import annotations

from typing import List

import pytest

from harness.evidence.judge import DEFAULT_MARKER
from harness.evidence.timeline import (
    RUNTIME_LANE,
    SANDBOX_LANE,
    Timeline,
    build_timeline,
    make_axis,
)
from harness.paths import TEST_DATA

DATA = TEST_DATA / "harness"


def timeline(stem: str) -> Timeline:
    lines = (DATA / f"{stem}.jsonl").read_text(encoding="utf-8").splitlines()
    return build_timeline(lines, DEFAULT_MARKER)


def kinds(tl: Timeline, lane: str) -> List[str]:
    return [m.kind for m in tl.marks if m.lane == lane]


def test_external_extension_killed_at_2000_ms() -> None:
    tl = timeline("awslambdaric-external-signal-stop-killed")
    assert tl.lanes[:2] == (SANDBOX_LANE, RUNTIME_LANE) and "lab-external-extension" in tl.lanes
    assert [s.kind for s in tl.spans if s.lane == SANDBOX_LANE] == ["init", "invoke", "shutdown"]
    runtime = kinds(tl, RUNTIME_LANE)
    assert "sigterm" in runtime and "sigkill" in runtime and "cleanup" not in runtime
    assert "shutdown-event" in kinds(tl, "lab-external-extension")
    term = next(m.t_ms for m in tl.marks if m.kind == "sigterm" and m.lane == RUNTIME_LANE)
    kill = next(m.t_ms for m in tl.marks if m.kind == "sigkill" and m.lane == RUNTIME_LANE)
    assert kill - term == pytest.approx(2000, abs=50)
    deadline = next(m for m in tl.marks if m.kind == "deadline")
    (start, end), *_ = tl.windows
    assert deadline.t_ms == pytest.approx(start + 2000) and end >= deadline.t_ms


def test_cleanup_line_is_marked_and_every_mark_points_at_its_line() -> None:
    tl = timeline("awslambdaric-internal-wakeup-fd-idle-cleanup")
    cleanup = [m for m in tl.marks if m.kind == "cleanup"]
    assert len(cleanup) == 1 and DEFAULT_MARKER in cleanup[0].label
    assert DEFAULT_MARKER in tl.lines[cleanup[0].lines[0]]
    for numbers in [m.lines for m in tl.marks] + [s.lines for s in tl.spans]:
        assert all(0 <= n < len(tl.lines) for n in numbers)
    assert "register" in kinds(tl, RUNTIME_LANE)  # the internal extension, in the runtime


def test_a_log_cut_short_still_draws_and_bad_lines_are_kept() -> None:
    lines = (DATA / "awslambdaric-internal-signal-stop-killed.jsonl").read_text().splitlines()
    cut = [*lines[:-6], "{not json"]
    tl = build_timeline(cut, DEFAULT_MARKER)
    assert tl.lines[-1] == "{not json"
    assert any(s.label.endswith("(no end)") for s in tl.spans)


def test_axis_keeps_the_shutdown_window_linear_and_squeezes_the_idle_gap() -> None:
    tl = timeline("awslambdaric-internal-wakeup-fd-idle-cleanup")
    axis = make_axis(tl, 800.0)
    xs = [x for _, x in axis.knots]
    assert xs == sorted(xs) and xs[0] == 0.0 and xs[-1] == pytest.approx(800.0)
    assert any(real > 900 for _, _, real in axis.breaks)  # the 1 s idle timeout
    (start, _end), *_ = tl.windows
    per_ms = (axis.x(start + 100) - axis.x(start)) / 100
    assert (axis.x(start + 400) - axis.x(start)) == pytest.approx(400 * per_ms, rel=1e-3)
    # the stretches outside the window get at least ~30 % of the width
    assert axis.x(start) >= 0.29 * 800


def test_axis_of_an_empty_log() -> None:
    tl = build_timeline([], DEFAULT_MARKER)
    axis = make_axis(tl, 500.0)
    assert axis.x(123.0) == 0.0 and axis.breaks == ()
