"""The Invoke API's answer for each way an invocation can end, as Lambda gives it."""

from __future__ import annotations

import json
from typing import Optional

from lambda_sandbox.answers import answer_for, oversized_response_body
from lambda_sandbox.invocations import MAX_PAYLOAD_BYTES, InvokeResult
from lambda_sandbox.lifecycle_events import AnswerInvoker

REQUEST_ID = "8f5c2a1e-0000-4000-8000-000000000001"
NOW_S = 1704164645.678  # 2024-01-02T03:04:05.678Z


def answer(
    kind: str,
    error_type: Optional[str] = None,
    message: Optional[str] = None,
    runtime_body: bytes = b'{"ok": true}',
    function_error_type: Optional[str] = None,
    init_error_body: bytes = b'{"errorType": "Runtime.ImportModuleError"}',
) -> InvokeResult:
    return answer_for(
        AnswerInvoker(REQUEST_ID, kind, error_type, message),
        function_version="$LATEST",
        runtime_body=runtime_body,
        function_error_type=function_error_type,
        init_error_body=init_error_body,
        timeout_s=3.0,
        now_s=NOW_S,
    )


def test_a_response_is_the_runtime_body_with_the_executed_version() -> None:
    assert answer("response") == InvokeResult(
        200, b'{"ok": true}', {"X-Amz-Executed-Version": "$LATEST"}
    )


def test_a_function_error_is_200_with_the_runtime_body_marked_unhandled() -> None:
    result = answer("error", runtime_body=b'{"errorType": "ValueError"}')
    assert result == InvokeResult(
        200,
        b'{"errorType": "ValueError"}',
        {"X-Amz-Executed-Version": "$LATEST", "X-Amz-Function-Error": "Unhandled"},
    )


def test_an_error_the_runtime_calls_handled_is_marked_handled() -> None:
    result = answer("error", function_error_type="Handled")
    assert result.status == 200
    assert result.headers["X-Amz-Function-Error"] == "Handled"


def test_any_other_runtime_error_type_is_unhandled() -> None:
    assert answer("error", function_error_type="ValueError").headers["X-Amz-Function-Error"] == (
        "Unhandled"
    )


def test_an_init_error_answers_with_the_body_posted_to_init_error() -> None:
    result = answer("init-error")
    assert result.status == 200
    assert result.body == b'{"errorType": "Runtime.ImportModuleError"}'
    assert result.headers["X-Amz-Function-Error"] == "Unhandled"


def test_a_timeout_answers_with_lambdas_message_stamped_now() -> None:
    result = answer("timeout")
    assert result.status == 200
    assert result.headers == {
        "X-Amz-Executed-Version": "$LATEST",
        "X-Amz-Function-Error": "Unhandled",
    }
    assert json.loads(result.body) == {
        "errorMessage": f"2024-01-02T03:04:05.678Z {REQUEST_ID} Task timed out after 3.00 seconds"
    }


def test_a_failure_carries_the_machines_error_type_and_message() -> None:
    result = answer("failure", "Runtime.ExitError", "Runtime exited with error: exit status 1")
    assert result.status == 200
    assert result.headers["X-Amz-Function-Error"] == "Unhandled"
    assert result.body == (
        b'{"errorType": "Runtime.ExitError", '
        b'"errorMessage": "Runtime exited with error: exit status 1"}'
    )


def test_unavailable_is_a_service_error_not_a_function_error() -> None:
    result = answer("unavailable", "ServiceException", "the execution environment is shutting down")
    assert result.status == 500
    assert result.headers == {"X-Amzn-ErrorType": "ServiceException"}
    assert json.loads(result.body) == {
        "Type": "Service",
        "message": "the execution environment is shutting down",
    }


def test_unavailable_without_details_is_a_bare_service_exception() -> None:
    result = answer("unavailable")
    assert result.headers == {"X-Amzn-ErrorType": "ServiceException"}
    assert json.loads(result.body)["message"] == ""


def test_an_oversized_response_is_replaced_by_lambdas_size_error() -> None:
    assert json.loads(oversized_response_body(7_000_000)) == {
        "errorMessage": "Response payload size (7000000 bytes) exceeded maximum allowed "
        f"payload size ({MAX_PAYLOAD_BYTES} bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
