"""Event invocations are bounded: a payload over Lambda's asynchronous limit (1 MB) is
refused with 413, a full Event queue answers 429 instead of growing without end, and
every Event that was accepted runs (none lost, none doubled)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import List

import pytest
from support.interpreters import awslambdaric_python

from harness.sandbox.running import RunningSandbox
from lambda_sandbox.invocations import MAX_ASYNC_PAYLOAD_BYTES
from lambda_sandbox.pool import ASYNC_QUEUE_BYTES

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

EVENT = {"X-Amz-Invocation-Type": "Event"}


def payload(size: int) -> bytes:
    return b'{"pad": "' + b"x" * (size - 11) + b'"}'


def test_event_payloads_and_the_event_queue_are_bounded(tmp_path: Path) -> None:
    python = awslambdaric_python("3.12")
    runtime = [str(python), "-m", "awslambdaric", "app.handler"]
    with RunningSandbox(python, runtime, tmp_path) as sb:
        too_big = sb.invoke(raw=payload(MAX_ASYNC_PAYLOAD_BYTES + 1), headers=EVENT)
        assert too_big.status == 413, too_big.body[:200]
        assert b"RequestTooLargeException" in too_big.body + str(too_big.headers).encode()

        # The one environment is busy for a while: Events queue up.
        busy = threading.Thread(target=sb.invoke, args=({"sleep": 2},))
        busy.start()
        deadline = time.monotonic() + 10
        while not sb.of_kind("invoke.start") and time.monotonic() < deadline:
            time.sleep(0.01)  # polling the event log for the busy invocation's start
        assert sb.of_kind("invoke.start"), "the busy invocation should have started"
        size = 900 * 1024
        statuses: List[int] = [
            sb.invoke(raw=payload(size), headers=EVENT).status for _ in range(40)
        ]
        # What the queue holds, plus the one its worker (one per environment, here
        # one) has taken and waits to run.
        fits = ASYNC_QUEUE_BYTES // size + 1
        assert statuses == [202] * fits + [429] * (40 - fits), statuses
        busy.join(30)
        deadline = time.monotonic() + 60
        while len(sb.of_kind("invoke.end")) < fits + 1 and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the event log: each Event runs after the busy one
        assert sb.stop() == 0
    starts = [e["request_id"] for e in sb.of_kind("invoke.start")]
    assert len(starts) == fits + 1 == len(set(starts)), "an Event was lost or ran twice"
    assert not sb.of_kind("invoke.dropped")
