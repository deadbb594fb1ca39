"""Nothing lost: a request whose environment dies or is stopped mid-invoke is redelivered
and answered.

Sandbox A takes a slow request and is SIGKILLed (with its runtime) during the
invocation, before any reply; its request was never acknowledged, so the
broker requeues it when A's connection drops. Sandbox B, consuming the same
queue, gets it (redelivered) and the caller receives exactly one reply. Stopped
by SIGTERM instead, A answers the invocation in flight as the service's error and
requeues the request itself; B answers it the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.amqp import Caller, amqp_python, deleting_queue, function_name, require_broker

from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.amqp, pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.mark.parametrize("end", ["sigkill", "sigterm"])
def test_the_request_in_flight_goes_to_the_next_consumer(tmp_path: Path, end: str) -> None:
    # sigkill: the environment dies mid-invoke, no reply, no ack; the broker
    # requeues it when the connection drops. sigterm: an orderly stop
    # mid-invoke; the service, not the function, ended the invocation, so the
    # request is requeued (not answered with an error and acknowledged).
    uri = require_broker()
    python = amqp_python("3.12")
    name = function_name(f"amqp-redeliver-{end}")
    env = {"AMQP_URI": uri, "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_TIMEOUT": "20"}
    runtime = [str(python), "-m", "awslambdaric", "app.handler"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with deleting_queue(uri, name), Caller(uri) as caller:
        with RunningSandbox(python, runtime, tmp_path / "a", env=env) as first:
            first.wait_for(lambda e: e["kind"] == "amqp.connect", timeout=20)
            correlation_id = caller.publish(name, json.dumps({"sleep": 2}).encode())
            first.wait_for(lambda e: e["kind"] == "invoke.start", timeout=20)
            if end == "sigterm":
                assert first.stop() == 0
            # Else leaving the block SIGKILLs the sandbox's group and the runtime's.
        if end == "sigkill":
            assert first.proc is not None and first.proc.returncode == -9
        assert first.of_kind("amqp.reply") == [], "no reply for a request it did not finish"
        (taken,) = first.of_kind("amqp.invoke")
        assert taken["correlation_id"] == correlation_id and taken["redelivered"] is False
        if end == "sigterm":
            (requeued,) = first.of_kind("amqp.requeue")
            assert requeued["correlation_id"] == correlation_id

        with RunningSandbox(python, runtime, tmp_path / "b", env=env) as second:
            replies = caller.replies(1, timeout_s=30)
            assert second.stop() == 0
        assert list(replies) == [correlation_id], "exactly one reply, to the same request"
        body, headers = replies[correlation_id]
        assert json.loads(body)["echo"] == {"sleep": 2}
        assert "X-Amz-Function-Error" not in headers
        (again,) = second.of_kind("amqp.invoke")
        assert again["correlation_id"] == correlation_id and again["redelivered"] is True
        assert caller.count(name) == 0, "acknowledged: nothing left in the queue"
