"""A pure-Python Lambda runtime client, modelled on the python3.7 managed runtime.

Run as ``python /abs/path/legacy_runtime.py app.handler`` with the task root as
the working directory (or LAMBDA_TASK_ROOT set) and AWS_LAMBDA_RUNTIME_API set.

The point of it: ``GET /invocation/next`` is a blocking ``recv`` on the main
thread in Python code (requests -> urllib3 -> socket). When SIGTERM arrives the
system call fails with EINTR, the interpreter runs the Python-level signal
handler before retrying (PEP 475), and a plain ``signal.signal`` cleanup works.
awslambdaric instead waits in native code (aws-lambda-cpp/libcurl, retrying on
EINTR with the GIL released), where that handler never gets to run.

The pure parts (handler parsing, context, error payloads, marshalling) are
separate functions so that they can be tested without a Runtime API.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import time
import traceback
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple

import requests

RUNTIME_PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"

Handler = Callable[[Any, Any], Any]


class FaultError(Exception):
    """A failure the runtime reports with a ``Runtime.*`` error type."""

    def __init__(self, error_type: str, message: str, stack_trace: Optional[List[str]] = None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


# --- pure parts -------------------------------------------------------------


def parse_handler(handler: str) -> Tuple[str, str]:
    """``"pkg/mod.func"`` -> ``("pkg.mod", "func")``."""
    modname, sep, funcname = handler.rpartition(".")
    if not sep or not modname or not funcname:
        raise FaultError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)",
        )
    return modname.replace("/", "."), funcname


def load_handler(handler: str) -> Handler:
    """Import the handler's module (running the function's init) and return it."""
    modname, funcname = parse_handler(handler)
    if modname.split(".")[0] in sys.builtin_module_names:
        raise FaultError(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {modname} as a handler module",
        )
    try:
        module = importlib.import_module(modname)
    except ImportError as exc:
        raise FaultError(
            "Runtime.ImportModuleError",
            f"Unable to import module '{modname}': {exc}",
        ) from exc
    except SyntaxError as exc:
        raise FaultError(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{modname}': {exc}",
            [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}'],
        ) from exc
    function = getattr(module, funcname, None)
    if function is None:
        raise FaultError(
            "Runtime.HandlerNotFound",
            f"Handler '{funcname}' missing on module '{modname}'",
        )
    if not callable(function):
        raise FaultError(
            "Runtime.HandlerNotFound",
            f"Handler '{funcname}' on module '{modname}' is not callable",
        )
    return function  # type: ignore[no-any-return]


def error_payload(exc: BaseException) -> Dict[str, Any]:
    """The Runtime API error body for an exception, as awslambdaric builds it."""
    if isinstance(exc, FaultError):
        return {
            "errorMessage": exc.message,
            "errorType": exc.error_type,
            "stackTrace": list(exc.stack_trace),
        }
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_list(frames),
    }


def marshal(result: Any) -> bytes:
    try:
        return json.dumps(result).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise FaultError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from exc


class Invocation(NamedTuple):
    request_id: str
    deadline_ms: int
    invoked_function_arn: Optional[str]
    trace_id: Optional[str]
    client_context: Optional[Dict[str, Any]]
    cognito_identity: Optional[Dict[str, Any]]
    body: bytes


def _json_header(headers: Mapping[str, str], name: str) -> Optional[Dict[str, Any]]:
    raw = headers.get(name)
    if not raw:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None


def parse_invocation(headers: Mapping[str, str], body: bytes) -> Invocation:
    """An Invocation from the ``/invocation/next`` reply (headers are case-insensitive)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    request_id = lowered.get("lambda-runtime-aws-request-id")
    if not request_id:
        raise FaultError(
            "Runtime.InvalidResponse", "invocation/next reply has no Lambda-Runtime-Aws-Request-Id"
        )
    try:
        deadline_ms = int(lowered.get("lambda-runtime-deadline-ms", "0"))
    except ValueError:
        deadline_ms = 0
    return Invocation(
        request_id=request_id,
        deadline_ms=deadline_ms,
        invoked_function_arn=lowered.get("lambda-runtime-invoked-function-arn"),
        trace_id=lowered.get("lambda-runtime-trace-id"),
        client_context=_json_header(lowered, "lambda-runtime-client-context"),
        cognito_identity=_json_header(lowered, "lambda-runtime-cognito-identity"),
        body=body,
    )


class CognitoIdentity:
    def __init__(self, identity: Optional[Mapping[str, Any]]) -> None:
        identity = identity or {}
        self.cognito_identity_id = identity.get("cognitoIdentityId")
        self.cognito_identity_pool_id = identity.get("cognitoIdentityPoolId")


class Client:
    def __init__(self, client: Mapping[str, Any]) -> None:
        self.installation_id = client.get("installation_id")
        self.app_title = client.get("app_title")
        self.app_version_name = client.get("app_version_name")
        self.app_version_code = client.get("app_version_code")
        self.app_package_name = client.get("app_package_name")


class ClientContext:
    def __init__(self, context: Mapping[str, Any]) -> None:
        client = context.get("client")
        self.client = Client(client) if isinstance(client, dict) else None
        self.custom = context.get("custom")
        self.env = context.get("env")


class LambdaContext:
    """The ``context`` argument, with the attributes the managed runtime provides."""

    def __init__(
        self,
        invocation: Invocation,
        env: Mapping[str, str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.aws_request_id = invocation.request_id
        self.invoked_function_arn = invocation.invoked_function_arn
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = (
            ClientContext(invocation.client_context) if invocation.client_context else None
        )
        self.identity = CognitoIdentity(invocation.cognito_identity)
        self._deadline_ms = invocation.deadline_ms
        self._clock = clock

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(self._clock() * 1000), 0)


def format_error_log(payload: Mapping[str, Any]) -> str:
    """``[ERROR] ValueError: boom`` followed by the traceback, as the runtime logs it."""
    lines = ["[ERROR] {}: {}".format(payload.get("errorType"), payload.get("errorMessage"))]
    stack = payload.get("stackTrace") or []
    if stack:
        lines.append("Traceback (most recent call last):")
        lines.extend(str(frame).rstrip("\n") for frame in stack)
    return "\n".join(lines)


# --- I/O --------------------------------------------------------------------


class RuntimeClient:
    """The Runtime API over requests; every call blocks the calling thread."""

    def __init__(self, address: str, session: Optional[requests.Session] = None) -> None:
        self.base = f"http://{address}{RUNTIME_PREFIX}"
        self.session = session or requests.Session()

    def next(self) -> Invocation:
        # timeout=None: the reply comes when there is an invocation, however long.
        response = self.session.get(self.base + "/invocation/next", timeout=None)
        if response.status_code != 200:
            raise FaultError(
                "Runtime.NextFailed",
                f"invocation/next answered {response.status_code}: {response.text}",
            )
        return parse_invocation(response.headers, response.content)

    def post_response(self, request_id: str, body: bytes) -> None:
        self._post(
            f"/invocation/{request_id}/response",
            body,
            {"Content-Type": "application/json"},
        )

    def post_error(self, request_id: str, payload: Mapping[str, Any]) -> None:
        self._post_error(f"/invocation/{request_id}/error", payload)

    def post_init_error(self, payload: Mapping[str, Any]) -> None:
        self._post_error("/init/error", payload)

    def _post_error(self, path: str, payload: Mapping[str, Any]) -> None:
        headers = {
            "Content-Type": "application/json",
            ERROR_TYPE_HEADER: str(payload.get("errorType") or "Unhandled"),
        }
        self._post(path, json.dumps(payload).encode("utf-8"), headers)

    def _post(self, path: str, body: bytes, headers: Dict[str, str]) -> None:
        response = self.session.post(self.base + path, data=body, headers=headers, timeout=None)
        if response.status_code != 202:
            # Lambda reports e.g. 413 to the invoker itself; carry on with the next one.
            print(
                f"[legacy-runtime] POST {path} answered {response.status_code}: {response.text}",
                file=sys.stderr,
                flush=True,
            )


def handle(handler: Handler, invocation: Invocation, client: RuntimeClient) -> None:
    """Run one invocation and post its result or error."""
    if invocation.trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = invocation.trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    context = LambdaContext(invocation, os.environ)
    try:
        event = json.loads(invocation.body.decode("utf-8")) if invocation.body else {}
        result = handler(event, context)
        body = marshal(result)
    except Exception as exc:
        payload = error_payload(exc)
        print(format_error_log(payload), flush=True)
        client.post_error(invocation.request_id, payload)
        return
    client.post_response(invocation.request_id, body)


def _unbuffer_std_streams() -> None:
    # Like awslambdaric's Unbuffered wrapper: every write reaches the fd at once,
    # so nothing is lost when Lambda SIGKILLs the process.
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, io.TextIOWrapper):
            continue
        stream.flush()
        raw = io.FileIO(stream.fileno(), "w", closefd=False)
        setattr(
            sys,
            name,
            io.TextIOWrapper(
                raw,
                encoding=stream.encoding,
                errors=stream.errors,
                line_buffering=True,
                write_through=True,
            ),
        )


def run(handler_name: str, client: RuntimeClient) -> int:
    try:
        handler = load_handler(handler_name)
    except Exception as exc:  # user init code may raise anything
        payload = error_payload(exc)
        print(format_error_log(payload), flush=True)
        client.post_init_error(payload)
        return 1
    while True:
        invocation = client.next()  # blocks in Python code: signal handlers run here
        handle(handler, invocation, client)


def main(argv: List[str]) -> int:
    _unbuffer_std_streams()
    handler_name = argv[1] if len(argv) > 1 else os.environ.get("_HANDLER", "")
    if not handler_name:
        print("usage: legacy_runtime.py MODULE.FUNCTION (or set _HANDLER)", file=sys.stderr)
        return 2
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API", "")
    if not address:
        print("[legacy-runtime] AWS_LAMBDA_RUNTIME_API is not set", file=sys.stderr)
        return 2
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    # Running this file puts its own directory at sys.path[0]; the task root wins.
    sys.path.insert(0, task_root)
    return run(handler_name, RuntimeClient(address))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
