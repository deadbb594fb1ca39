"""The Runtime API and the Extensions API, on one port, as thin HTTP shells
around one execution environment's driver (which owns the rules)."""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any, Dict, List, Tuple

from lambda_sandbox.http_common import BadBody, BodyTooLarge, Handler
from lambda_sandbox.invocations import MAX_PAYLOAD_BYTES
from lambda_sandbox.lifecycle import Refused
from lambda_sandbox.telemetry_subscription import LOGS, TELEMETRY

if TYPE_CHECKING:
    from lambda_sandbox.environment import ExecutionEnvironment

RUNTIME = "/2018-06-01/runtime"
EXTENSION = "/2020-01-01/extension"
SMALL_BODY_BYTES = 1024 * 1024  # error reports and registrations


class RuntimeApiHandler(Handler):
    @property
    def environment(self) -> ExecutionEnvironment:
        return self.server.context  # type: ignore[attr-defined, no-any-return]

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        for route_method, pattern, name in ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if method != route_method:
                self._error(405, "MethodNotAllowed", f"{method} is not allowed on {path}")
                return
            try:
                getattr(self, name)(*match.groups())
            except Refused as refused:
                self._error(refused.status, refused.error_type, refused.message)
            except BodyTooLarge as too_large:
                self._error(
                    413, "RequestEntityTooLarge", f"body of {too_large.size} bytes is too large"
                )
            except BadBody as bad:
                self._error(bad.status, "InvalidRequestFormat", str(bad))
            return
        self._error(404, "NotFound", f"no such endpoint: {path}")

    def _error(self, status: int, error_type: str, message: str) -> None:
        self.send_json(status, {"errorType": error_type, "errorMessage": message})

    def _accepted(self) -> None:
        self.send_json(202, {"status": "OK"})

    # ------------------------------------------------------------ runtime

    def runtime_next(self) -> None:
        delivery = self.environment.runtime_next(self.client_gone)
        if delivery is None:
            self.close_connection = True
            self._error(500, "Sandbox.EnvironmentReset", "the execution environment was reset")
            return
        invocation = delivery.invocation
        headers = {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(delivery.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": delivery.function_arn,
            "Lambda-Runtime-Trace-Id": invocation.trace_id,
        }
        if invocation.client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = invocation.client_context
        if invocation.cognito_identity is not None:
            headers["Lambda-Runtime-Cognito-Identity"] = invocation.cognito_identity
        self.send(200, invocation.payload, headers)

    def runtime_response(self, request_id: str) -> None:
        try:
            body = self.read_body(MAX_PAYLOAD_BYTES)
        except BodyTooLarge as too_large:
            # The invoker still gets Lambda's answer for an oversized response.
            self.environment.runtime_response(request_id, b"", oversized=too_large.size)
            raise
        self.environment.runtime_response(request_id, body)
        self._accepted()

    def runtime_error(self, request_id: str) -> None:
        body = self.read_body(SMALL_BODY_BYTES)
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        self.environment.runtime_error(request_id, _error_body(body), error_type)
        self._accepted()

    def runtime_init_error(self) -> None:
        body = self.read_body(SMALL_BODY_BYTES)
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type") or _error_type(body)
        self.environment.runtime_init_error(_error_body(body), error_type)
        self._accepted()

    # ---------------------------------------------------------- extension

    def extension_register(self) -> None:
        name = self.headers.get("Lambda-Extension-Name", "").strip()
        if not name:
            raise Refused(
                403, "Extension.InvalidExtensionName", "missing header Lambda-Extension-Name"
            )
        events = _parse_events(self.read_body(SMALL_BODY_BYTES))
        extension_id = self.environment.register_extension(name, events)
        config = self.environment.config
        self.send_json(
            200,
            {
                "functionName": config.function_name,
                "functionVersion": config.function_version,
                "handler": self.environment.runtime_cmd[-1] if self.environment.runtime_cmd else "",
            },
            {"Lambda-Extension-Identifier": extension_id},
        )

    def extension_next(self) -> None:
        extension_id = self._extension_id()
        event = self.environment.extension_next(extension_id, self.client_gone)
        if event is None:
            self.close_connection = True
            self._error(500, "Sandbox.EnvironmentReset", "the execution environment was reset")
            return
        self.send_json(200, event, {"Lambda-Extension-Event-Identifier": str(uuid.uuid4())})

    def extension_init_error(self) -> None:
        extension_id = self._extension_id()
        self.read_body(SMALL_BODY_BYTES)
        self.environment.extension_init_error(extension_id, self._function_error_type())
        self._accepted()

    def extension_exit_error(self) -> None:
        extension_id = self._extension_id()
        self.read_body(SMALL_BODY_BYTES)
        self.environment.extension_exit_error(extension_id, self._function_error_type())
        self._accepted()

    def telemetry_subscribe(self) -> None:
        self._subscribe(TELEMETRY)

    def logs_subscribe(self) -> None:
        self._subscribe(LOGS)

    def _subscribe(self, api: str) -> None:
        extension_id = self._extension_id()
        body = self.read_body(SMALL_BODY_BYTES)
        self.environment.subscribe_telemetry(extension_id, api, body)
        self.send(200, b'"OK"', {"Content-Type": "application/json"})

    def _extension_id(self) -> str:
        extension_id = self.headers.get("Lambda-Extension-Identifier", "").strip()
        if not extension_id:
            raise Refused(
                403, "Extension.MissingHeader", "missing header Lambda-Extension-Identifier"
            )
        return extension_id

    def _function_error_type(self) -> str:
        error_type = self.headers.get("Lambda-Extension-Function-Error-Type", "").strip()
        if not error_type:
            raise Refused(
                400,
                "Extension.MissingHeader",
                "missing header Lambda-Extension-Function-Error-Type",
            )
        return error_type


def _parse_events(body: bytes) -> List[str]:
    try:
        document = json.loads(body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Refused(400, "InvalidRequestFormat", f"body is not JSON: {exc}") from None
    events = document.get("events", []) if isinstance(document, dict) else None
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise Refused(
            400, "InvalidRequestFormat", 'expected a body like {"events": ["INVOKE", "SHUTDOWN"]}'
        )
    return events


def _error_type(body: bytes) -> str:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "Runtime.Unknown"
    if isinstance(document, dict) and isinstance(document.get("errorType"), str):
        return str(document["errorType"])
    return "Runtime.Unknown"


def _error_body(body: bytes) -> bytes:
    """The error object as the invoker will see it (Lambda's shape, even from a sloppy runtime)."""
    try:
        document: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        document = None
    if isinstance(document, dict):
        return body
    fallback: Dict[str, Any] = {
        "errorMessage": body.decode("utf-8", "replace"),
        "errorType": "Runtime.Unknown",
    }
    return json.dumps(fallback).encode("utf-8")


_ID = r"([A-Za-z0-9._:-]+)"
ROUTES: List[Tuple[str, "re.Pattern[str]", str]] = [
    ("GET", re.compile(RUNTIME + "/invocation/next"), "runtime_next"),
    ("POST", re.compile(RUNTIME + "/invocation/" + _ID + "/response"), "runtime_response"),
    ("POST", re.compile(RUNTIME + "/invocation/" + _ID + "/error"), "runtime_error"),
    ("POST", re.compile(RUNTIME + "/init/error"), "runtime_init_error"),
    ("POST", re.compile(EXTENSION + "/register"), "extension_register"),
    ("GET", re.compile(EXTENSION + "/event/next"), "extension_next"),
    ("POST", re.compile(EXTENSION + "/init/error"), "extension_init_error"),
    ("POST", re.compile(EXTENSION + "/exit/error"), "extension_exit_error"),
    ("PUT", re.compile(r"/2022-07-01/telemetry/?"), "telemetry_subscribe"),
    ("PUT", re.compile(r"/2020-08-15/logs/?"), "logs_subscribe"),
]
