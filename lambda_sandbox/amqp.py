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
and what the reply carries (``reply_for``) are pure functions, in amqp_protocol.py.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from typing import Any, Callable, Dict, Optional, Set

from lambda_sandbox.amqp_protocol import (
    DEFAULT_URI,
    HEADER_CLIENT_CONTEXT,
    HEADER_ERROR_TYPE,
    HEADER_FUNCTION_ERROR,
    HEADER_REQUEST_ID,
    HEADER_TRACE_ID,
    PIKA_PIN,
    RESUME_AFTER_S,
    AmqpConfigError,
    AmqpSettings,
    Rejection,
    Request,
    backoff_delays,
    describe_broker,
    describe_error,
    describe_uri,
    environment_did_not_run,
    load_amqp_settings,
    parse_request,
    rejection_reply,
    reply_for,
)
from lambda_sandbox.eventlog import EventLog, Kind
from lambda_sandbox.invocations import (
    Invocation,
    InvokeResult,
    new_request_id,
    new_trace_id,
    service_error,
)

log = logging.getLogger("lambda_sandbox.amqp")


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
            self._event_log.write(Kind.AMQP_UNAVAILABLE, reason=reason)
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
                    describe_error(exc),
                    delay,
                )
                self._event_log.write(
                    Kind.AMQP_DISCONNECT,
                    broker=self.settings.broker,
                    error=describe_error(exc),
                    retry_in_s=delay,
                )
                self._stopping.wait(delay)
        self._event_log.write(Kind.AMQP_STOP, broker=self.settings.broker)
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
                Kind.AMQP_CONNECT,
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
                    log.debug("AMQP: closing the connection: %s", describe_error(exc))

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
                f"the message could not be read: {describe_error(exc)}",
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
            trace_id=decision.trace_id or new_trace_id(),
        )
        self._event_log.write(
            Kind.AMQP_INVOKE,
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
                log.warning("AMQP: the broker refused the error reply: %s", describe_error(exc))
        channel.basic_reject(delivery_tag=method.delivery_tag, requeue=False)
        log.warning(
            "AMQP: rejected a message (correlation_id %r, %d bytes): %s",
            rejection.correlation_id,
            size,
            rejection.reason,
        )
        self._event_log.write(
            Kind.AMQP_REJECT,
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
                Kind.AMQP_REQUEUE,
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
                Kind.AMQP_REQUEUE,
                request_id=request_id,
                correlation_id=request.correlation_id,
                reason=f"the broker refused the reply: {describe_error(exc)}",
            )
            return
        channel.basic_ack(delivery_tag=delivery_tag)
        self._event_log.write(
            Kind.AMQP_REPLY,
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
            result = service_error(500, "ServiceException", describe_error(exc))
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
                describe_error(exc),
            )
            self._event_log.write(
                Kind.AMQP_UNACKED,
                request_id=invocation.request_id,
                correlation_id=request.correlation_id,
                error=describe_error(exc),
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


# The protocol's names are re-exported: callers write amqp.parse_request, etc.
__all__ = [
    "DEFAULT_URI",
    "HEADER_CLIENT_CONTEXT",
    "HEADER_ERROR_TYPE",
    "HEADER_FUNCTION_ERROR",
    "HEADER_REQUEST_ID",
    "HEADER_TRACE_ID",
    "PIKA_PIN",
    "RESUME_AFTER_S",
    "AmqpConfigError",
    "AmqpConsumer",
    "AmqpSettings",
    "Rejection",
    "Request",
    "backoff_delays",
    "connection_parameters",
    "describe_broker",
    "describe_error",
    "describe_uri",
    "environment_did_not_run",
    "load_amqp_settings",
    "parse_request",
    "rejection_reply",
    "reply_for",
    "start_consumer",
]
