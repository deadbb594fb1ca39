"""MAX_CONCURRENCY execution environments, and each one failing on its own.

Environments start lazily on demand, are reused while warm, each runs by the
shutdown rules, and one breaking (timeout, crash, a broken extension) resets
only itself.
"""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from harness.paths import TEST_FIXTURES as FIXTURES
from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def ric312() -> Tuple[str, Path]:
    from support.interpreters import awslambdaric_python

    return "3.12", awslambdaric_python("3.12")


def start(ric: Tuple[str, Path], workdir: Path, extensions: bool = False, **env: str):
    _, python = ric
    return RunningSandbox(
        python,
        [str(python), "-m", "awslambdaric", "app.handler"],
        workdir,
        env=env,
        extensions_dir=FIXTURES / "extensions" if extensions else None,
    )


def by_env(events: List[Dict[str, Any]], kind: str) -> Dict[int, List[Dict[str, Any]]]:
    grouped: Dict[int, List[Dict[str, Any]]] = {}
    for event in events:
        if event["kind"] == kind:
            grouped.setdefault(event["env"], []).append(event)
    return grouped


def test_environments_start_lazily_and_run_in_parallel(ric312, tmp_path):
    with start(ric312, tmp_path, MAX_CONCURRENCY="3") as sb:
        assert sb.invoke({}).status == 200
        assert len(sb.of_kind("environment.created")) == 1, "one environment until more are needed"
        began = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            replies = list(pool.map(lambda _: sb.invoke({"sleep": 1}), range(3)))
        elapsed = time.monotonic() - began
        assert [r.status for r in replies] == [200, 200, 200]
        assert len({r.json()["pid"] for r in replies}) == 3, "three runtimes served them"
        assert elapsed < 2.5, f"three 1 s invocations took {elapsed:.1f} s: not in parallel"
        assert sb.stop() == 0
        events = sb.events()
    assert len(by_env(events, "init.start")) == 3
    starts = by_env(events, "init.start")
    assert all(len(v) == 1 for v in starts.values()), "warm environments were reused"


def test_warm_environment_is_reused_for_sequential_invocations(ric312, tmp_path):
    with start(ric312, tmp_path, MAX_CONCURRENCY="4") as sb:
        pids = {sb.invoke({}).json()["pid"] for _ in range(5)}
        assert sb.stop() == 0
    assert len(pids) == 1
    assert len(sb.of_kind("environment.created")) == 1


def test_requests_past_capacity_wait_in_the_queue(ric312, tmp_path):
    with start(ric312, tmp_path, MAX_CONCURRENCY="1", LAMBDA_SANDBOX_QUEUE_LIMIT="5") as sb:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(lambda _: sb.invoke({"sleep": 0.2}), range(4)))
        assert [r.status for r in replies] == [200] * 4
        assert sb.stop() == 0


def test_stop_shuts_every_environment_down_in_parallel(ric312, tmp_path):
    env = {"MAX_CONCURRENCY": "3", "FIXTURE_EXTENSION": "internal", "FIXTURE_ON_SIGTERM": "ignore"}
    with start(ric312, tmp_path, **env) as sb:
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda _: sb.invoke({"sleep": 0.5}), range(3)))
        for _ in range(3):
            sb.wait_for(lambda e: e["kind"] == "invoke.end", timeout=10)
        began = time.monotonic()
        assert sb.stop() == 0
        stop_took = time.monotonic() - began
        events = sb.events()
    terms = [e for e in events if e["kind"] == "signal.sent" and e["signal"] == "SIGTERM"]
    kills = [e for e in events if e["kind"] == "signal.sent" and e["signal"] == "SIGKILL"]
    assert sorted(e["env"] for e in terms) == [0, 1, 2]
    assert sorted(e["env"] for e in kills) == [0, 1, 2]
    spread = max(e["mono"] for e in terms) - min(e["mono"] for e in terms)
    assert spread < 0.2, "the environments' SIGTERMs went out together"
    for term in terms:
        kill = next(k for k in kills if k["env"] == term["env"])
        assert 0.48 <= kill["mono"] - term["mono"] <= 0.8
    assert stop_took < 1.5, f"stopping three environments took {stop_took:.2f} s: not parallel"


def test_idle_timeout_reaps_each_environment_by_the_rules(ric312, tmp_path):
    env = {
        "MAX_CONCURRENCY": "2",
        "AWS_LAMBDA_FUNCTION_IDLETIMEOUT": "0.5",
        "FIXTURE_EXTENSION": "internal",
    }
    with start(ric312, tmp_path, **env) as sb:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda _: sb.invoke({"sleep": 0.3}), range(2)))
        deadline = time.monotonic() + 10
        while len(sb.of_kind("shutdown.end")) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        ends = sb.of_kind("shutdown.end")
        assert sorted(e["env"] for e in ends) == [0, 1]
        assert {e["reason"] for e in ends} == {"spindown"}
        assert sb.invoke({}).status == 200, "a reaped environment starts afresh"
        assert sb.stop() == 0


def test_extension_crash_fails_its_invocation_and_the_next_one_works(ric312, tmp_path):
    env = {"FIXTURE_EXTERNAL_MODE": "crash-on-invoke", "MAX_CONCURRENCY": "1"}
    with start(ric312, tmp_path, extensions=True, **env) as sb:
        first = sb.invoke({"sleep": 0.3})
        # The runtime may answer before the extension dies; either way the
        # environment is reset with reason failure and the next init is fresh.
        sb.wait_for(lambda e: e["kind"] == "shutdown.start", timeout=10)
        assert first.status == 200
        second = sb.invoke({"sleep": 0.3})
        assert second.status == 200
        assert sb.stop() == 0
        events = sb.events()
    reasons = [e["reason"] for e in events if e["kind"] == "shutdown.start"]
    assert reasons[0] == "failure"
    exits = [e for e in events if e["kind"] == "process.exit" and e["name"] == "fixture-external"]
    assert exits[0]["returncode"] == 7


def test_extension_that_never_calls_next_fails_init_within_the_limit(ric312, tmp_path):
    env = {"FIXTURE_EXTERNAL_MODE": "never-next", "LAMBDA_SANDBOX_INIT_TIMEOUT": "1"}
    with start(ric312, tmp_path, extensions=True, **env) as sb:
        began = time.monotonic()
        reply = sb.invoke({})
        assert time.monotonic() - began < 5
        assert reply.headers["X-Amz-Function-Error"] == "Unhandled"
        assert reply.json()["errorType"] == "Runtime.InitTimeout"
        assert sb.stop() == 0
    assert sb.of_kind("init.end")[0]["status"] == "timeout"
    end = sb.of_kind("shutdown.start")[0]
    assert (end["reason"], end["rule"]) == ("failure", "external")


def test_runtime_crash_during_init_is_reported_and_retried(ric312, tmp_path):
    with start(ric312, tmp_path, FIXTURE_INIT="fail") as sb:
        for _ in range(2):
            reply = sb.invoke({})
            assert reply.headers["X-Amz-Function-Error"] == "Unhandled"
        assert sb.stop() == 0
    assert [e["status"] for e in sb.of_kind("init.end")] == ["error", "error"]


def test_a_timeout_resets_only_its_own_environment(ric312, tmp_path):
    env = {"MAX_CONCURRENCY": "2", "AWS_LAMBDA_FUNCTION_TIMEOUT": "1"}
    with start(ric312, tmp_path, **env) as sb:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            slow = pool.submit(sb.invoke, {"sleep": 5})
            sb.wait_for(lambda e: e["kind"] == "invoke.start", timeout=20)
            fine = pool.submit(sb.invoke, {"sleep": 0.2})
            timed_out, answered = slow.result(timeout=30), fine.result(timeout=30)
        assert timed_out.json()["errorMessage"].endswith("Task timed out after 1.00 seconds")
        survivor = answered.json()["pid"]
        sb.wait_for(lambda e: e["kind"] == "shutdown.end", timeout=10)
        # The healthy environment is still warm: same runtime process.
        assert survivor in {sb.invoke({}).json()["pid"] for _ in range(3)}
        assert sb.stop() == 0
        events = sb.events()
    first = next(e for e in events if e["kind"] == "shutdown.start")
    assert first["reason"] == "timeout"
    others = [e for e in events if e["kind"] == "shutdown.start" and e["env"] != first["env"]]
    assert [e["reason"] for e in others] == ["spindown"], "the other one ended only at stop"


def test_oversized_response_is_refused_and_reported_to_the_invoker(ric312, tmp_path):
    with start(ric312, tmp_path) as sb:
        reply = sb.invoke({"big": 6 * 1024 * 1024 + 10})
        assert reply.status == 200
        assert reply.headers["X-Amz-Function-Error"] == "Unhandled"
        assert reply.json()["errorType"] == "Function.ResponseSizeTooLarge"
        assert sb.invoke({"after": 1}).status == 200
        assert sb.stop() == 0


def test_waiting_invokers_and_retrying_events_share_one_environment(ric312, tmp_path):
    # One environment, a queue of two: Event workers that find it full wait a
    # while and retry, invokers wait to be woken as it frees (one each time).
    # Every invoker is answered well within the sandbox's 900 s backstop, and
    # every accepted Event runs, once.
    with start(ric312, tmp_path, MAX_CONCURRENCY="1", LAMBDA_SANDBOX_QUEUE_LIMIT="2") as sb:
        events = [sb.invoke({"sleep": 0.05}, headers={"X-Amz-Invocation-Type": "Event"})
                  for _ in range(3)]  # fmt: skip
        assert [r.status for r in events] == [202] * 3
        began = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(lambda _: sb.invoke({"sleep": 0.05}), range(4)))
        assert time.monotonic() - began < 20
        assert {r.status for r in replies} <= {200, 429} and 200 in {r.status for r in replies}
        answered = sum(r.status == 200 for r in replies)
        # Every accepted Event ran too, once each.
        deadline = time.monotonic() + 20
        while len(sb.of_kind("invoke.end")) < 3 + answered and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(sb.of_kind("invoke.end")) == 3 + answered
        assert sb.stop() == 0
