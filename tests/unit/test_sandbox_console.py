"""The platform's console lines, spelled as Lambda spells them in CloudWatch Logs."""

from __future__ import annotations

import io

from lambda_sandbox.console import (
    RUNTIME_VERSION,
    Console,
    billed_duration_ms,
    end_line,
    extension_launch_error_line,
    extension_ready_line,
    init_report_line,
    init_start_line,
    iso_timestamp,
    report_line,
    runtime_version_arn,
    start_line,
    timed_out_message,
)

REQUEST_ID = "8f5c2a1e-0000-4000-8000-000000000001"


def test_start_line_names_the_request_and_the_version() -> None:
    assert start_line(REQUEST_ID, "$LATEST") == f"START RequestId: {REQUEST_ID} Version: $LATEST"


def test_end_line_names_the_request() -> None:
    assert end_line(REQUEST_ID) == f"END RequestId: {REQUEST_ID}"


def test_report_line_of_a_warm_successful_invocation() -> None:
    assert report_line(REQUEST_ID, 12.3456, 128, 42) == (
        f"REPORT RequestId: {REQUEST_ID}\tDuration: 12.35 ms\tBilled Duration: 13 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 42 MB"
    )


def test_report_line_after_a_cold_start_adds_the_init_duration() -> None:
    line = report_line(REQUEST_ID, 1.0, 256, 30, init_duration_ms=250.4)
    assert line.endswith("\tMax Memory Used: 30 MB\tInit Duration: 250.40 ms")


def test_report_line_shows_a_status_only_when_the_invocation_did_not_succeed() -> None:
    assert "Status" not in report_line(REQUEST_ID, 1.0, 128, 1, status="success")
    line = report_line(REQUEST_ID, 1.0, 128, 1, init_duration_ms=5.0, status="timeout")
    assert line.endswith("\tInit Duration: 5.00 ms\tStatus: timeout")


def test_billed_duration_rounds_up_to_the_millisecond() -> None:
    assert billed_duration_ms(0.0) == 0
    assert billed_duration_ms(0.001) == 1
    assert billed_duration_ms(3.0) == 3
    assert billed_duration_ms(3.0001) == 4


def test_iso_timestamp_is_utc_with_milliseconds() -> None:
    # 2024-01-02T03:04:05Z is 1704164645 seconds after the epoch.
    assert iso_timestamp(1704164645.678) == "2024-01-02T03:04:05.678Z"
    assert iso_timestamp(1704164645.0) == "2024-01-02T03:04:05.000Z"


def test_timed_out_message_gives_the_timeout_in_seconds_with_two_decimals() -> None:
    assert timed_out_message("2024-01-02T03:04:05.678Z", REQUEST_ID, 1) == (
        f"2024-01-02T03:04:05.678Z {REQUEST_ID} Task timed out after 1.00 seconds"
    )


def test_init_report_line_of_a_failed_init() -> None:
    assert init_report_line(10012.5, "timeout", "Runtime.InitTimeout") == (
        "INIT_REPORT Init Duration: 10012.50 ms\tPhase: init\tStatus: timeout\t"
        "Error Type: Runtime.InitTimeout"
    )


def test_extension_launch_error_line() -> None:
    assert extension_launch_error_line("ext", "[Errno 8] Exec format error") == (
        "EXTENSION\tName: ext\tState: LaunchError\t[Errno 8] Exec format error"
    )


def test_init_start_line_names_the_runtime_version_and_its_arn() -> None:
    arn = "arn:aws:lambda:eu-central-1::runtime:" + "ab" * 32
    assert init_start_line("python:3.9.v18", arn) == (
        f"INIT_START Runtime Version: python:3.9.v18\tRuntime Version ARN: {arn}"
    )


def test_runtime_version_arn_has_lambdas_shape_and_is_stable() -> None:
    arn = runtime_version_arn("eu-west-1", RUNTIME_VERSION)
    prefix = "arn:aws:lambda:eu-west-1::runtime:"
    assert arn.startswith(prefix)
    digits = arn[len(prefix) :]
    assert len(digits) == 64 and all(c in "0123456789abcdef" for c in digits)
    assert arn == runtime_version_arn("eu-west-1", RUNTIME_VERSION)
    assert arn != runtime_version_arn("eu-west-1", "lambda-sandbox:0.0.0")


def test_runtime_version_is_the_sandboxs() -> None:
    assert RUNTIME_VERSION.startswith("lambda-sandbox:")


def test_extension_ready_line_lists_the_events_as_registered() -> None:
    assert extension_ready_line("AppConfigAgent", ["INVOKE", "SHUTDOWN"]) == (
        "EXTENSION\tName: AppConfigAgent\tState: Ready\tEvents: [INVOKE, SHUTDOWN]"
    )
    assert extension_ready_line("agent", ("SHUTDOWN", "INVOKE")).endswith(
        "\tEvents: [SHUTDOWN, INVOKE]"
    )


def test_extension_ready_line_of_an_extension_with_no_events() -> None:
    assert extension_ready_line("lambda-adapter", ()) == (
        "EXTENSION\tName: lambda-adapter\tState: Ready\tEvents: []"
    )


def test_console_writes_each_line_whole_with_a_newline() -> None:
    stream = io.StringIO()
    console = Console(stream)
    console.line("one")
    console.line("two")
    assert stream.getvalue() == "one\ntwo\n"


def test_console_survives_a_closed_stream() -> None:
    stream = io.StringIO()
    stream.close()
    Console(stream).line("lost, quietly")
