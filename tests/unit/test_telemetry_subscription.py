"""Reading a Telemetry API / Logs API subscription: every documented rule, and Lambda's
error for each way to break it."""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest

from lambda_sandbox.telemetry_subscription import (
    LOGS,
    TELEMETRY,
    Buffering,
    Destination,
    SubscriptionError,
    closed_error,
    parse_subscription,
)


def body(**changes: Any) -> bytes:
    document: Dict[str, Any] = {
        "schemaVersion": "2022-12-13",
        "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/in"},
        "types": ["platform", "function"],
    }
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return json.dumps(document).encode()


def test_a_documented_request_is_taken_with_the_defaults() -> None:
    sub = parse_subscription(TELEMETRY, body())
    assert sub.schema_version == "2022-12-13"
    assert sub.types == ("platform", "function")
    assert sub.buffering == Buffering(max_items=10000, max_bytes=262144, timeout_ms=1000)
    assert sub.destination == Destination("HTTP", "sandbox.localdomain", 4243, "/in")


@pytest.mark.parametrize("schema", ["2022-07-01", "2022-12-13", "2025-01-29"])
def test_every_telemetry_schema_version_is_taken(schema: str) -> None:
    assert parse_subscription(TELEMETRY, body(schemaVersion=schema)).schema_version == schema


def test_the_logs_api_defaults_its_schema_and_takes_2021_03_18() -> None:
    assert parse_subscription(LOGS, body(schemaVersion=None)).schema_version == "2020-08-15"
    assert parse_subscription(LOGS, body(schemaVersion="2021-03-18")).schema_version == "2021-03-18"


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"schemaVersion": None}, "schemaVersion"),
        ({"schemaVersion": "2020-08-15"}, "schemaVersion"),
        ({"types": None}, "types should not be empty"),
        ({"types": []}, "types should not be empty"),
        ({"types": ["platform", "metrics"]}, "types should be among"),
        ({"buffering": {"maxItems": 999}}, "maxItems should be from 1000 to 10000"),
        ({"buffering": {"maxItems": 10001}}, "maxItems"),
        ({"buffering": {"maxBytes": 262143}}, "maxBytes should be from 262144 to 1048576"),
        ({"buffering": {"maxBytes": 1048577}}, "maxBytes"),
        ({"buffering": {"timeoutMs": 24}}, "timeoutMs should be from 25 to 30000"),
        ({"buffering": {"timeoutMs": 30001}}, "timeoutMs"),
        ({"buffering": {"timeoutMs": "100"}}, "whole number"),
        ({"buffering": {"timeoutMs": True}}, "whole number"),
        ({"buffering": [1]}, "buffering should be an object"),
        ({"destination": None}, "destination should be an object"),
        ({"destination": {"protocol": "UDP", "URI": "udp://sandbox:1"}}, "HTTP or TCP"),
        ({"destination": {"protocol": "HTTP"}}, "URI is not provided"),
        (
            {"destination": {"protocol": "HTTP", "URI": "https://sandbox.localdomain:1"}},
            "not HTTPS",
        ),
        (
            {"destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain"}},
            "URI port is not provided",
        ),
        (
            {"destination": {"protocol": "HTTP", "URI": "http://example.com:80"}},
            "inside the execution environment",
        ),
        ({"destination": {"protocol": "HTTP", "URI": "http://sandbox:9001"}}, "9001 is reserved"),
        ({"destination": {"protocol": "HTTP", "URI": "http://sandbox:99999"}}, "not a URI"),
        ({"destination": {"protocol": "TCP", "URI": "http://sandbox:4243"}}, "tcp://"),
        ({"destination": {"protocol": "TCP", "port": 0}}, "port number"),
    ],
)
def test_a_broken_request_is_a_400_validation_error_naming_the_problem(
    changes: Dict[str, Any], words: str
) -> None:
    with pytest.raises(SubscriptionError) as telemetry:
        parse_subscription(TELEMETRY, body(**changes))
    assert telemetry.value.status == 400 and telemetry.value.error_type == "ValidationError"
    assert words in telemetry.value.message


def test_the_logs_api_names_its_own_validation_error() -> None:
    with pytest.raises(SubscriptionError) as err:
        parse_subscription(LOGS, body(types=[]))
    assert err.value.error_type == "Logs.ValidationError"


@pytest.mark.parametrize("raw", [b"{nope", b"[1, 2]", b"\xff"])
def test_a_body_that_is_not_a_json_object_is_refused(raw: bytes) -> None:
    with pytest.raises(SubscriptionError) as err:
        parse_subscription(TELEMETRY, raw)
    assert err.value.status == 400


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(SubscriptionError) as err:
        parse_subscription(
            TELEMETRY, body(types=[], destination={"protocol": "HTTP", "URI": "http://sandbox"})
        )
    assert "types should not be empty" in err.value.message
    assert "URI port is not provided" in err.value.message


def test_tcp_takes_a_uri_or_a_port() -> None:
    by_uri = parse_subscription(
        TELEMETRY, body(destination={"protocol": "TCP", "URI": "tcp://sandbox:4244"})
    )
    by_port = parse_subscription(TELEMETRY, body(destination={"protocol": "TCP", "port": 4244}))
    assert by_uri.destination.port == by_port.destination.port == 4244
    assert by_uri.destination.protocol == by_port.destination.protocol == "TCP"


def test_types_are_kept_once_each_in_order() -> None:
    sub = parse_subscription(TELEMETRY, body(types=["function", "platform", "function"]))
    assert sub.types == ("function", "platform")


def test_after_init_the_answer_is_subscription_closed() -> None:
    assert (closed_error(TELEMETRY).status, closed_error(TELEMETRY).error_type) == (
        403,
        "Telemetry.SubscriptionClosed",
    )
    assert closed_error(LOGS).error_type == "Logs.SubscriptionClosed"
