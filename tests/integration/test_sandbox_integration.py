"""The sandbox with the unmodified awslambdaric from PyPI as its runtime.

Each test runs the real sandbox process, the real runtime client and a tiny
fixture function (tests/fixtures/fn), and reads the verdict from the
sandbox's own event log.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from harness.paths import TEST_FIXTURES as FIXTURES
from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

EXTENSIONS = FIXTURES / "extensions"


def sandbox(
    ric_python: Tuple[str, Path],
    workdir: Path,
    env: Dict[str, str] | None = None,
    extensions_dir: Path | None = None,
) -> RunningSandbox:
    _, python = ric_python
    return RunningSandbox(
        python,
        [str(python), "-m", "awslambdaric", "app.handler"],
        workdir,
        env=env,
        extensions_dir=extensions_dir,
    )


def signals_to(events: List[Dict[str, Any]], name: str) -> List[Tuple[str, float]]:
    return [
        (e["signal"], e["mono"]) for e in events if e["kind"] == "signal.sent" and e["name"] == name
    ]


def exit_of(events: List[Dict[str, Any]], name: str) -> Dict[str, Any]:
    exits = [e for e in events if e["kind"] == "process.exit" and e["name"] == name]
    assert exits, f"no process.exit for {name}"
    return exits[-1]


def assert_all_gone(pids: List[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        # A zombie is gone as far as signals go only once reaped by its parent.
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().split(")")[-1].split()[0]
        raise AssertionError(f"process {pid} outlived the sandbox (state {state})")


# ------------------------------------------------------------------ invoke


def test_init_and_invoke_on_both_function_names(ric_python, workdir):
    env = {"AWS_LAMBDA_FUNCTION_NAME": "my-function"}
    with sandbox(ric_python, workdir, env) as sb:
        first = sb.invoke({"key": "value"}, function="function")
        second = sb.invoke({"key": "again"}, function="my-function")
        assert first.status == 200 and second.status == 200
        assert first.json()["echo"] == {"key": "value"}
        assert second.json()["echo"] == {"key": "again"}
        assert first.headers["X-Amz-Executed-Version"] == "$LATEST"
        assert 0 < first.json()["remaining_ms"] <= 3000
        assert sb.stop() == 0
        events = sb.events()
    kinds = [e["kind"] for e in events]
    assert kinds.count("init.start") == 1, "one cold start serves both invocations"
    assert [e["status"] for e in events if e["kind"] == "invoke.end"] == ["success", "success"]
    console = sb.console()
    reports = [line for line in console.splitlines() if line.startswith("REPORT RequestId:")]
    assert len(reports) == 2
    assert "Init Duration:" in reports[0] and "Init Duration:" not in reports[1]
    assert console.count("START RequestId:") == 2 and console.count("END RequestId:") == 2


def test_tail_log_has_every_line_printed_before_the_response(ric_python, workdir):
    # The handler prints (and flushes) 100 lines and returns at once: each is in
    # the runtime's pipe before its response, so each must be in the Tail log,
    # every time, however far behind the sandbox's output pump is.
    lines = 100
    with sandbox(ric_python, workdir) as sb:
        for attempt in range(30):
            reply = sb.invoke({"lines": lines}, headers={"X-Amz-Log-Type": "Tail"})
            assert reply.status == 200
            tail = base64.b64decode(reply.headers["X-Amz-Log-Result"]).decode().splitlines()
            printed = [line for line in tail if line.startswith("[fixture] line ")]
            assert printed == [f"[fixture] line {n}" for n in range(lines)], (attempt, tail)
            assert tail[-2].startswith("END RequestId: ")
            assert tail[-1].startswith("REPORT RequestId: ")
        assert sb.stop() == 0


def test_unknown_function_name_is_404_in_lambdas_format(ric_python, workdir):
    with sandbox(ric_python, workdir) as sb:
        reply = sb.invoke({}, function="no-such-function")
        assert reply.status == 404
        assert reply.headers["X-Amzn-ErrorType"] == "ResourceNotFoundException"
        assert reply.json()["Type"] == "User"
        bad = sb.invoke(raw=b"{not json")
        assert bad.status == 400
        assert bad.headers["X-Amzn-ErrorType"] == "InvalidRequestContentException"
        assert sb.stop() == 0
    assert sb.of_kind("init.start") == [], "a refused request starts no environment"


def test_function_error_is_reported_as_unhandled(ric_python, workdir):
    with sandbox(ric_python, workdir) as sb:
        reply = sb.invoke({"raise": "boom"})
        assert reply.status == 200
        assert reply.headers["X-Amz-Function-Error"] == "Unhandled"
        assert reply.json()["errorType"] == "ValueError"
        assert reply.json()["errorMessage"] == "boom"
        assert sb.invoke({"ok": 1}).status == 200, "the environment stays warm after an error"
        assert sb.stop() == 0
    assert len(sb.of_kind("init.start")) == 1


def test_function_timeout_resets_the_environment(ric_python, workdir):
    env = {"AWS_LAMBDA_FUNCTION_TIMEOUT": "1", "FIXTURE_EXTENSION": "internal"}
    with sandbox(ric_python, workdir, env) as sb:
        reply = sb.invoke({"sleep": 5})
        assert reply.status == 200
        assert reply.headers["X-Amz-Function-Error"] == "Unhandled"
        assert reply.json()["errorMessage"].endswith("Task timed out after 1.00 seconds")
        sb.wait_for(lambda e: e["kind"] == "shutdown.end", timeout=5)
        assert sb.invoke({"after": "timeout"}).status == 200, "a fresh init serves the next invoke"
        assert sb.stop() == 0
        events = sb.events()
    starts = [e for e in events if e["kind"] == "shutdown.start"]
    assert starts[0]["reason"] == "timeout" and starts[0]["rule"] == "internal-only"
    assert len([e for e in events if e["kind"] == "init.start"]) == 2
    assert [e["status"] for e in events if e["kind"] == "invoke.end"] == ["timeout", "success"]
    assert_all_gone(sb.pids())


def test_runtime_crash_during_invoke_fails_that_invoke_only(ric_python, workdir):
    with sandbox(ric_python, workdir) as sb:
        reply = sb.invoke({"exit": 3})
        assert reply.headers["X-Amz-Function-Error"] == "Unhandled"
        assert reply.json()["errorType"] == "Runtime.ExitError"
        assert "exit status 3" in reply.json()["errorMessage"]
        assert sb.invoke({"next": 1}).status == 200
        assert sb.stop() == 0
    reasons = [e["reason"] for e in sb.of_kind("shutdown.start")]
    assert reasons == ["failure", "spindown"]
    assert_all_gone(sb.pids())


def test_init_error_reaches_the_invoker(ric_python, workdir):
    with sandbox(ric_python, workdir, {"FIXTURE_INIT": "fail"}) as sb:
        reply = sb.invoke({})
        assert reply.status == 200
        assert reply.headers["X-Amz-Function-Error"] == "Unhandled"
        assert "fixture init failure" in reply.json()["errorMessage"]
        assert sb.stop() == 0
    assert sb.of_kind("init.end")[0]["status"] == "error"
    assert_all_gone(sb.pids())


def test_internal_extension_cannot_subscribe_to_shutdown(ric_python, workdir):
    with sandbox(ric_python, workdir, {"FIXTURE_EXTENSION": "internal-shutdown"}) as sb:
        assert sb.invoke({}).status == 200
        assert sb.stop() == 0
    assert (
        "SHUTDOWN subscription: 403 Extension.InvalidEventType: "
        "ShutdownEventNotSupportedForInternalExtension: " in sb.console()
    )
    refused = sb.of_kind("extension.refused")
    assert [(e["name"], e["status"], e["error_type"]) for e in refused] == [
        ("fixture-internal-shutdown", 403, "Extension.InvalidEventType")
    ]
    registered = sb.of_kind("extension.register")
    assert [(e["name"], e["type"], e["events"]) for e in registered] == [
        ("fixture-internal", "internal", [])
    ]


# ---------------------------------------------------------------- shutdown


def test_no_extension_means_sigkill_at_once(ric_python, workdir):
    with sandbox(ric_python, workdir) as sb:
        assert sb.invoke({}).status == 200
        assert sb.stop() == 0
        events = sb.events()
    start = next(e for e in events if e["kind"] == "shutdown.start")
    assert (start["rule"], start["limit_ms"], start["reason"]) == ("no-extensions", 0, "spindown")
    assert [s for s, _ in signals_to(events, "runtime")] == ["SIGKILL"]
    assert exit_of(events, "runtime")["signal"] == "SIGKILL"
    assert_all_gone(sb.pids())


def test_internal_extension_means_sigterm_and_an_early_exit_is_reaped(ric_python, workdir):
    # awslambdaric installs no SIGTERM handler: the default action ends it at once.
    with sandbox(ric_python, workdir, {"FIXTURE_EXTENSION": "internal"}) as sb:
        assert sb.invoke({}).status == 200
        assert sb.stop() == 0
        events = sb.events()
    start = next(e for e in events if e["kind"] == "shutdown.start")
    assert (start["rule"], start["limit_ms"]) == ("internal-only", 500)
    assert [s for s, _ in signals_to(events, "runtime")] == ["SIGTERM"]
    end = next(e for e in events if e["kind"] == "shutdown.end")
    assert end["killed"] == [] and end["duration_ms"] < 500
    assert exit_of(events, "runtime")["signal"] == "SIGTERM"
    assert_all_gone(sb.pids())


def test_runtime_ignoring_sigterm_is_killed_at_500_ms(ric_python, workdir):
    env = {"FIXTURE_EXTENSION": "internal", "FIXTURE_ON_SIGTERM": "ignore"}
    with sandbox(ric_python, workdir, env) as sb:
        assert sb.invoke({}).status == 200
        assert sb.stop() == 0
        events = sb.events()
    sent = signals_to(events, "runtime")
    assert [s for s, _ in sent] == ["SIGTERM", "SIGKILL"]
    interval_ms = (sent[1][1] - sent[0][1]) * 1000
    assert 480 <= interval_ms <= 800, interval_ms
    assert exit_of(events, "runtime")["signal"] == "SIGKILL"
    assert_all_gone(sb.pids())


def test_with_an_external_extension_the_runtime_goes_first_then_the_extension(ric_python, workdir):
    env = {"FIXTURE_ON_SIGTERM": "ignore", "FIXTURE_EXTERNAL_ON_SHUTDOWN": "hang"}
    with sandbox(ric_python, workdir, env, extensions_dir=EXTENSIONS) as sb:
        assert sb.invoke({"hello": 1}).status == 200
        assert sb.stop() == 0
        events = sb.events()
    start = next(e for e in events if e["kind"] == "shutdown.start")
    assert (start["rule"], start["limit_ms"], start["runtime_limit_ms"]) == ("external", 2000, 300)
    delivered = [e for e in events if e["kind"] == "shutdown.event"]
    assert [(e["name"], e["reason"]) for e in delivered] == [("fixture-external", "spindown")]
    assert delivered[0]["deadline_ms"] == start["deadline_ms"]
    runtime_signals = signals_to(events, "runtime")
    assert [s for s, _ in runtime_signals] == ["SIGTERM", "SIGKILL"]
    interval_ms = (runtime_signals[1][1] - runtime_signals[0][1]) * 1000
    assert 290 <= interval_ms <= 600, interval_ms
    # SHUTDOWN only once the runtime has been reaped; the extension keeps the rest of 2,000 ms.
    runtime_gone = next(
        e["mono"] for e in events if e["kind"] == "process.exit" and e["name"] == "runtime"
    )
    assert delivered[0]["mono"] >= runtime_gone
    ext_kill = signals_to(events, "fixture-external")
    assert [s for s, _ in ext_kill] == ["SIGKILL"]
    assert 1980 <= (ext_kill[0][1] - start["mono"]) * 1000 <= 2400
    # The extension saw the INVOKE event and the SHUTDOWN event in its own output.
    lines = [e["line"] for e in events if e["kind"] == "output" and e["name"] == "fixture-external"]
    assert any('"eventType": "INVOKE"' in line for line in lines)
    assert any(
        '"eventType": "SHUTDOWN"' in line and '"shutdownReason": "spindown"' in line
        for line in lines
    )
    assert_all_gone(sb.pids())


def test_external_extension_that_exits_on_shutdown_ends_it_early(ric_python, workdir):
    with sandbox(ric_python, workdir, extensions_dir=EXTENSIONS) as sb:
        assert sb.invoke({}).status == 200
        assert sb.stop() == 0
        events = sb.events()
    end = next(e for e in events if e["kind"] == "shutdown.end")
    assert end["killed"] == [] and end["duration_ms"] < 2000
    assert exit_of(events, "fixture-external")["returncode"] == 0
    assert_all_gone(sb.pids())


def test_the_event_log_records_a_registration_before_the_runtime_it_starts(ric_python, workdir):
    # The last external extension's registration spawns the runtime in the same
    # step: its extension.register must still come first.
    with sandbox(ric_python, workdir, extensions_dir=EXTENSIONS) as sb:
        assert sb.invoke({}).status == 200
        assert sb.stop() == 0
        events = sb.events()
    order = [
        (e["kind"], e["name"])
        for e in events
        if e["kind"] in ("process.start", "extension.register")
    ]
    assert order == [
        ("process.start", "fixture-external"),
        ("extension.register", "fixture-external"),
        ("process.start", "runtime"),
    ]


def test_console_has_init_start_and_a_line_per_ready_extension(ric_python, workdir):
    env = {"FIXTURE_EXTENSION": "internal"}
    with sandbox(ric_python, workdir, env, extensions_dir=EXTENSIONS) as sb:
        assert sb.invoke({}).status == 200
        assert sb.invoke({}).status == 200
        assert sb.stop() == 0
    lines = sb.console().splitlines()
    platform = [
        line for line in lines if line.startswith(("INIT_START", "EXTENSION", "START", "END"))
    ]
    assert re.fullmatch(
        r"INIT_START Runtime Version: lambda-sandbox:\S+\t"
        r"Runtime Version ARN: arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}",
        platform[0],
    ), platform[0]
    assert platform[1:4] == [
        "EXTENSION\tName: fixture-external\tState: Ready\tEvents: [INVOKE, SHUTDOWN]",
        "EXTENSION\tName: fixture-internal\tState: Ready\tEvents: []",
        platform[3],
    ]
    assert platform[3].startswith("START RequestId: ")
    assert sum(line.startswith("INIT_START") for line in lines) == 1, "one init, two invokes"
    assert sum(line.startswith("EXTENSION") for line in lines) == 2


def test_idle_timeout_reaps_by_the_rules_and_the_sandbox_keeps_serving(ric_python, workdir):
    env = {"AWS_LAMBDA_FUNCTION_IDLETIMEOUT": "0.5", "FIXTURE_EXTENSION": "internal"}
    with sandbox(ric_python, workdir, env) as sb:
        assert sb.invoke({}).status == 200
        end = sb.wait_for(lambda e: e["kind"] == "shutdown.end", timeout=10)
        assert end["reason"] == "spindown"
        assert sb.of_kind("sandbox.signal") == [], "reaped by the idle timeout, not a signal"
        assert sb.invoke({"again": 1}).status == 200
        assert sb.stop() == 0
    assert len(sb.of_kind("init.start")) == 2
    assert [s["signal"] for s in sb.of_kind("signal.sent")] == ["SIGTERM", "SIGTERM"]
    assert_all_gone(sb.pids())


def test_sigint_stops_like_sigterm(ric_python, workdir):
    with sandbox(ric_python, workdir, {"FIXTURE_EXTENSION": "internal"}) as sb:
        assert sb.invoke({}).status == 200
        sb.signal(signal.SIGINT)
        assert sb.proc is not None and sb.proc.wait(timeout=15) == 0
    assert sb.of_kind("sandbox.signal")[0]["signal"] == "SIGINT"
    assert sb.of_kind("sandbox.exit")[0]["code"] == 0


def test_stop_before_any_invoke_exits_at_once(ric_python, workdir):
    with sandbox(ric_python, workdir) as sb:
        assert sb.stop() == 0
    assert sb.of_kind("process.start") == []


def test_the_emulators_model_gives_the_runtime_600_ms(ric_python, workdir):
    env = {
        "FIXTURE_EXTENSION": "internal",
        "FIXTURE_ON_SIGTERM": "ignore",
        "LAMBDA_SANDBOX_SHUTDOWN_MODEL": "emulator",
    }
    with sandbox(ric_python, workdir, env) as sb:
        assert sb.invoke({}).status == 200
        assert sb.stop() == 0
        events = sb.events()
    start = next(e for e in events if e["kind"] == "shutdown.start")
    assert (start["limit_ms"], start["runtime_limit_ms"], start["model"]) == (
        2000,
        600,
        "emulator",
    )
    sent = signals_to(events, "runtime")
    assert 580 <= (sent[1][1] - sent[0][1]) * 1000 <= 900


def process_state(pid: int) -> str:
    """The kernel's one-letter state of a process: T is stopped (frozen)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0]


def test_an_idle_environment_is_frozen_and_thawed_for_the_next_event(ric_python, workdir):
    with sandbox(ric_python, workdir, {"FIXTURE_EXTENSION": "internal"}, EXTENSIONS) as sb:
        assert sb.invoke({}).status == 200
        sb.wait_for(lambda e: e["kind"] == "environment.freeze", timeout=10)
        pids = {e["name"]: e["pid"] for e in sb.of_kind("process.start")}
        # The freeze is logged, then the groups are signalled: the stop follows.
        deadline = time.monotonic() + 5
        while {process_state(pid) for pid in pids.values()} != {"T"}:
            assert time.monotonic() < deadline, "not SIGSTOPped while idle"
            time.sleep(0.01)  # the kernel stops the threads asynchronously; bounded
        assert sb.invoke({}).status == 200, "thawed to take the next event"
        assert len(sb.of_kind("environment.thaw")) >= 1
        assert sb.stop() == 0
        events = sb.events()
    # The last thaw comes before the shutdown's first signal.
    order = [e["kind"] for e in events if e["kind"] in ("environment.thaw", "signal.sent")]
    assert order[-2:] == ["environment.thaw", "signal.sent"] or order.index("signal.sent") > 0


def test_freezing_can_be_turned_off(ric_python, workdir):
    with sandbox(ric_python, workdir, {"LAMBDA_SANDBOX_FREEZE": "0"}) as sb:
        assert sb.invoke({}).status == 200
        pid = sb.of_kind("process.start")[0]["pid"]
        assert process_state(pid) != "T"
        assert sb.stop() == 0
        assert not sb.of_kind("environment.freeze")
