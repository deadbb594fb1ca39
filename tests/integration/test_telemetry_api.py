"""The Telemetry API and the Logs API, end to end: a real external extension
(tests/fixtures/telemetry-extensions/telemetry-recorder) subscribes during init,
the function runs under real awslambdaric, and the extension's listener gets
Lambda's records: init replayed to a late subscriber, the invocation's start,
lines, runtimeDone and report, all before SHUTDOWN reaches the extension.
"""

from __future__ import annotations

import http.client
import json
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest
from support.interpreters import awslambdaric_python
from support.listeners import free_port

from harness.paths import TEST_FIXTURES
from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

EXTENSIONS = TEST_FIXTURES / "telemetry-extensions"


def recorded(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run(tmp_path: Path, python_version: str, env: Dict[str, str], event: Dict[str, Any]) -> tuple:
    python = awslambdaric_python(python_version)
    runtime = [str(python), "-m", "awslambdaric", "app.handler"]
    out = tmp_path / "recorded.jsonl"
    env = {"RECORDER_PORT": str(free_port()), "RECORDER_OUT": str(out), **env}
    with RunningSandbox(
        python, runtime, tmp_path / "run", env=env, extensions_dir=EXTENSIONS
    ) as sb:
        reply = sb.invoke(event)
        assert reply.status == 200, reply.body
        request_id = reply.json()["request_id"]
        assert sb.stop() == 0
    return recorded(out), request_id, sb


def types_in(lines: List[Dict[str, Any]]) -> List[str]:
    return [e["type"] for line in lines if "batch" in line for e in line["batch"]]


@pytest.mark.parametrize("python_version", ["3.8", "3.12"])
@pytest.mark.parametrize("protocol", ["HTTP", "TCP"])
def test_a_subscriber_gets_init_invoke_and_lines_before_shutdown(
    tmp_path: Path, python_version: str, protocol: str
) -> None:
    (tmp_path / "run").mkdir()
    lines, request_id, sb = run(
        tmp_path, python_version, {"RECORDER_PROTOCOL": protocol}, {"lines": 3}
    )
    assert lines[0] == {"subscribe": 200, "body": '"OK"', "at": lines[0]["at"]}
    types = types_in(lines)
    # Init, replayed to the subscriber that came in during it, in Lambda's order.
    init = [
        t
        for t in types
        if t.startswith("platform.init")
        or t in ("platform.telemetrySubscription", "platform.extension")
    ]
    assert init == [
        "platform.initStart",
        "platform.telemetrySubscription",
        "platform.initRuntimeDone",
        "platform.extension",
        "platform.initReport",
    ], types
    events = [e for line in lines if "batch" in line for e in line["batch"]]
    by_type = {e["type"]: e for e in events}
    assert by_type["platform.start"]["record"]["requestId"] == request_id
    done = by_type["platform.runtimeDone"]["record"]
    assert done["requestId"] == request_id and done["status"] == "success"
    report = by_type["platform.report"]["record"]
    assert report["requestId"] == request_id and report["status"] == "success"
    # One trace through the invocation: start, runtimeDone and report carry it.
    trace = by_type["platform.start"]["record"]["tracing"]["value"]
    assert trace.startswith("Root=1-")
    assert done["tracing"]["value"] == report["tracing"]["value"] == trace
    assert set(report["metrics"]) >= {
        "durationMs",
        "billedDurationMs",
        "memorySizeMB",
        "maxMemoryUsedMB",
        "initDurationMs",
    }
    function_lines = [e["record"] for e in events if e["type"] == "function"]
    assert [f"[fixture] line {n}" for n in range(3)] == [
        line for line in function_lines if line.startswith("[fixture] line")
    ]
    assert all(e["time"].endswith("Z") and len(e["time"]) == 24 for e in events)
    # Everything was delivered before SHUTDOWN was: the sandbox's own log says when.
    delivered = [e for e in sb.events() if e["kind"] == "telemetry.delivery"]
    assert delivered and all(d["delivered"] for d in delivered)
    assert sum(d["records"] for d in delivered) == len(events)
    (shutdown_sent,) = [e for e in sb.events() if e["kind"] == "shutdown.event"]
    assert all(d["mono"] <= shutdown_sent["mono"] for d in delivered)
    if protocol == "HTTP":
        # A batch is acknowledged after the listener recorded it, and the sandbox
        # waits for that: the listener's own clock shows the same order. (Over TCP
        # nothing is acknowledged: the listener's reader thread may write down a
        # batch sent before SHUTDOWN after its main thread wrote down SHUTDOWN.)
        (shutdown,) = [line for line in lines if "shutdown" in line]
        assert all(line["at"] <= shutdown["at"] for line in lines if "batch" in line)


def test_the_logs_api_gets_its_own_shapes(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    lines, request_id, _ = run(tmp_path, "3.12", {"RECORDER_API": "logs"}, {"lines": 1})
    assert lines[0]["subscribe"] == 200
    events = [e for line in lines if "batch" in line for e in line["batch"]]
    types = [e["type"] for e in events]
    assert not [t for t in types if t.startswith("platform.init")]
    assert "platform.logsSubscription" in types and "platform.telemetrySubscription" not in types
    ordered = [
        t
        for t in types
        if t in ("platform.start", "platform.runtimeDone", "platform.end", "platform.report")
    ]
    assert ordered == ["platform.start", "platform.runtimeDone", "platform.end", "platform.report"]
    start = next(e for e in events if e["type"] == "platform.start")
    assert start["record"] == {"requestId": request_id, "version": "$LATEST"}
    assert "[fixture] line 0" in [e["record"] for e in events if e["type"] == "function"]


@pytest.mark.parametrize(
    "body, status, error_type",
    [
        (
            {
                "schemaVersion": "2022-12-13",
                "types": ["platform"],
                "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain/in"},
            },
            400,
            "ValidationError",
        ),
        (
            {
                "schemaVersion": "2099-01-01",
                "types": ["platform"],
                "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243"},
            },
            400,
            "ValidationError",
        ),
    ],
    ids=["no port", "unknown schema"],
)
def test_a_bad_subscription_gets_lambdas_error(
    tmp_path: Path, body: Dict[str, Any], status: int, error_type: str
) -> None:
    (tmp_path / "run").mkdir()
    lines, _, _ = run(tmp_path, "3.12", {"RECORDER_BODY": json.dumps(body)}, {})
    assert lines[0]["subscribe"] == status
    assert json.loads(lines[0]["body"])["errorType"] == error_type
    assert not [line for line in lines if "batch" in line]


def put(address: str, path: str, headers: Dict[str, str]) -> tuple:
    """A valid subscription for ``path``'s API, so that only who and when can refuse it."""
    host, port = address.rsplit(":", 1)
    document: Dict[str, Any] = {
        "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243"},
        "types": ["platform"],
    }
    if "telemetry" in path:
        document["schemaVersion"] = "2022-12-13"
    body = json.dumps(document)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("PUT", path, body, headers)
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return response.status, answer.get("errorType")


def test_who_may_subscribe_and_when(tmp_path: Path) -> None:
    """Only a registered external extension, only during init: an internal extension,
    an unknown identifier, a missing one and a registered extension after init are
    each refused with Lambda's answer."""
    (tmp_path / "run").mkdir()
    python = awslambdaric_python("3.12")
    runtime = [str(python), "-m", "awslambdaric", "app.handler"]
    env = {
        "FIXTURE_EXTENSION": "internal-telemetry",
        "RECORDER_PORT": str(free_port()),
        "RECORDER_OUT": str(tmp_path / "recorded.jsonl"),
    }
    with RunningSandbox(
        python, runtime, tmp_path / "run", env=env, extensions_dir=EXTENSIONS
    ) as sb:
        assert sb.invoke({}).status == 200
        address = sb.of_kind("environment.created")[0]["runtime_api"]
        (external,) = [e for e in sb.of_kind("extension.register") if e["type"] == "external"]
        after_init = put(
            address, "/2022-07-01/telemetry", {"Lambda-Extension-Identifier": external["id"]}
        )
        logs_after_init = put(
            address, "/2020-08-15/logs", {"Lambda-Extension-Identifier": external["id"]}
        )
        unknown = put(
            address, "/2022-07-01/telemetry", {"Lambda-Extension-Identifier": str(uuid.uuid4())}
        )
        missing = put(address, "/2022-07-01/telemetry", {})
        assert sb.stop() == 0
    printed = [e["line"] for e in sb.of_kind("output")]
    assert (
        "[fixture] telemetry subscription: 403 Extension.InternalExtensionNotSupported" in printed
    )
    assert after_init == (403, "Telemetry.SubscriptionClosed")
    assert logs_after_init == (403, "Logs.SubscriptionClosed")
    assert unknown == (403, "Extension.UnknownExtensionIdentifier")
    assert missing[0] == 403
    assert recorded(tmp_path / "recorded.jsonl")[0]["subscribe"] == 200  # during init: taken
