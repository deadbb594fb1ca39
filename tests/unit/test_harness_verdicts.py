"""decide(): declared expectation + Observation -> Verdict, including the shutdown-rule checks."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from support.factories import cell, exit_at, seen, sig

from harness.evidence.result import CellResult, not_observed, observation_fields
from harness.evidence.verdicts import decide, skipped
from harness.model.cells import Expectation

KILLED_AT_LIMIT = dict(
    cleanup_seen=False,
    sigkill_sent=True,
    killed=True,
    signals=(sig("SIGTERM", 0.5), sig("SIGKILL", 500.2)),
    exits=(exit_at(501.0, "SIGKILL"),),
)


def test_pass_when_cleanup_and_signals_match() -> None:
    verdict = decide(cell(), seen())
    assert verdict.passed and verdict.reasons == ()


def test_expected_no_cleanup_and_killed_at_the_limit_passes() -> None:
    no_cleanup = Expectation(cleanup=False, reason="native next", source="FACTS.md")
    assert decide(cell(expectation=no_cleanup), seen(**KILLED_AT_LIMIT)).passed


def test_cleanup_mismatch_fails_with_the_declared_reason() -> None:
    verdict = decide(cell(), seen(**KILLED_AT_LIMIT))
    assert verdict.status == "fail"
    assert "expected the cleanup line 'cleaning up'" in verdict.reasons[0]
    assert "wakeup fd [FACTS.md]" in verdict.reasons[0]
    no_cleanup = Expectation(cleanup=False, reason="r", source="s")
    assert "expected no cleanup line" in decide(cell(expectation=no_cleanup), seen()).reasons[0]


def test_run_problem_fails_the_cell() -> None:
    verdict = decide(cell(), seen(), "the sandbox did not log sandbox.ready")
    assert verdict.status == "fail" and verdict.reasons == (
        "the sandbox did not log sandbox.ready",
    )


def test_no_extension_rule() -> None:
    c = cell(extension="none", expectation=Expectation(False, "no extension", "FACTS.md"))
    good = seen(
        cleanup_seen=False,
        sigterm_sent=False,
        sigkill_sent=True,
        killed=True,
        shutdown_rule="no-extensions",
        shutdown_limit_ms=0,
        shutdown_runtime_limit_ms=0,
        registrations=(),
        signals=(sig("SIGKILL", 0.3),),
        exits=(exit_at(2.0, "SIGKILL"),),
        ms_sigterm_to_cleanup=None,
        ms_sigterm_to_exit=None,
    )
    assert decide(c, good).passed
    sigterm_too = dataclasses.replace(good, signals=(sig("SIGTERM", 0.1), sig("SIGKILL", 0.3)))
    assert any("yet the runtime got SIGTERM" in r for r in decide(c, sigterm_too).reasons)
    late = dataclasses.replace(good, signals=(sig("SIGKILL", 900.0),))
    assert any("expected at once" in r for r in decide(c, late).reasons)
    wrong_rule = dataclasses.replace(good, shutdown_rule="internal-only", shutdown_limit_ms=500)
    assert any("expected shutdown rule 'no-extensions'" in r for r in decide(c, wrong_rule).reasons)


def test_internal_rule_violations() -> None:
    no_term = seen(signals=(), sigterm_sent=False)
    assert any("expected SIGTERM to the runtime" in r for r in decide(cell(), no_term).reasons)
    early_kill = seen(signals=(sig("SIGTERM", 0.5), sig("SIGKILL", 200.0)), cleanup_seen=True)
    assert any(
        "before the end of its 500 ms window" in r for r in decide(cell(), early_kill).reasons
    )
    alive_past = seen(exits=(exit_at(1500.0),))
    assert any("alive past its 500 ms window" in r for r in decide(cell(), alive_past).reasons)
    kill_after_exit = seen(
        signals=(sig("SIGTERM", 0.5), sig("SIGKILL", 500.0)), exits=(exit_at(40.0),)
    )
    assert any("yet got SIGKILL afterwards" in r for r in decide(cell(), kill_after_exit).reasons)
    shutdown_event = seen(shutdown_events=("internal",))
    assert any("SHUTDOWN events went to" in r for r in decide(cell(), shutdown_event).reasons)


EXTERNAL = dict(
    shutdown_rule="external",
    shutdown_limit_ms=2000,
    shutdown_runtime_limit_ms=300,
    registrations=(("lab-ext", "external", ("INVOKE", "SHUTDOWN")),),
    shutdown_events=("lab-ext",),
    shutdown_event_ms=(41.0,),
    exits=(exit_at(40.0), exit_at(60.0, role="extension", name="lab-ext")),
)


def test_external_rule() -> None:
    c = cell(extension="external")
    ext = seen(**EXTERNAL)
    assert decide(c, ext).passed
    missing = dataclasses.replace(ext, shutdown_events=())
    assert any(
        "no SHUTDOWN event delivered to ['lab-ext']" in r for r in decide(c, missing).reasons
    )
    unsubscribed = dataclasses.replace(ext, registrations=(("lab-ext", "external", ("INVOKE",)),))
    assert any("no external extension subscribed" in r for r in decide(c, unsubscribed).reasons)
    kill_at_500 = dataclasses.replace(
        ext, signals=(sig("SIGTERM", 0.2), sig("SIGKILL", 510.0, "extension", "lab-ext"))
    )
    assert any("before the 2000 ms limit" in r for r in decide(c, kill_at_500).reasons)


def test_with_an_external_extension_the_runtime_goes_first() -> None:
    c = cell(extension="external", expectation=Expectation(False, "native next", "FACTS.md"))
    # The runtime ignores SIGTERM: SIGKILL at 300 ms, then the extension's SHUTDOWN.
    killed_at_300 = seen(
        **{
            **EXTERNAL,
            "cleanup_seen": False,
            "signals": (sig("SIGTERM", 0.2), sig("SIGKILL", 300.4)),
            "exits": (exit_at(301.0, "SIGKILL"), exit_at(320.0, role="extension", name="lab-ext")),
            "shutdown_event_ms": (301.5,),
        }
    )
    assert decide(c, killed_at_300).passed
    too_soon = dataclasses.replace(killed_at_300, shutdown_event_ms=(0.3,))
    assert any("before the runtime was gone" in r for r in decide(c, too_soon).reasons), (
        "SHUTDOWN at once is the old, wrong order"
    )
    # A runtime left alive until 2,000 ms is wrong now that its part is 300 ms.
    late_kill = dataclasses.replace(
        killed_at_300,
        signals=(sig("SIGTERM", 0.2), sig("SIGKILL", 2000.1)),
        exits=(exit_at(2001.0, "SIGKILL"),),
        shutdown_event_ms=(2001.5,),
    )
    assert any("long after the end of its 300 ms window" in r for r in decide(c, late_kill).reasons)
    old_rule = dataclasses.replace(killed_at_300, shutdown_runtime_limit_ms=2000)
    assert any("runtime's part 300 ms" in r for r in decide(c, old_rule).reasons)


def test_the_emulator_model_is_a_setting_of_the_cell() -> None:
    c = cell(env=(("LAMBDA_SANDBOX_SHUTDOWN_MODEL", "emulator"),))
    assert (c.shutdown_rule.limit_ms, c.shutdown_rule.runtime_limit_ms) == (2000, 600)
    assert any("runtime's part 600 ms" in r for r in decide(c, seen()).reasons)


def test_timeout_and_crash_triggers_expect_their_own_reset() -> None:
    timeout = cell(trigger="timeout")
    reset = seen(
        shutdown_reason="timeout",
        invoke_statuses=("timeout",),
        sandbox_signal_before_shutdown=False,
    )
    assert decide(timeout, reset).passed
    assert any(
        "shutdown reason 'spindown', expected 'timeout'" in r
        for r in decide(timeout, dataclasses.replace(reset, shutdown_reason="spindown")).reasons
    )
    crash = cell(
        trigger="crash",
        extension="external",
        expectation=Expectation(False, "the runtime is gone", "FACTS.md"),
    )
    crashed = seen(
        **{
            **EXTERNAL,
            "cleanup_seen": False,
            "shutdown_reason": "failure",
            "invoke_statuses": ("failure",),
            "sandbox_signal_before_shutdown": False,
            "signals": (),
            "sigterm_sent": False,
            "exits": (exit_at(None), exit_at(30.0, role="extension", name="lab-ext")),
            "shutdown_event_ms": (0.4,),
        }
    )
    assert decide(crash, crashed).passed, decide(crash, crashed).reasons
    signalled = dataclasses.replace(crashed, signals=(sig("SIGTERM", 0.2),))
    assert any("yet it was signalled" in r for r in decide(crash, signalled).reasons)


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        (dict(init_status="timeout"), "init ended with status 'timeout'"),
        (dict(invoke_statuses=("success", "error")), "expected invocation statuses ['success']"),
        (dict(shutdown_reason="failure"), "shutdown reason 'failure'"),
        (dict(sandbox_signal_before_shutdown=False), "trigger 'stop'"),
        (
            dict(problems=("the event log has no shutdown.start",)),
            "event log: the event log has no",
        ),
    ],
)
def test_lifecycle_checks(changes: Any, needle: str) -> None:
    verdict = decide(cell(), seen(**changes))
    assert verdict.status == "fail"
    assert any(needle in r for r in verdict.reasons), verdict.reasons


def test_idle_trigger_must_not_be_a_sandbox_signal() -> None:
    assert decide(cell(trigger="idle"), seen(sandbox_signal_before_shutdown=False)).passed
    verdict = decide(cell(trigger="idle"), seen())
    assert any("trigger 'idle': the sandbox got SIGTERM before" in r for r in verdict.reasons)


def test_a_skipped_cell_is_recorded_with_its_reason_and_no_observation() -> None:
    # What runner.run_cell records for a cell whose backend raised CellSkipped.
    verdict = skipped("no CPython 3.7 found")
    assert not verdict.passed
    recorded = not_observed(cell(python="3.7"), "process", verdict, (10.0, 10.5))
    assert (recorded.verdict, recorded.reasons) == ("skipped", ("no CPython 3.7 found",))
    # Nothing ran, so every field that comes from an event log stays empty:
    # the report must not show a skipped cell as "cleanup lost".
    for field in observation_fields(seen()):
        assert getattr(recorded, field) in (None, ()), field
    assert recorded.event_log is None and recorded.output_log is None
    assert (recorded.python, recorded.expected_cleanup) == ("3.7", True)  # the declaration stays
    assert CellResult.from_json(recorded.to_json()) == recorded
