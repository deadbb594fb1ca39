"""The Runtime API and the Extensions API, on one port, as thin HTTP shells
around one execution environment's driver (which owns the rules).

A runtime's ``next`` and its response, on every warm invoke, are answered on
the HTTP loop's thread (``RuntimeRoutes``); every other request, and these
when unusual, by the threaded handler (``RuntimeApiHandler``) the loop hands
them to."""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from lambda_sandbox.http_common import BadBody, BodyTooLarge, Handler
from lambda_sandbox.http_connection import Connection, FastRoutes, Request
from lambda_sandbox.http_loop import Loop
from lambda_sandbox.http_request import Fields
from lambda_sandbox.invocations import MAX_PAYLOAD_BYTES, RuntimeDelivery
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
        return self.server.context  # type: ignore[no-any-return]

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
        self.send(status, error_answer(error_type, message))

    def _accepted(self) -> None:
        self.send_json(202, {"status": "OK"})

    # ------------------------------------------------------------ runtime

    def runtime_next(self) -> None:
        delivery = self.environment.runtime_next(self.client_gone)
        if delivery is None:
            self.close_connection = True
            self._error(500, *_RESET)
            return
        self.send(200, delivery.invocation.payload, next_headers(delivery))

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
            self._error(500, *_RESET)
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


def next_headers(delivery: RuntimeDelivery) -> Dict[str, str]:
    """The fields of ``next``'s answer: the invocation's id, deadline, ARN and trace."""
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
    return headers


def error_answer(error_type: str, message: str) -> bytes:
    """The Runtime API's error body."""
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode("utf-8")


_ACCEPTED = json.dumps({"status": "OK"}).encode("utf-8")
# What a next waiting when its environment is reset is answered (500).
_RESET = ("Sandbox.EnvironmentReset", "the execution environment was reset")


class RuntimeRoutes(FastRoutes):
    """What the loop answers itself: a runtime's ``next`` (answered once an
    invocation is delivered) and its response (the invoker is answered first),
    each as ``RuntimeApiHandler`` answers it. A ``next`` with a body, a
    response past the payload limit and every other route are handed off."""

    def __init__(self, environment: ExecutionEnvironment, loop: Loop) -> None:
        self.environment = environment
        self.loop = loop

    def body_limit(self, command: str, path: str, fields: Fields) -> Optional[int]:
        if command == "GET" and _NEXT_PATH.fullmatch(path):
            return 0
        if command == "POST" and _RESPONSE_PATH.fullmatch(path):
            return MAX_PAYLOAD_BYTES
        return None

    def serve(self, request: Request, exchange: Connection) -> None:
        if request.command == "GET":
            self._next(exchange)
            return
        match = _RESPONSE_PATH.fullmatch(request.path)
        assert match is not None  # body_limit took only these
        try:
            self.environment.runtime_response(match.group(1), request.body)
        except Refused as refused:
            _refuse(exchange, refused)
            return
        exchange.reply(202, _ACCEPTED)

    def _next(self, exchange: Connection) -> None:
        loop = self.loop

        def deliver(delivery: Optional[RuntimeDelivery]) -> None:
            # Under the mailbox's lock (and the environment's, when an invoke
            # delivers it): on the loop's thread the answer goes out at once, so
            # the runtime starts while the rest of the delivery is done.
            if loop.in_loop():
                _answer_next(exchange, delivery)
            else:
                loop.call_soon(lambda: _answer_next(exchange, delivery))

        try:
            give_up = self.environment.runtime_next_later(deliver)
        except Refused as refused:
            _refuse(exchange, refused)
            return
        if exchange.pending:  # not answered from the mailbox already
            exchange.on_gone = give_up


def _refuse(exchange: Connection, refused: Refused) -> None:
    exchange.reply(refused.status, error_answer(refused.error_type, refused.message))


def _answer_next(exchange: Connection, delivery: Optional[RuntimeDelivery]) -> None:
    if delivery is None:
        exchange.keep_alive = False
        exchange.reply(500, error_answer(*_RESET))
        return
    exchange.reply(200, delivery.invocation.payload, next_headers(delivery))


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
# The two routes the loop answers itself (RuntimeRoutes), and every route.
_NEXT_PATH = re.compile(RUNTIME + "/invocation/next")
_RESPONSE_PATH = re.compile(RUNTIME + "/invocation/" + _ID + "/response")
ROUTES: List[Tuple[str, "re.Pattern[str]", str]] = [
    ("GET", _NEXT_PATH, "runtime_next"),
    ("POST", _RESPONSE_PATH, "runtime_response"),
    ("POST", re.compile(RUNTIME + "/invocation/" + _ID + "/error"), "runtime_error"),
    ("POST", re.compile(RUNTIME + "/init/error"), "runtime_init_error"),
    ("POST", re.compile(EXTENSION + "/register"), "extension_register"),
    ("GET", re.compile(EXTENSION + "/event/next"), "extension_next"),
    ("POST", re.compile(EXTENSION + "/init/error"), "extension_init_error"),
    ("POST", re.compile(EXTENSION + "/exit/error"), "extension_exit_error"),
    ("PUT", re.compile(r"/2022-07-01/telemetry/?"), "telemetry_subscribe"),
    ("PUT", re.compile(r"/2020-08-15/logs/?"), "logs_subscribe"),
]
