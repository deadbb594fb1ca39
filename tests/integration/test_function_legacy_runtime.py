"""function/legacy_runtime.py: pure parts in-process, the loop against a fake Runtime API.

The runtime needs ``requests``, so the real-process tests run it on the host
interpreter (the images install requests for 3.7/3.8/3.12 themselves).
"""

from __future__ import annotations

import json
import signal
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Dict, Iterator

import pytest
from support.fakes import (
    CLEANUP_FINISHED,
    CLEANUP_STARTED,
    FUNCTION_DIR,
    ChildProcess,
    FakeLambdaApi,
    child_env,
    load_function_module,
)

pytest.importorskip("requests", reason="legacy_runtime.py is built on requests")

LEGACY = FUNCTION_DIR / "legacy_runtime.py"


@pytest.fixture(scope="module")
def lr() -> ModuleType:
    return load_function_module("legacy_runtime")


@pytest.fixture
def task_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    yield tmp_path


# --- pure parts ---------------------------------------------------------------------


def test_parse_handler(lr: ModuleType) -> None:
    assert lr.parse_handler("app.handler") == ("app", "handler")
    assert lr.parse_handler("pkg/mod.fn") == ("pkg.mod", "fn")
    with pytest.raises(lr.FaultError) as bad:
        lr.parse_handler("handler")
    assert bad.value.error_type == "Runtime.MalformedHandlerName"


@pytest.mark.parametrize(
    ("source", "handler", "error_type", "message"),
    [
        (
            None,
            "lab_absent_module.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'lab_absent_module'",
        ),
        (
            "x = 1\n",
            "lab_no_handler.handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'lab_no_handler'",
        ),
        (
            "def handler(:\n",
            "lab_bad_syntax.handler",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'lab_bad_syntax'",
        ),
        (None, "sys.handler", "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys"),
    ],
)
def test_load_handler_faults(
    lr: ModuleType, task_root: Path, source: str, handler: str, error_type: str, message: str
) -> None:
    if source is not None:
        (task_root / (handler.split(".")[0] + ".py")).write_text(source)
    with pytest.raises(lr.FaultError) as fault:
        lr.load_handler(handler)
    assert fault.value.error_type == error_type
    assert message in fault.value.message


def test_error_payload_has_the_frames_as_strings(lr: ModuleType) -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        payload = lr.error_payload(exc)
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "boom"
    assert isinstance(payload["stackTrace"], list) and payload["stackTrace"]
    assert all(isinstance(frame, str) for frame in payload["stackTrace"])
    assert "test_error_payload_has_the_frames_as_strings" in payload["stackTrace"][-1]
    log = lr.format_error_log(payload)
    assert log.splitlines()[:2] == [
        "[ERROR] ValueError: boom",
        "Traceback (most recent call last):",
    ]


def test_marshal_error(lr: ModuleType) -> None:
    assert lr.marshal({"a": [1]}) == b'{"a": [1]}'
    with pytest.raises(lr.FaultError) as fault:
        lr.marshal(object())
    assert fault.value.error_type == "Runtime.MarshalError"


def test_parse_invocation_and_context(lr: ModuleType) -> None:
    headers = {
        "lambda-runtime-aws-request-id": "req-1",  # any case: HTTP headers
        "Lambda-Runtime-Deadline-Ms": "10000",
        "Lambda-Runtime-Invoked-Function-Arn": "arn:fn",
        "Lambda-Runtime-Trace-Id": "Root=1",
        "Lambda-Runtime-Client-Context": json.dumps(
            {"client": {"app_title": "t"}, "custom": {"k": "v"}, "env": {"e": "1"}}
        ),
        "Lambda-Runtime-Cognito-Identity": json.dumps(
            {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
        ),
    }
    invocation = lr.parse_invocation(headers, b"{}")
    assert (invocation.request_id, invocation.deadline_ms, invocation.trace_id) == (
        "req-1",
        10000,
        "Root=1",
    )
    env: Dict[str, str] = {
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
        "AWS_LAMBDA_LOG_STREAM_NAME": "stream",
    }
    now = [4.0]  # seconds
    context = lr.LambdaContext(invocation, env, clock=lambda: now[0])
    assert context.aws_request_id == "req-1"
    assert context.invoked_function_arn == "arn:fn"
    assert (context.function_name, context.function_version) == ("fn", "$LATEST")
    assert context.memory_limit_in_mb == "128"
    assert (context.log_group_name, context.log_stream_name) == ("/aws/lambda/fn", "stream")
    assert context.client_context.client.app_title == "t"
    assert context.client_context.custom == {"k": "v"}
    assert context.identity.cognito_identity_id == "id-1"
    assert context.identity.cognito_identity_pool_id == "pool-1"
    assert context.get_remaining_time_in_millis() == 6000
    now[0] = 11.0
    assert context.get_remaining_time_in_millis() == 0


def test_invocation_without_request_id_is_a_fault(lr: ModuleType) -> None:
    with pytest.raises(lr.FaultError):
        lr.parse_invocation({}, b"{}")


# --- the loop, for real ----------------------------------------------------------


def start_runtime(api: FakeLambdaApi, handler: str, task_root: Path, **env: str) -> ChildProcess:
    return ChildProcess(
        [sys.executable, str(LEGACY), handler],
        child_env(
            AWS_LAMBDA_RUNTIME_API=api.address,
            LAMBDA_TASK_ROOT=str(task_root),
            AWS_LAMBDA_FUNCTION_NAME="fn",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
            PYTHONPATH="",
            **env,
        ),
        cwd=task_root,
    )


@pytest.mark.integration
def test_invocation_gets_event_and_context_and_result_is_posted(tmp_path: Path) -> None:
    (tmp_path / "ctx_app.py").write_text(
        textwrap.dedent("""
        import os
        def handler(event, context):
            return {
                "event": event,
                "request_id": context.aws_request_id,
                "function_name": context.function_name,
                "memory": context.memory_limit_in_mb,
                "remaining_positive": context.get_remaining_time_in_millis() > 0,
                "trace": os.environ.get("_X_AMZN_TRACE_ID"),
            }
    """)
    )
    with FakeLambdaApi() as api, start_runtime(api, "ctx_app.handler", tmp_path) as runtime:
        request_id = api.invoke({"hello": "world"})
        response = api.wait_call("response", where=lambda c: c.key == request_id)
        assert response.json() == {
            "event": {"hello": "world"},
            "request_id": request_id,
            "function_name": "fn",
            "memory": "256",
            "remaining_positive": True,
            "trace": "Root=1-00000000-000000000000000000000000",
        }
        assert runtime.alive()


@pytest.mark.integration
def test_handler_exception_is_posted_as_invocation_error() -> None:
    with FakeLambdaApi() as api, start_runtime(
        api, "app.error_handler", FUNCTION_DIR, LAB_STRATEGY="none", LAB_EXTENSION="none"
    ) as runtime:
        request_id = api.invoke({})
        error = api.wait_call("error", where=lambda c: c.key == request_id)
        body = error.json()
        assert (body["errorType"], body["errorMessage"]) == ("ValueError", "boom")
        assert any("error_handler" in frame for frame in body["stackTrace"])
        assert error.headers["Lambda-Runtime-Function-Error-Type"] == "ValueError"
        runtime.wait_for("[ERROR] ValueError: boom")


@pytest.mark.integration
def test_import_failure_is_posted_as_init_error(tmp_path: Path) -> None:
    with FakeLambdaApi() as api, start_runtime(api, "absent_module.handler", tmp_path) as runtime:
        assert runtime.wait_exit(timeout=20) == 1
        error = api.wait_call("init-error")
        assert error.json()["errorType"] == "Runtime.ImportModuleError"
        assert error.headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.ImportModuleError"
        assert api.calls("runtime-next") == []


@pytest.mark.integration
def test_plain_signal_handler_runs_while_idle_in_next() -> None:
    # The python3.7-style client waits for `next` in Python code on the main
    # thread, so the AWS-sample strategy works here (unlike under awslambdaric).
    with FakeLambdaApi() as api, start_runtime(
        api, "app.handler", FUNCTION_DIR, LAB_STRATEGY="signal", LAB_EXTENSION="internal"
    ) as runtime:
        api.wait_call("register")
        request_id = api.invoke({"n": 1})
        assert api.wait_call("response", where=lambda c: c.key == request_id).json() == {"n": 1}
        runtime.wait_for(f"[handler] invoked request_id={request_id}")
        api.wait_count("runtime-next", 2)  # result posted; idle in `next` again
        runtime.signal(signal.SIGTERM)
        runtime.wait_for(CLEANUP_STARTED, timeout=5)
        runtime.wait_for(CLEANUP_FINISHED, timeout=5)
        assert runtime.wait_exit(timeout=10) == 0
