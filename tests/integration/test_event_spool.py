"""Accepted Event invocations survive a stop: what is queued, waiting for a retry, or
cut off mid-run when the sandbox stops is spooled, and the next start runs it first,
with the retries it has left. None is dropped, none is run by two starts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Dict, List

import pytest
from support.interpreters import awslambdaric_python

from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

EVENT = {"X-Amz-Invocation-Type": "Event"}


def wait_until(check: Callable[[], bool], within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)  # polling the event log


def of_request(sb: RunningSandbox, kind: str, request_id: str) -> List[Dict]:
    return [e for e in sb.of_kind(kind) if e.get("request_id") == request_id]


def test_events_left_at_stop_run_at_the_next_start(tmp_path: Path) -> None:
    python = awslambdaric_python("3.12")
    runtime = [str(python), "-m", "awslambdaric", "app.handler"]
    spool = tmp_path / "spool.jsonl"
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()

    env = {"LAMBDA_SANDBOX_EVENT_SPOOL": str(spool), "LAMBDA_SANDBOX_EVENT_RETRY_DELAYS": "30,30"}
    with RunningSandbox(python, runtime, tmp_path / "first", env=env) as first:
        failing = first.invoke({"raise": "boom"}, headers=EVENT).headers["X-Amzn-RequestId"]
        wait_until(lambda: bool(of_request(first, "invoke.end", failing)))
        running = first.invoke({"sleep": 1.5}, headers=EVENT).headers["X-Amzn-RequestId"]
        queued = [
            first.invoke({"n": n}, headers=EVENT).headers["X-Amzn-RequestId"] for n in range(3)
        ]
        wait_until(lambda: bool(of_request(first, "invoke.start", running)))
        assert first.stop() == 0
    spooled = {e["request_id"]: e["retries_made"] for e in first.of_kind("invoke.spooled")}
    assert spooled == {failing: 1, running: 0, **{q: 0 for q in queued}}
    assert first.of_kind("invoke.dropped") == []
    assert spool.exists()

    env["LAMBDA_SANDBOX_EVENT_RETRY_DELAYS"] = "0.1,0.1"
    with RunningSandbox(python, runtime, tmp_path / "second", env=env) as second:
        replayed = {e["request_id"]: e["retries_made"] for e in second.of_kind("invoke.replayed")}
        assert replayed == spooled
        assert not spool.exists(), "taken whole at start: no second start runs them again"
        everyone = [running, *queued]
        wait_until(lambda: all(of_request(second, "invoke.end", r) for r in everyone))
        # One retry was used before the stop: the replay and the last retry are left.
        wait_until(lambda: len(of_request(second, "invoke.end", failing)) == 2)
        time.sleep(0.5)  # a third run would come 0.1 s after the second
        assert second.stop() == 0
    assert len(of_request(second, "invoke.start", failing)) == 2
    for request_id in everyone:
        assert len(of_request(second, "invoke.start", request_id)) == 1, request_id
    assert second.of_kind("invoke.spooled") == [] and not spool.exists()
