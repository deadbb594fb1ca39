"""The Invoke API (POST /2015-03-31/functions/{name}/invocations) as a thin
HTTP shell: it validates the request as Lambda does, hands an Invocation to
the Sandbox and writes back what the Sandbox answers. An invoke is answered on
the HTTP loop's thread (``InvokeRoutes``); a Tail invoke, every other route
and anything unusual by the threaded handler (``InvokeApiHandler``)."""

from __future__ import annotations

import base64
import json
import re
from typing import TYPE_CHECKING, Callable, Optional, Tuple, Union
from urllib.parse import unquote

from lambda_sandbox.config import Config
from lambda_sandbox.header_values import client_context_header, trace_id_header
from lambda_sandbox.http_common import BadBody, BodyTooLarge, Handler
from lambda_sandbox.http_connection import Connection, FastRoutes, Request
from lambda_sandbox.http_request import Fields
from lambda_sandbox.invocations import (
    MAX_ASYNC_PAYLOAD_BYTES,
    MAX_PAYLOAD_BYTES,
    Invocation,
    InvokeResult,
    LogTail,
    new_request_id,
    new_trace_id,
    service_error,
)

if TYPE_CHECKING:
    from lambda_sandbox.pool import Sandbox

INVOKE_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
LOG_TYPES = ("None", "Tail")
TAIL_WAIT_S = 2.0
# Media types that cannot carry a JSON document. Anything else (none at all,
# application/json, curl's form default, octet-stream from SDKs) is parsed.
NON_JSON_MEDIA_TYPES = ("multipart/", "image/", "audio/", "video/", "font/")


def function_name_matches(requested: str, configured: str) -> bool:
    """The configured name, RIE's ``function``, or an ARN / ``name:qualifier`` naming it."""
    name = unquote(requested)
    if name.startswith("arn:"):
        parts = name.split(":")
        # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
        if len(parts) < 7 or parts[5] != "function":
            return False
        name = parts[6]
    else:
        name = name.split(":", 1)[0]
    return name in (configured, "function")


class InvokeApiHandler(Handler):
    @property
    def sandbox(self) -> Sandbox:
        return self.server.context  # type: ignore[no-any-return]

    def do_POST(self) -> None:
        self.reply(self._invoke())

    def do_GET(self) -> None:
        self._not_supported()

    def do_PUT(self) -> None:
        self._not_supported()

    def do_DELETE(self) -> None:
        self._not_supported()

    def _not_supported(self) -> None:
        path = self.path.split("?", 1)[0]
        if INVOKE_PATH.fullmatch(path):
            self.reply(
                service_error(405, "MethodNotAllowedException", "use POST to invoke a function")
            )
        else:
            self.reply(_unknown_operation(path))

    def reply(self, result: InvokeResult) -> None:
        self.send(result.status, result.body, result.headers)

    def _invoke(self) -> InvokeResult:
        checked = check_invoke(self.path, self.headers, self.read_body, self.sandbox.config)
        if isinstance(checked, InvokeResult):
            return checked
        invocation, invocation_type, log_type = checked
        early = answer_without_running(self.sandbox, invocation, invocation_type)
        if early is not None:
            return early
        if log_type != "Tail":
            return with_request_id(self.sandbox.invoke(invocation), invocation)
        invocation.tailed()
        result = with_request_id(self.sandbox.invoke(invocation), invocation)
        if result.status != 200:
            return result
        assert invocation.ended is not None and invocation.log_lines is not None
        # Lambda's tail ends with the END and REPORT lines, written once the
        # runtime is back at next: wait for that, briefly.
        invocation.ended.wait(TAIL_WAIT_S)
        headers = dict(result.headers)
        headers["X-Amz-Log-Result"] = tail_log(invocation.log_lines)
        return InvokeResult(result.status, result.body, headers)


class InvokeRoutes(FastRoutes):
    """What the loop answers itself: an invoke without a Tail log (a Tail waits
    for the END and REPORT lines after the answer: the threaded handler does
    that). The checks and answers are ``InvokeApiHandler``'s (``check_invoke``)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def body_limit(self, command: str, path: str, fields: Fields) -> Optional[int]:
        if command != "POST" or INVOKE_PATH.fullmatch(path) is None:
            return None
        if fields.get("X-Amz-Log-Type") == "Tail":
            return None
        return MAX_PAYLOAD_BYTES

    def serve(self, request: Request, exchange: Connection) -> None:
        checked = check_invoke(
            request.path, request.fields, lambda limit: request.body, self.sandbox.config
        )
        if isinstance(checked, InvokeResult):
            _reply(exchange, checked)
            return
        invocation, invocation_type, _ = checked
        early = answer_without_running(self.sandbox, invocation, invocation_type)
        if early is not None:
            _reply(exchange, early)
            return
        self.sandbox.submit(
            invocation, lambda result: _reply(exchange, with_request_id(result, invocation))
        )


def _reply(exchange: Connection, result: InvokeResult) -> None:
    exchange.reply(result.status, result.body, result.headers)


def check_invoke(
    target: str, headers: Fields, read_body: Callable[[int], bytes], config: Config
) -> Union[InvokeResult, Tuple[Invocation, str, str]]:
    """An invoke request checked as Lambda checks it: its refusal, or the invocation
    with its invocation type and log type. ``read_body(limit)`` gives the body
    (BodyTooLarge, BadBody)."""
    path = target.split("?", 1)[0]
    match = INVOKE_PATH.fullmatch(path)
    if match is None:
        return _unknown_operation(path)
    if not function_name_matches(match.group(1), config.function_name):
        return service_error(
            404,
            "ResourceNotFoundException",
            f"Function not found: arn:aws:lambda:{config.region}:000000000000:function:{unquote(match.group(1))}",
        )
    invocation_type = headers.get("X-Amz-Invocation-Type", "RequestResponse")
    log_type = headers.get("X-Amz-Log-Type", "None")
    if log_type not in LOG_TYPES:
        return service_error(
            400, "InvalidParameterValueException", "X-Amz-Log-Type must be None or Tail"
        )
    if invocation_type not in INVOCATION_TYPES:
        return service_error(
            400,
            "InvalidParameterValueException",
            "X-Amz-Invocation-Type must be one of {}".format(", ".join(INVOCATION_TYPES)),
        )
    try:
        payload = read_body(MAX_PAYLOAD_BYTES)
    except BodyTooLarge as too_large:
        return service_error(
            413,
            "RequestTooLargeException",
            f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation "
            f"(got {too_large.size})",
        )
    except BadBody as bad:
        return service_error(bad.status, "InvalidRequestContentException", str(bad))
    media_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media_type.startswith(NON_JSON_MEDIA_TYPES):
        return service_error(
            415,
            "UnsupportedMediaTypeException",
            f"The content type of the Invoke request body is not JSON ({media_type}).",
        )
    if not payload.strip():
        payload = b"{}"
    try:
        json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return service_error(
            400,
            "InvalidRequestContentException",
            f"Could not parse request body into json: {exc}",
        )
    try:
        client_context = _client_context(headers.get("X-Amz-Client-Context"))
    except ValueError as exc:
        return service_error(400, "InvalidRequestContentException", str(exc))
    invocation = Invocation(
        request_id=new_request_id(),
        payload=payload,
        client_context=client_context,
        # A caller that traces passes its header on, as through Lambda.
        trace_id=trace_id_header(headers.get("X-Amzn-Trace-Id")) or new_trace_id(),
    )
    return invocation, invocation_type, log_type


def answer_without_running(
    sandbox: Sandbox, invocation: Invocation, invocation_type: str
) -> Optional[InvokeResult]:
    """The answer of a DryRun, or of an Event (queued, or refused); None for a
    RequestResponse invocation, which runs."""
    if invocation_type == "DryRun":
        return InvokeResult(204, b"", {"X-Amzn-RequestId": invocation.request_id})
    if invocation_type != "Event":
        return None
    if len(invocation.payload) > MAX_ASYNC_PAYLOAD_BYTES:
        return service_error(
            413,
            "RequestTooLargeException",
            f"Request must be smaller than {MAX_ASYNC_PAYLOAD_BYTES} bytes for an "
            f"asynchronous invocation (got {len(invocation.payload)})",
        )
    refused = sandbox.invoke_later(invocation)
    if refused is not None:
        return refused
    return InvokeResult(202, b"", {"X-Amzn-RequestId": invocation.request_id})


def with_request_id(result: InvokeResult, invocation: Invocation) -> InvokeResult:
    if "X-Amzn-RequestId" in result.headers:
        return result
    headers = dict(result.headers)
    headers["X-Amzn-RequestId"] = invocation.request_id
    return InvokeResult(result.status, result.body, headers)


def tail_log(lines: LogTail) -> str:
    """The last 4 KB of an invocation's log, base64 (X-Amz-Log-Result)."""
    return base64.b64encode(lines.last_bytes()).decode("ascii")


def _client_context(raw: Optional[str]) -> Optional[str]:
    """X-Amz-Client-Context is base64 JSON; the runtime gets it decoded, on one line."""
    if not raw:
        return None
    return client_context_header(raw)


def _unknown_operation(path: str) -> InvokeResult:
    return service_error(404, "UnknownOperationException", f"Unknown operation {path}")
