"""Real clients against the sandbox: boto3, the AWS CLI (v1, from PyPI) and curl.

They must get exactly what Lambda would give them: botocore parses each of
our errors into the right exception class, and the seed's own command lines
work unchanged.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import pytest
from support.skips import unavailable

from harness.sandbox.running import RunningSandbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

boto3 = pytest.importorskip("boto3", reason="boto3 is in requirements.txt; run through tox")
from botocore.config import Config as BotoConfig  # noqa: E402

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def ric312() -> Tuple[str, Path]:
    from support.interpreters import awslambdaric_python

    return "3.12", awslambdaric_python("3.12")


def start(ric: Tuple[str, Path], workdir: Path, **env: str) -> RunningSandbox:
    _, python = ric
    return RunningSandbox(
        python, [str(python), "-m", "awslambdaric", "app.handler"], workdir, env=env
    )


@pytest.fixture
def sandbox(ric312: Tuple[str, Path], tmp_path: Path) -> Iterator[RunningSandbox]:
    with start(ric312, tmp_path, AWS_LAMBDA_FUNCTION_NAME="my-function") as sb:
        yield sb
        assert sb.stop() == 0


def client(sb: RunningSandbox) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=f"http://{sb.invoke_api}",
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=BotoConfig(retries={"max_attempts": 1}, read_timeout=30),
    )


def read(response: Dict[str, Any]) -> Any:
    return json.loads(response["Payload"].read())


# ------------------------------------------------------------------- boto3


def test_boto3_request_response_on_both_names(sandbox):
    lam = client(sandbox)
    for name in ("function", "my-function"):
        response = lam.invoke(FunctionName=name, Payload=json.dumps({"key": "value"}))
        assert response["StatusCode"] == 200
        assert response["ExecutedVersion"] == "$LATEST"
        assert "FunctionError" not in response
        assert read(response)["echo"] == {"key": "value"}


def test_boto3_function_error_is_unhandled(sandbox):
    response = client(sandbox).invoke(FunctionName="function", Payload=b'{"raise": "nope"}')
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert read(response)["errorType"] == "ValueError"


def test_boto3_tail_log_has_this_invocations_lines(sandbox):
    response = client(sandbox).invoke(FunctionName="function", Payload=b"{}", LogType="Tail")
    request_id = read(response)["request_id"]
    log = base64.b64decode(response["LogResult"]).decode()
    assert f"START RequestId: {request_id}" in log
    assert f"[fixture] invoked {request_id}" in log
    assert f"REPORT RequestId: {request_id}" in log.splitlines()[-1]


def test_boto3_event_and_dry_run(sandbox):
    lam = client(sandbox)
    assert lam.invoke(FunctionName="function", InvocationType="DryRun")["StatusCode"] == 204
    accepted = lam.invoke(
        FunctionName="function", InvocationType="Event", Payload=b'{"async": true}'
    )
    assert accepted["StatusCode"] == 202
    ended = sandbox.wait_for(lambda e: e["kind"] == "invoke.end", timeout=20)
    assert ended["status"] == "success", "the Event invocation ran later"


def test_boto3_client_context_reaches_the_runtime(sandbox):
    context = base64.b64encode(json.dumps({"custom": {"tenant": "t1"}}).encode()).decode()
    response = client(sandbox).invoke(FunctionName="function", ClientContext=context)
    assert read(response)["client_custom"] == {"tenant": "t1"}


def test_boto3_parses_every_service_error(sandbox):
    lam = client(sandbox)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="other-function", Payload=b"{}")
    with pytest.raises(lam.exceptions.RequestTooLargeException):
        lam.invoke(FunctionName="function", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName="function", Payload=b"{broken")
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName="function", Payload=b"{}", ClientContext="not base64 json!")


def test_boto3_too_many_requests_past_concurrency_and_queue(ric312, tmp_path):
    env = {"MAX_CONCURRENCY": "1", "LAMBDA_SANDBOX_QUEUE_LIMIT": "0"}
    with start(ric312, tmp_path, **env) as sb:
        lam = client(sb)
        slow = threading.Thread(
            target=lam.invoke, kwargs={"FunctionName": "function", "Payload": b'{"sleep": 2}'}
        )
        slow.start()
        sb.wait_for(lambda e: e["kind"] == "invoke.start", timeout=20)
        with pytest.raises(lam.exceptions.TooManyRequestsException):
            lam.invoke(FunctionName="function", Payload=b"{}")
        slow.join(timeout=30)
        assert lam.invoke(FunctionName="function", Payload=b"{}")["StatusCode"] == 200
        assert sb.stop() == 0


# ---------------------------------------------------------- AWS CLI, curl


def aws_cli() -> str:
    found = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
    if found is None:
        unavailable("the AWS CLI is not installed (awscli in requirements.txt; run through tox)")
    return found


def test_aws_cli_seed_command_line(sandbox, tmp_path):
    # The seed's command, less --cli-binary-format (AWS CLI v2 only): v1 sends
    # the payload as given.
    env = {**os.environ, **CREDENTIALS, "AWS_CONFIG_FILE": str(tmp_path / "none")}
    for name in ("function", "my-function"):
        out = tmp_path / f"{name}.json"
        result = subprocess.run(
            [
                aws_cli(),
                "lambda",
                "invoke",
                "--endpoint-url",
                f"http://{sandbox.invoke_api}",
                "--function-name",
                name,
                "--payload",
                '{"key": "value"}',
                str(out),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["StatusCode"] == 200
        assert json.loads(out.read_text())["echo"] == {"key": "value"}


def test_curl_seed_command_line(sandbox):
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl is missing (.ci/run installs it)")
    for name in ("function", "my-function"):
        url = f"http://{sandbox.invoke_api}/2015-03-31/functions/{name}/invocations"
        result = subprocess.run(
            [curl, "-sS", "-XPOST", url, "-d", '{"key": "value"}'],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["echo"] == {"key": "value"}
