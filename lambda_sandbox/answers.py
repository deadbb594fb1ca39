"""What the invoker gets back: an InvokeResult built from how the invocation went.

Pure: the machine says how it went (``AnswerInvoker``), the environment
passes what it holds (the runtime's body, the init error body, the clock),
and these functions decide the status, body and headers as Lambda does.
"""

from __future__ import annotations

from typing import Dict, Optional

from lambda_sandbox.console import iso_timestamp, timed_out_message
from lambda_sandbox.invocations import MAX_PAYLOAD_BYTES, InvokeResult, service_error, to_json
from lambda_sandbox.lifecycle_events import AnswerInvoker


def _version(function_version: str) -> Dict[str, str]:
    return {"X-Amz-Executed-Version": function_version}


def _function_error(function_version: str, kind: str) -> Dict[str, str]:
    return dict(_version(function_version), **{"X-Amz-Function-Error": kind})


def oversized_response_body(size: int) -> bytes:
    """The error body that replaces a runtime response over Lambda's 6 MB limit."""
    return to_json(
        {
            "errorMessage": f"Response payload size ({size} bytes) exceeded maximum "
            f"allowed payload size ({MAX_PAYLOAD_BYTES} bytes).",
            "errorType": "Function.ResponseSizeTooLarge",
        }
    )


def answer_for(
    action: AnswerInvoker,
    *,
    function_version: str,
    runtime_body: bytes,
    function_error_type: Optional[str],
    init_error_body: bytes,
    timeout_s: float,
    now_s: float,
) -> InvokeResult:
    """The Invoke API's answer for ``action.kind`` (see ``AnswerInvoker``).

    ``runtime_body`` and ``function_error_type`` are what the runtime posted
    for this invocation; ``init_error_body`` what it posted to init/error;
    ``now_s`` (epoch seconds) stamps a timeout's message.
    """
    version = _version(function_version)
    unhandled = _function_error(function_version, "Unhandled")
    if action.kind == "response":
        return InvokeResult(200, runtime_body, version)
    if action.kind == "error":
        # "Handled" only when the runtime says so (a legacy Node.js notion);
        # errors awslambdaric reports are unhandled.
        if function_error_type == "Handled":
            return InvokeResult(200, runtime_body, _function_error(function_version, "Handled"))
        return InvokeResult(200, runtime_body, unhandled)
    if action.kind == "init-error":
        return InvokeResult(200, init_error_body, unhandled)
    if action.kind == "timeout":
        message = timed_out_message(iso_timestamp(now_s), action.request_id, timeout_s)
        return InvokeResult(200, to_json({"errorMessage": message}), unhandled)
    if action.kind == "failure":
        body = {"errorType": action.error_type, "errorMessage": action.message}
        return InvokeResult(200, to_json(body), unhandled)
    # "unavailable": the sandbox is stopping; an error of the service, not the function.
    return service_error(500, action.error_type or "ServiceException", action.message or "")
