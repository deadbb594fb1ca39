"""The records' shapes, and what a Logs API subscriber receives of each Telemetry API
event."""

from __future__ import annotations

import json

from lambda_sandbox import telemetry_records as r
from lambda_sandbox.telemetry_subscription import LOGS, TELEMETRY, parse_subscription


def subscription(api: str, types=("platform", "function", "extension"), schema=None):
    body = {
        "destination": {"protocol": "HTTP", "URI": "http://sandbox:4243"},
        "types": list(types),
    }
    if schema or api == TELEMETRY:
        body["schemaVersion"] = schema or "2022-12-13"
    return parse_subscription(api, json.dumps(body).encode())


def test_time_is_utc_with_milliseconds() -> None:
    assert r.event("function", "hi", 1665532815.064)["time"] == "2022-10-12T00:00:15.064Z"
    assert r.event("function", "hi", 0.5) == {
        "time": "1970-01-01T00:00:00.500Z",
        "type": "function",
        "record": "hi",
    }


def test_report_carries_lambdas_metrics_and_init_duration_only_when_given() -> None:
    cold = r.report("id", "success", 12.3456, 13, 128, 40, 98.7654, "Root=1")
    warm = r.report("id", "success", 12.3456, 13, 128, 40, None, "Root=1")
    assert cold["metrics"] == {
        "durationMs": 12.346,
        "billedDurationMs": 13,
        "memorySizeMB": 128,
        "maxMemoryUsedMB": 40,
        "initDurationMs": 98.765,
    }
    assert "initDurationMs" not in warm["metrics"]
    assert cold["tracing"] == {"type": "X-Amzn-Trace-Id", "value": "Root=1"}


def test_init_records_carry_phase_type_and_status() -> None:
    start = r.init_start("fn", "$LATEST", "lambda-sandbox:1", "arn", "abc", 128)
    assert start["initializationType"] == "on-demand" and start["phase"] == "init"
    assert r.init_runtime_done("error", "Runtime.ExitError")["errorType"] == "Runtime.ExitError"
    assert r.init_report("success", 5.0)["metrics"] == {"durationMs": 5.0}


def test_a_subscriber_gets_only_its_types() -> None:
    platform_only = subscription(TELEMETRY, types=("platform",))
    assert r.for_subscription(platform_only, r.event("function", "x", 0)) == []
    assert (
        len(
            r.for_subscription(
                platform_only, r.event("platform.start", r.start("i", "$LATEST", "t"), 0)
            )
        )
        == 1
    )


def test_the_logs_api_has_no_init_events_and_splits_report_into_end_and_report() -> None:
    logs = subscription(LOGS)
    assert r.for_subscription(logs, r.event("platform.initStart", {}, 0)) == []
    report = r.event("platform.report", r.report("i", "success", 1, 1, 128, 1, None, "t"), 0)
    end, rep = r.for_subscription(logs, report)
    assert end["type"] == "platform.end" and end["record"] == {"requestId": "i"}
    assert rep["type"] == "platform.report" and set(rep["record"]) == {"requestId", "metrics"}


def test_the_logs_api_gets_runtime_done_only_with_schema_2021_03_18() -> None:
    done = r.event("platform.runtimeDone", r.runtime_done("i", "success", 1.0, 2, "t"), 0)
    assert r.for_subscription(subscription(LOGS), done) == []
    (shaped,) = r.for_subscription(subscription(LOGS, schema="2021-03-18"), done)
    assert shaped["record"] == {"requestId": "i", "status": "success"}


def test_the_logs_api_calls_its_subscription_record_logs_subscription() -> None:
    item = r.event("platform.telemetrySubscription", r.subscription_record("x", ["platform"]), 0)
    (shaped,) = r.for_subscription(subscription(LOGS), item)
    assert shaped["type"] == "platform.logsSubscription"
    assert r.for_subscription(subscription(TELEMETRY), item) == [item]
