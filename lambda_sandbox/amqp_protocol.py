"""AMQP invocations without I/O: settings from the environment, what a message
is (``parse_request``), what a reply carries (``reply_for``), retry delays.

``amqp.py`` holds the consumer that does the I/O; see its docstring for the
convention (the Lambda Runtime API Daemon's RPC pattern).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple, Union
from urllib.parse import quote, urlsplit

from lambda_sandbox.config import Config, ConfigError
from lambda_sandbox.header_values import client_context_header, trace_id_header
from lambda_sandbox.invocations import (
    MAX_PAYLOAD_BYTES,
    InvokeResult,
)

log = logging.getLogger("lambda_sandbox.amqp")

PIKA_PIN = "1.3.2"  # pure Python, CPython 3.7 to 3.13
HEADER_CLIENT_CONTEXT = "X-Amz-Client-Context"
HEADER_TRACE_ID = "X-Amzn-Trace-Id"
HEADER_FUNCTION_ERROR = "X-Amz-Function-Error"
HEADER_ERROR_TYPE = "X-Amzn-ErrorType"
HEADER_REQUEST_ID = "X-Amzn-RequestId"
DEFAULT_URI = "amqp://guest:guest@127.0.0.1:5672/%2F"
# After the sandbox could not run a request (over capacity, shutting down) the
# consumer pauses this long before taking requests again, instead of spinning
# on the same requeued message.
RESUME_AFTER_S = 1.0


class AmqpConfigError(ConfigError):
    """A bad AMQP_* value; the message names the variable."""


@dataclass(frozen=True)
class AmqpSettings:
    uri: str  # as configured; may carry credentials, never logged
    username: Optional[str]  # AMQP_USERNAME, overrides the URI's
    password: Optional[str]  # AMQP_PASSWORD, overrides the URI's
    queue: str
    prefetch: int = 1  # one unacknowledged request per execution environment

    @property
    def broker(self) -> str:
        """``host:port/vhost`` for logs: no credentials."""
        return describe_broker(self.uri)


def describe_broker(uri: str) -> str:
    parts = urlsplit(uri)
    default_port = 5671 if parts.scheme == "amqps" else 5672
    vhost = parts.path[1:] if parts.path.startswith("/") else parts.path
    return "{}://{}:{}/{}".format(
        parts.scheme, parts.hostname, parts.port or default_port, vhost or "%2F"
    )


def load_amqp_settings(env: Mapping[str, str], config: Config) -> Optional[AmqpSettings]:
    """The consumer's settings, or None when ``AMQP_URI`` is unset.

    The queue is the function's name; prefetch is MAX_CONCURRENCY, one request
    per execution environment.
    """
    uri = env.get("AMQP_URI", "").strip()
    if not uri:
        return None
    parts = urlsplit(uri)
    shown = describe_uri(uri)
    if parts.scheme not in ("amqp", "amqps"):
        raise AmqpConfigError(f"AMQP_URI={shown!r}: expected amqp://USER:PASS@HOST:PORT/VHOST")
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        raise AmqpConfigError(f"AMQP_URI={shown!r}: the port is not a number") from None
    if not parts.hostname:
        raise AmqpConfigError(f"AMQP_URI={shown!r}: expected a host name")
    return AmqpSettings(
        uri=uri,
        username=env.get("AMQP_USERNAME") or None,
        password=env.get("AMQP_PASSWORD") or None,
        queue=config.function_name,
        prefetch=config.max_concurrency,
    )


def describe_uri(uri: str) -> str:
    """The URI with its password replaced by ``***``."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = quote(parts.username or "", safe="")
    return parts._replace(netloc=f"{user}:***@{netloc}").geturl()


def backoff_delays(
    first_s: float = 0.5, factor: float = 2.0, cap_s: float = 8.0
) -> Iterator[float]:
    """Seconds to wait before each reconnection attempt: 0.5, 1, 2, 4, 8, 8, ..."""
    delay = first_s
    while True:
        yield delay
        delay = min(cap_s, delay * factor)


# ------------------------------------------------------------ pure protocol


@dataclass(frozen=True)
class Request:
    """A well-formed invocation request."""

    reply_to: str
    correlation_id: Optional[str]
    payload: bytes
    client_context: Optional[str]  # decoded JSON text, as the runtime gets it
    trace_id: Optional[str]


@dataclass(frozen=True)
class Rejection:
    """A message that is not an invocation request: rejected, never requeued."""

    reason: str
    error_type: str  # for the error reply, when there is a reply_to
    reply_to: Optional[str]
    correlation_id: Optional[str]


def _text(value: Any) -> Optional[str]:
    """A header value as text: pika gives AMQP long strings as str, or bytes if not UTF-8."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def parse_request(
    body: bytes,
    reply_to: Optional[str],
    correlation_id: Optional[str],
    headers: Optional[Mapping[str, Any]],
) -> Union[Request, Rejection]:
    """What one delivered message is: a Request, or a Rejection with the reason."""

    def reject(reason: str, error_type: str = "InvalidRequestContentException") -> Rejection:
        return Rejection(reason, error_type, reply_to or None, correlation_id)

    if not reply_to:
        return reject("no reply_to: there is nowhere to send the result")
    if len(body) > MAX_PAYLOAD_BYTES:
        return reject(
            f"the body is {len(body)} bytes, over the {MAX_PAYLOAD_BYTES} bytes allowed",
            "RequestTooLargeException",
        )
    payload = body if body.strip() else b"{}"
    try:
        json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return reject(f"the body is not JSON: {exc}")
    headers = headers or {}
    try:
        raw_context = _text(headers.get(HEADER_CLIENT_CONTEXT))
        trace = _text(headers.get(HEADER_TRACE_ID))
    except UnicodeDecodeError:
        return reject(f"the {HEADER_CLIENT_CONTEXT} or {HEADER_TRACE_ID} header is not UTF-8")
    client_context = None
    if raw_context:
        try:
            client_context = client_context_header(raw_context)
        except ValueError:
            return reject(f"the {HEADER_CLIENT_CONTEXT} header is not base64-encoded JSON")
    # A free-text property: passed on only if it can be a header as it is.
    return Request(reply_to, correlation_id, payload, client_context, trace_id_header(trace))


def reply_for(result: InvokeResult, request_id: str) -> Tuple[bytes, Dict[str, str]]:
    """The reply's body and headers for what the sandbox answered."""
    headers = dict(result.headers)
    headers.setdefault(HEADER_REQUEST_ID, request_id)
    return result.body, headers


def rejection_reply(rejection: Rejection) -> Tuple[bytes, Dict[str, str]]:
    """The error reply a malformed request gets when it named a reply_to."""
    body = json.dumps({"Type": "User", "message": rejection.reason}).encode("utf-8")
    return body, {HEADER_ERROR_TYPE: rejection.error_type}


def environment_did_not_run(result: InvokeResult) -> bool:
    """True when the service, not the function, answered (429 over capacity, 5xx
    shutting down): the request goes back to the queue."""
    return (result.status == 429 or result.status >= 500) and HEADER_ERROR_TYPE in result.headers


def describe_error(exc: BaseException) -> str:
    """``Type: message``; pika nests the cause in args (and its str() may be empty)."""
    text = str(exc)
    if not text and exc.args:
        text = "; ".join(repr(arg) if not isinstance(arg, str) else arg for arg in exc.args)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
