"""judge(): event log lines in, Observation out. Constructed and recorded logs, no processes."""

from __future__ import annotations

import json
from typing import Any, List

import pytest

from harness.evidence.judge import DEFAULT_MARKER, judge
from harness.paths import TEST_DATA

RECORDED = TEST_DATA / "harness"


class Log:
    """Builds a sandbox event log, one event per call, at a given monotonic time (s)."""

    def __init__(self) -> None:
        self.lines: List[str] = []

    def add(self, mono: float, kind: str, **extra: Any) -> "Log":
        self.lines.append(
            json.dumps({"v": 1, "ts": 1.7e9 + mono, "mono": mono, "kind": kind, **extra})
        )
        return self

    def started(self) -> "Log":
        return (
            self.add(
                0.0,
                "sandbox.start",
                pid=10,
                function_name="function",
                function_version="$LATEST",
                config={},
            )
            .add(0.1, "sandbox.ready", invoke_api="127.0.0.1:1", runtime_api="127.0.0.1:2")
            .add(0.2, "init.start")
            .add(0.21, "process.start", role="runtime", name="runtime", pid=11, argv=["python"])
            .add(0.3, "extension.register", name="internal", id="x", type="internal", events=[])
            .add(0.4, "init.end", status="ok", duration_ms=200)
            .add(0.5, "invoke.start", request_id="r1")
            .add(0.6, "invoke.end", request_id="r1", status="success", duration_ms=100)
        )

    def shutdown(self, at: float, rule: str, limit: int) -> "Log":
        return self.add(
            at, "shutdown.start", reason="spindown", rule=rule, limit_ms=limit, deadline_ms=0
        )

    def signal(
        self, at: float, sig: str, role: str = "runtime", name: str = "runtime", pid: int = 11
    ) -> "Log":
        return self.add(at, "signal.sent", signal=sig, role=role, name=name, pid=pid)

    def output(self, at: float, line: str, role: str = "runtime", name: str = "runtime") -> "Log":
        return self.add(at, "output", role=role, name=name, pid=11, stream="stdout", line=line)

    def exit(
        self,
        at: float,
        signal: Any = None,
        returncode: Any = 0,
        role: str = "runtime",
        name: str = "runtime",
        pid: int = 11,
    ) -> "Log":
        return self.add(
            at, "process.exit", role=role, name=name, pid=pid, returncode=returncode, signal=signal
        )

    def end(self, at: float, killed: Any = ()) -> "Log":
        return self.add(at, "shutdown.end", reason="spindown", duration_ms=0, killed=list(killed))


def internal_with_cleanup() -> List[str]:
    return (
        Log()
        .started()
        .add(5.0, "sandbox.signal", signal="SIGTERM")
        .shutdown(5.001, "internal-only", 500)
        .signal(5.002, "SIGTERM")
        .output(5.0123, DEFAULT_MARKER)
        .exit(5.05, returncode=0)
        .end(5.06)
        .add(5.07, "sandbox.exit", code=0)
        .lines
    )


def test_cleanup_seen_and_timed_from_the_sigterm() -> None:
    seen = judge(internal_with_cleanup())
    assert seen.cleanup_seen and seen.sigterm_sent and not seen.killed and not seen.sigkill_sent
    assert seen.ms_sigterm_to_cleanup == pytest.approx(10.3, abs=0.05)
    assert seen.ms_sigterm_to_exit == pytest.approx(48.0, abs=0.05)
    assert (seen.shutdown_rule, seen.shutdown_limit_ms, seen.shutdown_reason) == (
        "internal-only",
        500,
        "spindown",
    )
    assert seen.sandbox_signal_before_shutdown
    assert seen.init_status == "ok" and seen.invoke_statuses == ("success",)
    assert seen.sandbox_exit_code == 0
    assert seen.problems == ()


def test_stuck_handler_is_killed_at_the_limit() -> None:
    lines = (
        Log()
        .started()
        .add(5.0, "sandbox.signal", signal="SIGTERM")
        .shutdown(5.0, "internal-only", 500)
        .signal(5.0, "SIGTERM")
        .signal(5.5, "SIGKILL")
        .exit(5.51, signal="SIGKILL", returncode=None)
        .end(5.52, killed=["runtime"])
        .lines
    )
    seen = judge(lines)
    assert not seen.cleanup_seen and seen.sigterm_sent and seen.sigkill_sent and seen.killed
    assert seen.ms_sigterm_to_cleanup is None
    assert seen.ms_sigterm_to_exit == pytest.approx(510.0)
    assert [(s.signal, s.ms_after_shutdown_start) for s in seen.signals] == [
        ("SIGTERM", 0.0),
        ("SIGKILL", 500.0),
    ]


def test_no_extension_means_sigkill_without_sigterm() -> None:
    lines = (
        Log()
        .started()
        .shutdown(5.0, "no-extensions", 0)
        .signal(5.0, "SIGKILL")
        .exit(5.01, signal="SIGKILL", returncode=None)
        .end(5.02, killed=["runtime"])
        .lines
    )
    seen = judge(lines)
    assert not seen.sigterm_sent and seen.sigkill_sent and seen.killed
    assert seen.ms_sigterm_to_exit is None
    assert not seen.sandbox_signal_before_shutdown  # an idle shutdown: no sandbox signal first


def test_marker_only_counts_in_runtime_output() -> None:
    lines = (
        Log()
        .started()
        .shutdown(5.0, "external", 2000)
        .signal(5.0, "SIGTERM")
        .output(5.1, "[ext] " + DEFAULT_MARKER, role="extension", name="lab-external-extension")
        .output(5.1, "unrelated")
        .exit(5.2)
        .end(5.3)
        .lines
    )
    assert not judge(lines).cleanup_seen


def test_custom_marker() -> None:
    lines = Log().started().shutdown(5.0, "internal-only", 500).signal(5.0, "SIGTERM")
    lines.output(5.1, "my function: closing pool").exit(5.2).end(5.3)
    assert judge(lines.lines, "closing pool").cleanup_seen
    assert not judge(lines.lines).cleanup_seen


def test_only_the_first_shutdown_counts() -> None:
    log = Log().started().shutdown(5.0, "internal-only", 500).signal(5.0, "SIGTERM")
    log.exit(5.1, signal="SIGTERM", returncode=None).end(5.1)
    log.add(6.0, "sandbox.signal", signal="SIGTERM")
    log.shutdown(6.0, "no-extensions", 0).signal(6.0, "SIGKILL", pid=99).end(6.1)
    seen = judge(log.lines)
    assert seen.shutdown_rule == "internal-only"
    assert [s.signal for s in seen.signals] == ["SIGTERM"]
    assert not seen.sandbox_signal_before_shutdown and not seen.killed


def test_external_shutdown_events_and_registrations() -> None:
    log = Log().started()
    log.add(
        0.31,
        "extension.register",
        name="lab-external-extension",
        id="e",
        type="external",
        events=["INVOKE", "SHUTDOWN"],
    )
    log.add(
        0.32,
        "extension.refused",
        name="internal",
        status=403,
        error_type="Extension.InvalidEventType",
    )
    log.shutdown(5.0, "external", 2000)
    log.add(
        5.0,
        "shutdown.event",
        name="lab-external-extension",
        id="e",
        reason="spindown",
        deadline_ms=1,
    )
    log.signal(5.0, "SIGTERM").exit(5.1).end(5.2)
    seen = judge(log.lines)
    assert seen.shutdown_events == ("lab-external-extension",)
    assert ("lab-external-extension", "external", ("INVOKE", "SHUTDOWN")) in seen.registrations
    assert seen.refusals == (("internal", "Extension.InvalidEventType"),)


def test_broken_and_incomplete_logs_are_problems_not_crashes() -> None:
    lines = [
        '{"v": 1, "mono": 0, "kind": "sandbox.start"}',
        "{not json",
        "",
        '{"v": 2, "mono": 1, "kind": "x"}',
        "[]",
    ]
    seen = judge(lines)
    joined = " | ".join(seen.problems)
    assert "line 2 is not JSON" in joined
    assert "schema version 2" in joined
    assert "line 5 lacks" in joined
    assert "no shutdown.start" in joined and "no runtime process.start" in joined
    assert not seen.shutdown_seen and not seen.cleanup_seen


def test_shutdown_without_end_is_a_problem() -> None:
    lines = Log().started().shutdown(5.0, "internal-only", 500).signal(5.0, "SIGTERM").lines
    problems = judge(lines).problems
    assert any("no shutdown.end" in p for p in problems)
    assert any("no process.exit for the runtime" in p for p in problems)


# Logs recorded from real sandbox runs (process backend), and what each shows:
# (cleanup seen, SIGTERM sent, killed, shutdown rule, extensions that got SHUTDOWN).
RECORDINGS = {
    "awslambdaric-internal-signal-stop-killed": (False, True, True, "internal-only", ()),
    "awslambdaric-internal-wakeup-fd-idle-cleanup": (True, True, False, "internal-only", ()),
    "awslambdaric-strategy-none-idle": (False, True, False, "internal-only", ()),
    "awslambdaric-external-signal-stop-killed": (
        False, True, True, "external", ("lab-external-extension",),
    ),
    "awslambdaric-external-wakeup-fd-stop-cleanup": (
        True, True, False, "external", ("lab-external-extension",),
    ),
    "legacy-internal-signal-stop-cleanup": (True, True, False, "internal-only", ()),
    "legacy-no-extension-stop-killed": (False, False, True, "no-extensions", ()),
}  # fmt: skip


def test_every_recording_is_described() -> None:
    assert sorted(p.stem for p in RECORDED.glob("*.jsonl")) == sorted(RECORDINGS)


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_recorded_logs(name: str) -> None:
    seen = judge((RECORDED / f"{name}.jsonl").read_text(encoding="utf-8").splitlines())
    cleanup, sigterm, killed, rule, shutdown_events = RECORDINGS[name]
    assert seen.problems == ()
    assert (seen.cleanup_seen, seen.sigterm_sent, seen.killed) == (cleanup, sigterm, killed)
    assert seen.shutdown_rule == rule and seen.shutdown_events == shutdown_events
    assert seen.init_status == "ok" and seen.invoke_statuses == ("success",)
    assert seen.sandbox_signal_before_shutdown is ("stop" in name.split("-"))
    if cleanup:
        assert seen.ms_sigterm_to_cleanup is not None and 0 <= seen.ms_sigterm_to_cleanup < 500
    if killed and sigterm:
        assert seen.ms_sigterm_to_exit is not None and seen.ms_sigterm_to_exit >= 500
