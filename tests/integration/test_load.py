"""Bounded load: 2,000 invocations from 16 clients against MAX_CONCURRENCY=4.

Every invocation is answered exactly once (request ids checked against the
sandbox's own log), nothing but the documented 429 comes back, and the
sandbox's file descriptors and memory stay flat after a warm-up. Throughput
figures belong to the benchmark (bench/invoke_throughput.py), not here.
"""

from __future__ import annotations

import collections
import concurrent.futures
import http.client
import json
from pathlib import Path
from typing import Counter, List, Tuple

import pytest
from support.resources import held

from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

TOTAL = 2000
CLIENTS = 16
WARM_UP = 200


def client(address: str, count: int) -> List[Tuple[int, str]]:
    """One keep-alive client doing ``count`` invocations: (status, request id)."""
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    answers = []
    try:
        for n in range(count):
            connection.request(
                "POST",
                "/2015-03-31/functions/function/invocations",
                body=json.dumps({"n": n}),
            )
            response = connection.getresponse()
            body = response.read()
            if response.status == 200:
                answers.append((200, json.loads(body)["request_id"]))
            else:
                answers.append((response.status, response.getheader("X-Amzn-ErrorType", "")))
    finally:
        connection.close()
    return answers


def burst(address: str, total: int) -> List[Tuple[int, str]]:
    per_client = total // CLIENTS
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        results = pool.map(lambda _: client(address, per_client), range(CLIENTS))
    return [answer for answers in results for answer in answers]


def test_every_invocation_answered_once_and_resources_flat(tmp_path: Path):
    from support.interpreters import awslambdaric_python

    python = awslambdaric_python("3.12")
    env = {"MAX_CONCURRENCY": "4", "LAMBDA_SANDBOX_QUEUE_LIMIT": "100"}
    with RunningSandbox(
        python, [str(python), "-m", "awslambdaric", "app.handler"], tmp_path, env=env
    ) as sb:
        assert sb.proc is not None
        pid = sb.proc.pid
        warm = burst(sb.invoke_api, WARM_UP)
        after_warm_up = held(pid)
        fds_after_warm_up, rss_after_warm_up = after_warm_up.fds, after_warm_up.rss_kb
        answers = burst(sb.invoke_api, TOTAL)
        at_end = held(pid)
        fds_at_end, rss_at_end = at_end.fds, at_end.rss_kb
        assert sb.stop() == 0
        started = [e["request_id"] for e in sb.of_kind("invoke.start")]

    statuses: Counter[int] = collections.Counter(status for status, _ in warm + answers)
    assert set(statuses) <= {200, 429}, statuses
    refusals = {detail for status, detail in warm + answers if status == 429}
    assert refusals <= {"TooManyRequestsException"}
    answered_ids = [detail for status, detail in warm + answers if status == 200]
    assert len(answered_ids) == len(set(answered_ids)), "a request id was answered twice"
    assert sorted(answered_ids) == sorted(started), "answers and runs do not match one to one"
    assert statuses[200] >= TOTAL, "almost all invocations should run: 16 clients, queue of 100"
    print(
        f"\nload: {len(answers)} invocations, {dict(statuses)}; "
        f"fds {fds_after_warm_up} -> {fds_at_end}, RSS {rss_after_warm_up} -> {rss_at_end} kB"
    )
    assert fds_at_end <= fds_after_warm_up + 4, "file descriptors grew under load"
    assert rss_at_end - rss_after_warm_up < 8 * 1024, "memory grew by more than 8 MB"
