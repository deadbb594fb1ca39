"""The telemetry probe's pure parts: its settings, what it counts at the sink, and its
verdict against the cell's declared cleanup."""

from __future__ import annotations

import dataclasses

import pytest
from support.factories import cell

from harness.model.cells import Expectation
from harness.probes.telemetry import SinkCount, check_settings, count, judge_at_sink

MARKER = "[runtime] SIGTERM received: cleaning up"


def telemetry_cell(cleanup: bool, invocations: int = 3):
    return dataclasses.replace(
        cell(cleanup_marker=MARKER, invocations=invocations),
        expectation=Expectation(cleanup=cleanup, reason="r", source="s"),
        probes=(("telemetry", ()),),
    )


def test_settings_default_the_invocation_line_and_refuse_unknown_keys() -> None:
    assert check_settings({}) == (("invocation_line", "[handler] invoked"),)
    with pytest.raises(ValueError, match="unknown: lines"):
        check_settings({"lines": 3})
    with pytest.raises(ValueError, match="invocation_line"):
        check_settings({"invocation_line": ""})


def test_the_sink_count_tells_invocation_lines_from_the_cleanup_line() -> None:
    shipments = [["[runtime] init", "[handler] invoked request_id=a", "[handler] invoked request_id=b"],
                 [MARKER, "[runtime] cleanup finished"]]  # fmt: skip
    seen = count(telemetry_cell(True, invocations=2), shipments)
    assert seen == SinkCount(shipments=2, lines=5, invocation_lines=2, cleanup_lines=1)


@pytest.mark.parametrize(
    "declared, seen, words",
    [
        (True, SinkCount(1, 4, 3, 1), None),
        (False, SinkCount(1, 3, 3, 0), None),
        (True, SinkCount(1, 3, 3, 0), "to reach the sink but it did not"),
        (False, SinkCount(1, 4, 3, 1), "to be lost yet it arrived"),
        (False, SinkCount(1, 2, 2, 0), "expected 3 invocation lines at the sink, 2 arrived"),
        (False, SinkCount(0, 0, 0, 0), "shipped nothing"),
    ],
)
def test_the_verdict_follows_the_declared_cleanup(declared: bool, seen: SinkCount, words) -> None:
    reasons = judge_at_sink(telemetry_cell(declared), seen)
    if words is None:
        assert reasons == ()
    else:
        assert any(words in r for r in reasons), reasons
