"""Invocations over AMQP (RabbitMQ), in the Lambda Runtime API Daemon's RPC pattern.

When ``AMQP_URI`` is set the sandbox also consumes invocation requests from
the queue named after the function (``AWS_LAMBDA_FUNCTION_NAME``):

* request: body = the event (JSON, at most 6 MB), ``reply_to`` = where the
  answer goes, ``correlation_id`` = the caller's key; optional headers
  ``X-Amz-Client-Context`` (base64 JSON) and ``X-Amzn-Trace-Id``, as the
  Daemon reads them.
* reply: published to the default exchange with routing key ``reply_to`` and
  the request's ``correlation_id``; body = what the function returned, or its
  error object (``{"errorType", "errorMessage", ...}``) as the Daemon sends
  it. The Daemon marks nothing else; this sandbox adds the Invoke API's
  headers to the reply: ``X-Amz-Function-Error: Unhandled`` when the function
  failed, ``X-Amz-Executed-Version`` and ``X-Amzn-RequestId``.

Nothing is lost: prefetch is 1 per execution environment, and a request is
acknowledged only after its reply has been confirmed by the broker
(publisher confirms). An environment that dies mid-invoke leaves the request
unacknowledged, and the broker redelivers it. A request the environment could
not run (it is shutting down) is requeued. A malformed request (no
``reply_to``, not JSON, over 6 MB, a bad client context) is rejected without
requeue; when it names a ``reply_to`` the caller gets an error reply
(``X-Amzn-ErrorType``) instead of waiting for its timeout.

The queue is declared durable (it must outlive a consumer for redelivery to
mean anything: the Daemon declares it auto-delete, which loses queued requests
when its last consumer goes). An existing queue declared otherwise is used as
it is.

A broker that is down at start or goes away later is retried with backoff,
logged on every attempt; the HTTP Invoke API is unaffected. pika is imported
only in the consumer thread: without it the sandbox serves HTTP and logs why
AMQP is off.

I/O lives in ``AmqpConsumer``; deciding what a message is (``parse_request``)
and what the reply carries (``reply_for``) are pure functions.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Set, Tuple, Union
from urllib.parse import quote, urlsplit

from lambda_sandbox.config import Config, ConfigError
from lambda_sandbox.eventlog import EventLog
from lambda_sandbox.invocations import (
    MAX_PAYLOAD_BYTES,
    Invocation,
    InvokeResult,
    new_request_id,
    service_error,
)
from lambda_sandbox.invoke_api import trace_id

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
    except (UnicodeDecodeError, ValueError) as exc:
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
            client_context = base64.b64decode(raw_context, validate=True).decode("utf-8")
            json.loads(client_context)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return reject(f"the {HEADER_CLIENT_CONTEXT} header is not base64-encoded JSON")
    return Request(reply_to, correlation_id, payload, client_context, trace or None)


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


def _describe(exc: BaseException) -> str:
    """``Type: message``; pika nests the cause in args (and its str() may be empty)."""
    text = str(exc)
    if not text and exc.args:
        text = "; ".join(repr(arg) if not isinstance(arg, str) else arg for arg in exc.args)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ------------------------------------------------------------------- I/O


def connection_parameters(pika: Any, settings: AmqpSettings, connection_name: str) -> Any:
    """pika.URLParameters for ``settings``, credentials overridden, failing fast.

    Retrying is the consumer's job (with backoff and logs), so pika makes one
    attempt with a short socket timeout.
    """
    params = pika.URLParameters(settings.uri)
    if settings.username is not None or settings.password is not None:
        current = params.credentials
        params.credentials = pika.PlainCredentials(
            settings.username if settings.username is not None else current.username,
            settings.password if settings.password is not None else current.password,
        )
    params.connection_attempts = 1
    params.retry_delay = 0
    params.socket_timeout = 5
    params.client_properties = {"connection_name": connection_name}
    return params


class AmqpConsumer:
    """Consumes invocation requests on one thread, which owns the pika connection.

    Each request is invoked on a worker thread (``invoke`` blocks for up to the
    function's timeout) while the connection thread keeps serving heartbeats;
    the worker hands the result back through ``add_callback_threadsafe`` and
    the connection thread publishes the reply, then acknowledges.
    """

    def __init__(
        self,
        settings: AmqpSettings,
        invoke: Callable[[Invocation], InvokeResult],
        event_log: EventLog,
        poll_s: float = 0.2,
        drain_s: float = 2.0,
    ) -> None:
        self.settings = settings
        self._invoke = invoke
        self._event_log = event_log
        self._poll_s = poll_s
        self._drain_s = drain_s
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._delays = backoff_delays()
        self._in_flight: Set[str] = set()  # request ids; at most `prefetch` of them
        self._paused = False
        self._consumer_tag = ""
        self._pika: Any = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="amqp-consumer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop consuming and close the connection; an unacknowledged request goes back."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # ------------------------------------------------- connection thread

    def _run(self) -> None:
        try:
            import pika
        except ImportError:
            reason = f"AMQP_URI is set but pika is not installed (pip install pika=={PIKA_PIN})"
            log.error("%s: AMQP invocation is off; the HTTP Invoke API keeps serving", reason)
            self._event_log.write("amqp.unavailable", reason=reason)
            return
        self._pika = pika
        if not log.isEnabledFor(logging.DEBUG):
            # pika narrates every connection step at INFO and every failure at
            # ERROR; the lines this module writes say what matters.
            logging.getLogger("pika").setLevel(logging.CRITICAL)
        while not self._stopping.is_set():
            try:
                self._serve()
            except Exception as exc:  # every failure of the broker or the link: retry
                if self._stopping.is_set():
                    break
                delay = next(self._delays)
                log.warning(
                    "AMQP broker %s: %s; retrying in %.1f s (the HTTP Invoke API keeps serving)",
                    self.settings.broker,
                    _describe(exc),
                    delay,
                )
                self._event_log.write(
                    "amqp.disconnect",
                    broker=self.settings.broker,
                    error=_describe(exc),
                    retry_in_s=delay,
                )
                self._stopping.wait(delay)
        self._event_log.write("amqp.stop", broker=self.settings.broker)
        log.info("AMQP consumer stopped")

    def _serve(self) -> None:
        """One connection's life: returns when stopping, raises when the link fails."""
        pika = self._pika
        name = f"lambda_sandbox {self.settings.queue} pid {os.getpid()}"
        connection = pika.BlockingConnection(connection_parameters(pika, self.settings, name))
        try:
            channel = self._open_channel(connection)
            channel.basic_qos(prefetch_count=self.settings.prefetch)
            self._consume(connection, channel)
            self._delays = backoff_delays()  # connected: the next failure starts afresh
            log.info(
                "AMQP: consuming invocations from queue %r on %s",
                self.settings.queue,
                self.settings.broker,
            )
            self._event_log.write(
                "amqp.connect",
                broker=self.settings.broker,
                queue=self.settings.queue,
                prefetch=self.settings.prefetch,
            )
            while not self._stopping.is_set():
                connection.process_data_events(time_limit=self._poll_s)
            # A reply on its way: let it out before closing, briefly.
            deadline = time.monotonic() + self._drain_s
            while self._in_flight and time.monotonic() < deadline:
                connection.process_data_events(time_limit=0.05)
        finally:
            self._in_flight.clear()
            if connection.is_open:
                try:
                    connection.close()
                except Exception as exc:  # closing a broken link is best effort
                    log.debug("AMQP: closing the connection: %s", _describe(exc))

    def _open_channel(self, connection: Any) -> Any:
        """A channel with publisher confirms, the queue declared (or found as it is)."""
        exceptions = self._pika.exceptions
        channel = connection.channel()
        channel.confirm_delivery()
        try:
            channel.queue_declare(queue=self.settings.queue, durable=True)
        except exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != 406:  # PRECONDITION_FAILED: declared otherwise
                raise
            log.warning(
                "AMQP: queue %r exists with other settings (%s); consuming from it as it is",
                self.settings.queue,
                exc.reply_text,
            )
            channel = connection.channel()
            channel.confirm_delivery()
            channel.queue_declare(queue=self.settings.queue, passive=True)
        return channel

    def _on_message(
        self, connection: Any, channel: Any, method: Any, properties: Any, body: bytes
    ) -> None:
        try:
            decision = parse_request(
                body, properties.reply_to, properties.correlation_id, properties.headers
            )
        except Exception as exc:  # one bad message must not take the consumer down
            decision = Rejection(
                f"the message could not be read: {_describe(exc)}",
                "InvalidRequestContentException",
                properties.reply_to,
                properties.correlation_id,
            )
        if isinstance(decision, Rejection):
            self._reject(channel, method, decision, len(body))
            return
        invocation = Invocation(
            request_id=new_request_id(),
            payload=decision.payload,
            client_context=decision.client_context,
            trace_id=decision.trace_id or trace_id(),
        )
        self._event_log.write(
            "amqp.invoke",
            request_id=invocation.request_id,
            correlation_id=decision.correlation_id,
            reply_to=decision.reply_to,
            redelivered=bool(method.redelivered),
            bytes=len(body),
        )
        self._in_flight.add(invocation.request_id)
        threading.Thread(
            target=self._invoke_then_hand_back,
            args=(connection, channel, method.delivery_tag, decision, invocation),
            name="amqp-invoke",
            daemon=True,
        ).start()

    def _reject(self, channel: Any, method: Any, rejection: Rejection, size: int) -> None:
        replied = False
        if rejection.reply_to:
            body, headers = rejection_reply(rejection)
            try:
                self._publish(channel, rejection.reply_to, rejection.correlation_id, body, headers)
                replied = True
            except self._pika.exceptions.NackError as exc:
                log.warning("AMQP: the broker refused the error reply: %s", _describe(exc))
        channel.basic_reject(delivery_tag=method.delivery_tag, requeue=False)
        log.warning(
            "AMQP: rejected a message (correlation_id %r, %d bytes): %s",
            rejection.correlation_id,
            size,
            rejection.reason,
        )
        self._event_log.write(
            "amqp.reject",
            reason=rejection.reason,
            correlation_id=rejection.correlation_id,
            reply_to=rejection.reply_to,
            redelivered=bool(method.redelivered),
            bytes=size,
            replied=replied,
        )

    def _publish(
        self,
        channel: Any,
        reply_to: str,
        correlation_id: Optional[str],
        body: bytes,
        headers: Dict[str, str],
    ) -> None:
        properties = self._pika.BasicProperties(
            correlation_id=correlation_id, content_type="application/json", headers=headers
        )
        # Confirmed: basic_publish returns once the broker has taken the reply.
        channel.basic_publish(exchange="", routing_key=reply_to, body=body, properties=properties)

    def _consume(self, connection: Any, channel: Any) -> None:
        self._paused = False
        self._consumer_tag = channel.basic_consume(
            queue=self.settings.queue,
            on_message_callback=functools.partial(self._on_message, connection),
            auto_ack=False,
        )

    def _resume(self, connection: Any, channel: Any) -> None:
        if self._paused and not self._stopping.is_set() and channel.is_open:
            log.info("AMQP: taking requests again")
            self._consume(connection, channel)

    def _finish(
        self,
        connection: Any,
        channel: Any,
        delivery_tag: int,
        request: Request,
        request_id: str,
        result: InvokeResult,
    ) -> None:
        """On the connection thread: reply then ack, or requeue."""
        self._in_flight.discard(request_id)
        if environment_did_not_run(result):
            channel.basic_nack(delivery_tag=delivery_tag, requeue=True)
            reason = result.body.decode("utf-8", "replace")
            log.warning("AMQP: requeued %s: the environment did not run it: %s", request_id, reason)
            self._event_log.write(
                "amqp.requeue",
                request_id=request_id,
                correlation_id=request.correlation_id,
                reason=reason,
            )
            if not self._paused:
                # Over capacity or shutting down: stop taking requests for a while
                # rather than receive the same one again at once.
                self._paused = True
                channel.basic_cancel(self._consumer_tag)
                connection.call_later(
                    RESUME_AFTER_S, functools.partial(self._resume, connection, channel)
                )
            return
        body, headers = reply_for(result, request_id)
        try:
            self._publish(channel, request.reply_to, request.correlation_id, body, headers)
        except self._pika.exceptions.NackError as exc:
            channel.basic_nack(delivery_tag=delivery_tag, requeue=True)
            log.warning("AMQP: the broker refused the reply to %s (%s); requeued", request_id, exc)
            self._event_log.write(
                "amqp.requeue",
                request_id=request_id,
                correlation_id=request.correlation_id,
                reason=f"the broker refused the reply: {_describe(exc)}",
            )
            return
        channel.basic_ack(delivery_tag=delivery_tag)
        self._event_log.write(
            "amqp.reply",
            request_id=request_id,
            correlation_id=request.correlation_id,
            reply_to=request.reply_to,
            function_error=headers.get(HEADER_FUNCTION_ERROR),
        )

    # ------------------------------------------------------ worker thread

    def _invoke_then_hand_back(
        self,
        connection: Any,
        channel: Any,
        delivery_tag: int,
        request: Request,
        invocation: Invocation,
    ) -> None:
        try:
            result = self._invoke(invocation)
        except Exception as exc:  # a sandbox bug must not strand the message
            log.exception("AMQP: invoking %s failed", invocation.request_id)
            result = service_error(500, "ServiceException", _describe(exc))
        finish = functools.partial(
            self._finish, connection, channel, delivery_tag, request, invocation.request_id, result
        )
        try:
            connection.add_callback_threadsafe(finish)
        except Exception as exc:  # the link went down during the invocation
            self._in_flight.discard(invocation.request_id)
            log.warning(
                "AMQP: %s finished but its connection is gone (%s); the broker redelivers it",
                invocation.request_id,
                _describe(exc),
            )
            self._event_log.write(
                "amqp.unacked",
                request_id=invocation.request_id,
                correlation_id=request.correlation_id,
                error=_describe(exc),
            )


def start_consumer(
    settings: Optional[AmqpSettings],
    invoke: Callable[[Invocation], InvokeResult],
    event_log: EventLog,
) -> Optional[AmqpConsumer]:
    """Start consuming when ``settings`` is given (AMQP_URI set); None otherwise."""
    if settings is None:
        return None
    consumer = AmqpConsumer(settings, invoke, event_log)
    consumer.start()
    return consumer
