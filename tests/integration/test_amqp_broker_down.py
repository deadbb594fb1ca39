"""A broker that is down at start, or goes away, is retried; HTTP serves meanwhile.

The sandbox's AMQP_URI points at a loopback gate in front of the real broker
(tests/amqp_support.TcpGate): closed, it refuses like a broker that is down;
opened, it forwards; cut, it drops every connection like a broker that died.
The real broker is never touched, so tests in parallel are unaffected.

Also: without pika in the sandbox's interpreter, AMQP_URI set only turns AMQP
off (with a clear line); the HTTP Invoke API serves as before.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support.amqp import (
    Caller,
    TcpGate,
    amqp_python,
    broker_uri,
    deleting_queue,
    function_name,
    require_broker,
)

from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def one_amqp_invoke(uri: str, queue: str, payload: dict) -> dict:
    with Caller(uri) as caller:
        correlation_id = caller.publish(queue, json.dumps(payload).encode())
        replies = caller.replies(1, timeout_s=20)
    assert correlation_id in replies, "no AMQP reply"
    return json.loads(replies[correlation_id][0])  # type: ignore[no-any-return]


@pytest.mark.amqp
def test_broker_down_at_start_then_up_then_lost(workdir: Path) -> None:
    uri = require_broker()
    real = urlsplit(uri)
    gate = TcpGate((real.hostname or "127.0.0.1", real.port or 5672))
    gated_uri = real._replace(netloc=f"{real.username}:{real.password}@127.0.0.1:{gate.port}")
    python = amqp_python("3.12")
    name = function_name("amqp-down")
    env = {"AMQP_URI": gated_uri.geturl(), "AWS_LAMBDA_FUNCTION_NAME": name}
    try:
        with deleting_queue(uri, name), RunningSandbox(
            python, [str(python), "-m", "awslambdaric", "app.handler"], workdir, env=env
        ) as sb:
            down = sb.wait_for(lambda e: e["kind"] == "amqp.disconnect", timeout=20)
            assert "retry_in_s" in down and down["error"]
            assert sb.invoke({"over": "http"}).json()["echo"] == {"over": "http"}

            gate.open()
            sb.wait_for(lambda e: e["kind"] == "amqp.connect", timeout=30)
            assert one_amqp_invoke(uri, name, {"n": 1})["echo"] == {"n": 1}

            gate.cut()
            sb.wait_for(lambda e: len(sb.of_kind("amqp.connect")) >= 2, timeout=30)
            assert one_amqp_invoke(uri, name, {"n": 2})["echo"] == {"n": 2}
            assert sb.stop() == 0
    finally:
        gate.close()
    kinds = [e["kind"] for e in sb.events() if e["kind"].startswith("amqp.")]
    first_connect = kinds.index("amqp.connect")
    assert kinds[0] == "amqp.disconnect" and first_connect > 0, kinds
    assert "amqp.disconnect" in kinds[first_connect:], "the lost connection was noticed"
    before = [e["retry_in_s"] for e in sb.of_kind("amqp.disconnect")[:first_connect]]
    assert before == sorted(before) and before[0] == 0.5, "backoff grows from 0.5 s"
    after = [e for e in sb.events() if e["kind"] == "amqp.disconnect"][first_connect:]
    assert after[0]["retry_in_s"] == 0.5, "a connection that worked resets the backoff"
    console = sb.console()
    assert "retrying in" in console and "the HTTP Invoke API keeps serving" in console


def test_without_pika_amqp_is_off_and_http_serves(workdir: Path) -> None:
    from support.interpreters import awslambdaric_python

    python = awslambdaric_python("3.12")  # awslambdaric only, no pika
    env = {"AMQP_URI": broker_uri(), "AWS_LAMBDA_FUNCTION_NAME": function_name("amqp-nopika")}
    with RunningSandbox(
        python, [str(python), "-m", "awslambdaric", "app.handler"], workdir, env=env
    ) as sb:
        off = sb.wait_for(lambda e: e["kind"] == "amqp.unavailable", timeout=20)
        assert "pika is not installed" in off["reason"]
        assert sb.invoke({"k": 1}).json()["echo"] == {"k": 1}
        assert sb.stop() == 0
