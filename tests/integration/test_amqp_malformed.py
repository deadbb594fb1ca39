"""Malformed requests are rejected with a logged reason; the queue keeps flowing.

No reply_to, a body that is not JSON, a body over 6 MB, a client context that
is not base64 JSON: each is rejected without requeue (it never comes back),
a caller that named a reply_to gets an error reply at once, and the requests
behind them are answered by the same consumer.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from support.amqp import Caller, amqp_python, deleting_queue, function_name, require_broker

from harness.sandbox.running import RunningSandbox
from lambda_sandbox.invocations import MAX_PAYLOAD_BYTES

pytestmark = [pytest.mark.amqp, pytest.mark.integration, pytest.mark.timeout(120)]


def test_malformed_requests_are_rejected_and_the_queue_keeps_flowing(workdir: Path) -> None:
    uri = require_broker()
    python = amqp_python("3.12")
    name = function_name("amqp-malformed")
    env = {"AMQP_URI": uri, "AWS_LAMBDA_FUNCTION_NAME": name}
    runtime = [str(python), "-m", "awslambdaric", "app.handler"]
    oversized = b'"' + b"x" * MAX_PAYLOAD_BYTES + b'"'
    with deleting_queue(uri, name), Caller(uri) as caller, RunningSandbox(
        python, runtime, workdir, env=env
    ) as sb:
        sb.wait_for(lambda e: e["kind"] == "amqp.connect", timeout=20)
        before = caller.publish(name, b'{"n": "before"}')
        caller.publish(name, b'{"n": "no reply_to"}', reply=False, correlation_id="no-reply")
        not_json = caller.publish(name, b"{not json")
        too_big = caller.publish(name, oversized)
        bad_context = caller.publish(
            name, b"{}", headers={"X-Amz-Client-Context": "%%% not base64"}
        )
        good_context = caller.publish(
            name,
            b'{"n": "after"}',
            headers={"X-Amz-Client-Context": base64.b64encode(b'{"custom": {"k": 2}}').decode()},
        )
        replies = caller.replies(5, timeout_s=30)
        assert sb.stop() == 0
        assert caller.count(name) == 0, "nothing left behind, nothing requeued"

    assert set(replies) == {before, not_json, too_big, bad_context, good_context}
    for refused, error_type in (
        (not_json, "InvalidRequestContentException"),
        (too_big, "RequestTooLargeException"),
        (bad_context, "InvalidRequestContentException"),
    ):
        body, headers = replies[refused]
        assert headers["X-Amzn-ErrorType"] == error_type
        assert json.loads(body)["message"]
    assert json.loads(replies[before][0])["echo"] == {"n": "before"}
    after = json.loads(replies[good_context][0])
    assert after["echo"] == {"n": "after"} and after["client_custom"] == {"k": 2}

    rejects = {r["correlation_id"]: r for r in sb.of_kind("amqp.reject")}
    assert set(rejects) == {"no-reply", not_json, too_big, bad_context}
    assert "no reply_to" in rejects["no-reply"]["reason"] and not rejects["no-reply"]["replied"]
    assert "not JSON" in rejects[not_json]["reason"]
    assert (
        "over the" in rejects[too_big]["reason"] and rejects[too_big]["bytes"] > MAX_PAYLOAD_BYTES
    )
    assert "base64" in rejects[bad_context]["reason"]
    assert all(not r["redelivered"] for r in rejects.values()), "rejected ones never come back"
    assert len(sb.of_kind("amqp.reply")) == 2
    assert "rejected a message" in sb.console()
