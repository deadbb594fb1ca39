"""Invocation over AMQP on CPython 3.7, 3.8 and 3.12, through the command-line client.

The sandbox runs under each interpreter's venv (awslambdaric + pika) with
AMQP_URI set; `python -m lambda_sandbox.amqp_invoke` publishes the request and
prints the reply, as a person would use it. HTTP keeps serving alongside.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from support.amqp import amqp_python, deleting_queue, function_name, require_broker

from harness.paths import PROJECT_ROOT as ROOT
from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.amqp, pytest.mark.integration, pytest.mark.timeout(120)]


def client(python: Path, uri: str, *args: str) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [str(python), "-m", "lambda_sandbox.amqp_invoke", "--timeout", "20", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), "AMQP_URI": uri},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("version", ["3.7", "3.8", "3.12"], ids=lambda v: f"py{v}")
def test_invoke_over_amqp_with_the_command_line_client(version: str, workdir: Path) -> None:
    uri = require_broker()
    python = amqp_python(version)
    name = function_name()
    env = {"AMQP_URI": uri, "AWS_LAMBDA_FUNCTION_NAME": name}
    with deleting_queue(uri, name), RunningSandbox(
        python, [str(python), "-m", "awslambdaric", "app.handler"], workdir, env=env
    ) as sb:
        sb.wait_for(lambda e: e["kind"] == "amqp.connect", timeout=20)

        ok = client(python, uri, "--function", name, '{"key": "value"}')
        assert ok.returncode == 0, ok.stderr
        answer = json.loads(ok.stdout)
        assert answer["echo"] == {"key": "value"}
        assert answer["remaining_ms"] > 0

        context = client(
            python, uri, "-v", "--function", name, "--client-context", '{"custom": {"a": 1}}'
        )
        assert context.returncode == 0, context.stderr
        assert json.loads(context.stdout)["client_custom"] == {"a": 1}
        assert "< X-Amz-Executed-Version: $LATEST" in context.stderr

        failed = client(python, uri, "--function", name, '{"raise": "boom"}')
        assert failed.returncode == 1, failed.stderr
        assert "< X-Amz-Function-Error: Unhandled" in failed.stderr
        error = json.loads(failed.stdout)
        assert (error["errorType"], error["errorMessage"]) == ("ValueError", "boom")

        assert sb.invoke({"over": "http"}).json()["echo"] == {"over": "http"}, "HTTP serves too"

        missing = client(python, uri, "--function", name + "-nobody", "{}")
        assert missing.returncode == 3 and "no queue" in missing.stderr

        assert sb.stop() == 0
    invokes = sb.of_kind("amqp.invoke")
    replies = sb.of_kind("amqp.reply")
    assert len(invokes) == len(replies) == 3
    assert [r["function_error"] for r in replies] == [None, None, "Unhandled"]
    assert {i["request_id"] for i in invokes} == {r["request_id"] for r in replies}
    assert sb.of_kind("amqp.stop"), "the consumer stops with the sandbox"
    assert len(sb.of_kind("init.start")) == 1, "one warm environment served AMQP and HTTP"
