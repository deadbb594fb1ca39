"""A failed Event invocation is retried twice, as Lambda retries asynchronous invocations
("Asynchronous invocation": two retries, about one and two minutes apart; the delays are
a setting, LAMBDA_SANDBOX_EVENT_RETRY_DELAYS, short here). A synchronous one is not."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.interpreters import awslambdaric_python

from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_a_failed_event_runs_three_times_with_the_same_request_id(tmp_path: Path) -> None:
    python = awslambdaric_python("3.12")
    runtime = [str(python), "-m", "awslambdaric", "app.handler"]
    env = {"LAMBDA_SANDBOX_EVENT_RETRY_DELAYS": "0.2,0.4"}
    with RunningSandbox(python, runtime, tmp_path, env=env) as sb:
        sync = sb.invoke({"raise": "once"})
        assert sync.headers.get("X-Amz-Function-Error") == "Unhandled"
        accepted = sb.invoke({"raise": "boom"}, headers={"X-Amz-Invocation-Type": "Event"})
        assert accepted.status == 202
        request_id = accepted.headers["X-Amzn-RequestId"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ends = [e for e in sb.of_kind("invoke.end") if e["request_id"] == request_id]
            if len(ends) >= 3:
                break
            time.sleep(0.05)  # polling the event log for the retries' ends
        assert sb.stop() == 0
    starts = [e for e in sb.of_kind("invoke.start") if e["request_id"] == request_id]
    assert len(starts) == 3, "the first run and two retries"
    gaps = [b["mono"] - a["mono"] for a, b in zip(starts, starts[1:])]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4, gaps
    assert len(sb.of_kind("invoke.start")) == 4, "the synchronous failure was not retried"
