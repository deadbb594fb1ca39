"""What a telemetry library must deliver, declared before the run from two facts: does
the cleanup run, and when does the library send on its own; then the judgement of
what reached the collector, and REPORT.md's section."""

from __future__ import annotations

import dataclasses
from typing import Tuple

import pytest
from support.factories import cell, result

from harness.model.cells import Expectation
from harness.probes.library_loss import (
    Counts,
    Settings,
    check_settings,
    expected,
    judge,
    produced_counts,
    render_markdown,
)


def collector_cell(cleanup: bool, trigger: str = "stop", invocations: int = 3):
    return dataclasses.replace(
        cell(trigger=trigger, invocations=invocations),
        expectation=Expectation(cleanup=cleanup, reason="declared", source="FACTS.md"),
    )


def settings(*exports: str) -> Settings:
    return Settings(library="sentry", exports=tuple(exports), exports_source="docs", port=0)


def test_settings_name_the_library_its_sending_and_the_source() -> None:
    good = {"library": "opentelemetry", "exports": ["each-invocation"], "exports_source": "docs"}
    assert dict(check_settings(good))["port"] == 0
    for bad, words in [
        ({**good, "library": "datadog"}, "library: one of opentelemetry, sentry"),
        ({**good, "exports": "each-invocation"}, "exports: a list"),
        ({**good, "exports": ["sometimes"]}, "exports: a list"),
        ({**good, "exports_source": " "}, "exports_source"),
        ({**good, "port": 70000}, "port: 0"),
        ({**good, "port": True}, "port: 0"),
        ({**good, "colour": "red"}, "unknown: colour"),
    ]:
        with pytest.raises(ValueError, match=words):
            check_settings(bad)


@pytest.mark.parametrize(
    "cleanup, trigger, exports, want",
    [
        # The cleanup flushes everything made, its own record included.
        (True, "stop", (), (3, 3, True)),
        (True, "timeout", ("each-invocation",), (3, 3, True)),
        # Without it: only what the library sent by itself.
        (False, "stop", (), (0, 0, False)),
        (False, "idle", ("each-invocation",), (3, 3, False)),
        (False, "timeout", ("each-invocation",), (2, 2, False)),  # the cut-off one is never flushed
        (False, "stop", ("background",), (0, 3, False)),  # each one races the freeze
        (False, "timeout", ("background",), (1, 3, False)),  # sent while the handler sleeps
        (False, "timeout", ("each-invocation", "background"), (3, 3, False)),
        (False, "crash", ("each-invocation", "background"), (2, 3, False)),
    ],
)
def test_what_must_arrive_follows_from_the_declarations(
    cleanup: bool, trigger: str, exports: Tuple[str, ...], want: Tuple[int, int, bool]
) -> None:
    got = expected(collector_cell(cleanup, trigger), settings(*exports))
    assert (got.invocations_low, got.invocations_high, got.cleanup_record) == want


def counts(made: int, made_cleanup: int, arrived: int, arrived_cleanup: int) -> Counts:
    return Counts(made, made_cleanup, arrived, arrived_cleanup, arrived + arrived_cleanup, 1)


@pytest.mark.parametrize(
    "cleanup, exports, seen, words",
    [
        (True, (), counts(3, 1, 3, 1), None),
        (False, ("background",), counts(3, 0, 2, 0), None),
        (
            True,
            (),
            counts(3, 1, 0, 0),
            "expected 3 lab.invocation records at the collector, 0 arrived",
        ),
        (True, (), counts(3, 1, 3, 0), "lab.cleanup record to arrive but it did not"),
        (False, (), counts(3, 0, 0, 1), "lab.cleanup record to be lost yet it arrived"),
        (False, ("background",), counts(3, 0, 4, 0), "expected 0 to 3 lab.invocation records"),
        (
            False,
            ("each-invocation",),
            counts(2, 0, 2, 0),
            "the function made 2 lab.invocation records",
        ),
    ],
)
def test_the_arrivals_are_judged_against_the_declaration(
    cleanup: bool, exports: Tuple[str, ...], seen: Counts, words: str
) -> None:
    reasons = judge(collector_cell(cleanup), settings(*exports), seen)
    if words is None:
        assert reasons == ()
    else:
        assert any(words in r for r in reasons), reasons


def test_the_functions_produced_lines_are_counted_by_record() -> None:
    lines = [
        "[otel] produced lab.invocation 1f2e",
        "[otel] produced lab.invocation 9a0b",
        "START RequestId: 1f2e",
        "[otel] produced lab.cleanup",
    ]
    assert produced_counts(lines) == (2, 1)


def collector_result(backend: str, arrived: int, produced: int, cleanup: int = 0, **changes):
    fields = {"library": "sentry", "library_version": "2.75.0", "produced": produced,
              "arrived": arrived, "produced_cleanup": cleanup}  # fmt: skip
    return result(backend=backend, scenario="sentry-sdk", target="python3.11",
                  probes={"collector": fields}, **changes)  # fmt: skip


def test_the_report_counts_per_target_and_flags_backends_that_disagree() -> None:
    lines = render_markdown([collector_result("process", 0, 3), collector_result("docker", 0, 3)])
    assert "## What your telemetry library loses" in lines
    assert "sentry (sentry-sdk 2.75.0)" in "\n".join(lines)
    assert lines[-1] == "| sentry-sdk | signal | stop | **0 of 3**, no cleanup |"
    both = render_markdown(
        [collector_result("process", 4, 4, 1), collector_result("docker", 3, 4, 1)]
    )
    assert both[-1] == "| sentry-sdk | signal | stop | docker: **3 of 4**, process: 4 of 4 ⚠ |"
    assert render_markdown([result()]) == []
