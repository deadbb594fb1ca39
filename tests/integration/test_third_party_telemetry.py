"""Third-party extension code, unmodified, against the sandbox's Logs API: AWS's
sample (examples/aws-logs-api-extension, aws-samples/aws-lambda-extensions at
5c47980) subscribes during init, listens on sandbox:4243 and prints every batch
it receives. The lab gives it only what Lambda's environment has: a `python` on
PATH, and the names sandbox / sandbox.localdomain (scripts/sandbox-hosts.sh).
"""

from __future__ import annotations

import ast
import os
import socket
from pathlib import Path
from typing import Any, Dict, List

import pytest
from support.interpreters import awslambdaric_python
from support.skips import unavailable

from harness.paths import PROJECT_ROOT
from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

LOGS_SAMPLE = PROJECT_ROOT / "examples" / "aws-logs-api-extension"
SAMPLE_PORT = 4243


def require_sandbox_names() -> None:
    for name in ("sandbox", "sandbox.localdomain"):
        try:
            socket.getaddrinfo(name, None)
        except OSError:
            unavailable(f"{name} does not resolve here: run scripts/sandbox-hosts.sh")


def batches(output: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The events of every 'BATCH RECEIVED: [...]' line the sample printed."""
    found: List[Dict[str, Any]] = []
    for event in output:
        line = event["line"]
        if line.startswith("BATCH RECEIVED: "):
            found.extend(ast.literal_eval(line[len("BATCH RECEIVED: ") :]))
    return found


def test_aws_logs_api_sample_receives_the_invocation_unmodified(tmp_path: Path) -> None:
    require_sandbox_names()
    python = awslambdaric_python("3.12")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "run").mkdir()
    (bin_dir / "python").symlink_to(python)  # the sample runs `exec python`
    runtime = [str(python), "-m", "awslambdaric", "lambda_function.lambda_handler"]
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    with RunningSandbox(
        python,
        runtime,
        tmp_path / "run",
        env=env,
        task_root=LOGS_SAMPLE / "hello-world",
        extensions_dir=LOGS_SAMPLE / "extensions",
    ) as sb:
        first = sb.invoke({})
        second = sb.invoke({})
        assert first.status == second.status == 200, first.body
        request_ids = [r.headers["X-Amzn-RequestId"] for r in (first, second)]
        assert sb.stop() == 0
    (subscribed,) = [e for e in sb.events() if e["kind"] == "telemetry.subscribe"]
    assert subscribed["name"] == "logs_api_http_extension.py" and subscribed["api"] == "logs"
    printed = [e for e in sb.events() if e["kind"] == "output" and e["role"] == "extension"]
    received = batches(printed)
    # The first invocation's records reached the sample during the second one,
    # and the second's before SHUTDOWN: the sample printed both.
    for request_id in request_ids:
        shapes = [e["type"] for e in received if e["record"] == {"requestId": request_id}
                  or (isinstance(e["record"], dict) and e["record"].get("requestId") == request_id)]  # fmt: skip
        assert shapes == ["platform.start", "platform.end", "platform.report"], (request_id, shapes)
    lines = [e["record"] for e in received if e["type"] == "function"]
    assert lines.count("Inside Lambda function handler") == 2
    assert "platform.logsSubscription" in [e["type"] for e in received]
