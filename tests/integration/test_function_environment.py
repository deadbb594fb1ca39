"""What the function sees of its environment, through the real sandbox and a real
runtime client: Lambda's documented variables, its own, and none of the sandbox's.

The fixture handler (tests/fixtures/fn/environ_app.py) returns ``os.environ`` as the
runtime client left it during the invocation, plus what it can import.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from harness.paths import FUNCTION_DIR
from harness.sandbox.running import RunningSandbox
from lambda_sandbox.config import SANDBOX_PREFIX, SANDBOX_VARIABLES

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

TRACE_ID = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0")
HANDLER = "environ_app.handler"

# The sandbox's settings, each given a value the function must never see.
SANDBOX_SETTINGS = {
    "AWS_LAMBDA_FUNCTION_TIMEOUT": "5",
    "AWS_LAMBDA_FUNCTION_IDLETIMEOUT": "600",
    "INVOKE_API_HOST": "127.0.0.1",
    "RUNTIME_API_HOST": "127.0.0.1",
    "LOG_LEVEL": "info",
    "MAX_CONCURRENCY": "1",
    "AMQP_USERNAME": "sandbox-user",
    "AMQP_PASSWORD": "sandbox-secret",
    "LAMBDA_SANDBOX_INIT_TIMEOUT": "10",
    "LAMBDA_SANDBOX_QUEUE_LIMIT": "5",
    "LAMBDA_SANDBOX_CLIENT_TIMEOUT": "60",
}
FUNCTION_SETTINGS = {"LAB_STRATEGY": "signal", "FIXTURE_OWN": "mine", "TZ": "Europe/Berlin"}


def invoke_twice(sb: RunningSandbox) -> Tuple[Dict[str, Any], Dict[str, Any], str]:
    first = sb.invoke({})
    given = "Root=1-5f35ae12-0c0fec141ab77a00bc047aa2;Parent=2be948a625588e32;Sampled=0"
    second = sb.invoke({}, headers={"X-Amzn-Trace-Id": given})
    assert first.status == 200 and second.status == 200, (first.body, second.body)
    return first.json(), second.json(), given


def check(seen: Dict[str, Any], sb: RunningSandbox) -> None:
    environ: Dict[str, str] = seen["environ"]
    leaked = sorted(n for n in environ if n in SANDBOX_VARIABLES or n.startswith(SANDBOX_PREFIX))
    assert leaked == [], "the sandbox's settings reached the function"
    assert "sandbox-secret" not in json.dumps(environ)
    assert str(sb.event_log) not in json.dumps(environ), "the event log's path reached it"
    assert "PYTHONPATH" not in environ, "the harness's PYTHONPATH held only the sandbox"
    assert not seen["sandbox_importable"] and not seen["harness_importable"]
    assert seen["sibling"] == "task root", "the function still imports its own modules"
    # The function's own variables, and its host basics.
    assert environ["LAB_STRATEGY"] == "signal" and environ["FIXTURE_OWN"] == "mine"
    assert environ["PATH"] == os.environ["PATH"] and environ["HOME"] == os.environ["HOME"]
    # Lambda's documented variables.
    expected = {
        "TZ": ":UTC",
        "LANG": os.environ.get("LANG", "en_US.UTF-8"),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "function",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/function",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "LAMBDA_TASK_ROOT": str(sb.env["LAMBDA_TASK_ROOT"]),
        "_HANDLER": HANDLER,
    }
    assert {name: environ.get(name) for name in expected} == expected
    assert environ["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert re.fullmatch(
        r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", environ["AWS_LAMBDA_LOG_STREAM_NAME"]
    )
    assert TRACE_ID.fullmatch(environ["_X_AMZN_TRACE_ID"]), environ["_X_AMZN_TRACE_ID"]


def run(python: Path, runtime_cmd: List[str], workdir: Path) -> None:
    env = {**SANDBOX_SETTINGS, **FUNCTION_SETTINGS}
    with RunningSandbox(python, runtime_cmd, workdir, env=env) as sb:
        first, second, given = invoke_twice(sb)
        assert sb.stop() == 0
    check(first, sb)
    check(second, sb)
    assert first["environ"]["_X_AMZN_TRACE_ID"] != second["environ"]["_X_AMZN_TRACE_ID"]
    assert second["environ"]["_X_AMZN_TRACE_ID"] == given, "the invoker's trace id is passed on"


def test_awslambdaric_function_sees_lambdas_variables_and_none_of_the_sandboxs(ric_python, workdir):
    _, python = ric_python
    run(python, [str(python), "-m", "awslambdaric", HANDLER], workdir)


def test_legacy_runtime_function_sees_lambdas_variables_and_none_of_the_sandboxs(workdir):
    # The pure-Python client runs as a script from function/; requests comes from
    # this interpreter's site-packages, the handler's modules from the task root.
    python = Path(sys.executable)
    run(python, [str(python), str(FUNCTION_DIR / "legacy_runtime.py"), HANDLER], workdir)
